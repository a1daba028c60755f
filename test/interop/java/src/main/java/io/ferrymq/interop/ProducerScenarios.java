package io.ferrymq.interop;

import static io.ferrymq.interop.Kit.DATA_TAG;
import static io.ferrymq.interop.Kit.check;
import static io.ferrymq.interop.Kit.checkEquals;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.MessageQueueSelector;
import org.apache.rocketmq.client.producer.SendCallback;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.remoting.protocol.RemotingCommand;
import org.apache.rocketmq.remoting.protocol.SerializeType;

/** Producer-side scenarios; each reads back what it sent and checks every field it set. */
final class ProducerScenarios {
    private ProducerScenarios() {
    }

    static Message data(String topic, String body) {
        return new Message(topic, DATA_TAG, body.getBytes(StandardCharsets.UTF_8));
    }

    static String body(MessageExt msg) {
        return new String(msg.getBody(), StandardCharsets.UTF_8);
    }

    static MessageExt byBody(List<MessageExt> messages, String body) {
        for (MessageExt msg : messages) {
            if (body.equals(body(msg))) {
                return msg;
            }
        }
        throw new AssertionError("no message with body " + body + " among " + messages.size());
    }

    /** The send result's ids, queue and offset point at the stored record a consumer reads. */
    static void checkStoredAs(SendResult result, MessageExt stored, String what) {
        checkEquals(result.getMsgId(), stored.getMsgId(), what + " msgId (UNIQ_KEY)");
        checkEquals(result.getOffsetMsgId(), ((org.apache.rocketmq.common.message.MessageClientExt) stored).getOffsetMsgId(),
            what + " offsetMsgId");
        checkEquals(result.getMessageQueue().getQueueId(), stored.getQueueId(), what + " queueId");
        checkEquals(result.getQueueOffset(), stored.getQueueOffset(), what + " queueOffset");
    }

    static List<MessageExt> awaitMessages(Kit kit, String topic, List<MessageQueue> queues, int count) throws Exception {
        long deadline = System.currentTimeMillis() + 10_000;
        List<MessageExt> got = kit.readTopic(topic, queues);
        while (got.size() < count && System.currentTimeMillis() < deadline) {
            Thread.sleep(100);
            got = kit.readTopic(topic, queues);
        }
        checkEquals(count, got.size(), "messages stored in " + topic);
        return got;
    }

    static void sendModes(Kit kit) throws Exception {
        DefaultMQProducer producer = kit.producer();
        String topic = kit.name("T");
        List<MessageQueue> queues = kit.createTopic(producer, topic, 4);

        Map<String, SendResult> results = new HashMap<>();
        for (int i = 0; i < 10; i++) {
            SendResult r = producer.send(data(topic, "sync-" + i));
            checkEquals(SendStatus.SEND_OK, r.getSendStatus(), "sync send status");
            check(r.getMsgId() != null && r.getOffsetMsgId() != null, "sync send ids: " + r);
            results.put("sync-" + i, r);
        }
        CountDownLatch done = new CountDownLatch(10);
        Map<String, SendResult> asyncResults = new java.util.concurrent.ConcurrentHashMap<>();
        ConcurrentLinkedQueue<Throwable> asyncErrors = new ConcurrentLinkedQueue<>();
        for (int i = 0; i < 10; i++) {
            String b = "async-" + i;
            producer.send(data(topic, b), new SendCallback() {
                @Override
                public void onSuccess(SendResult r) {
                    asyncResults.put(b, r);
                    done.countDown();
                }

                @Override
                public void onException(Throwable e) {
                    asyncErrors.add(e);
                    done.countDown();
                }
            });
        }
        check(done.await(15, TimeUnit.SECONDS), "async sends did not complete");
        check(asyncErrors.isEmpty(), "async send errors: " + asyncErrors);
        results.putAll(asyncResults);
        for (int i = 0; i < 10; i++) {
            producer.sendOneway(data(topic, "oneway-" + i));
        }

        List<MessageExt> stored = awaitMessages(kit, topic, queues, 30);
        for (Map.Entry<String, SendResult> e : results.entrySet()) {
            checkEquals(SendStatus.SEND_OK, e.getValue().getSendStatus(), e.getKey() + " status");
            checkStoredAs(e.getValue(), byBody(stored, e.getKey()), e.getKey());
        }
        for (int i = 0; i < 10; i++) {
            byBody(stored, "oneway-" + i);
        }
        // Per queue, offsets are dense and increasing from 0 (offset 0 of one queue is the warm-up).
        for (MessageQueue mq : queues) {
            List<MessageExt> inQueue = kit.readQueue(mq);
            for (int i = 0; i < inQueue.size(); i++) {
                checkEquals((long) i, inQueue.get(i).getQueueOffset(), "queue offset in " + mq);
            }
        }
    }

    static void propertiesRoundTrip(Kit kit) throws Exception {
        DefaultMQProducer producer = kit.producer();
        String topic = kit.name("T");
        List<MessageQueue> queues = kit.createTopic(producer, topic, 4);

        byte[] binary = new byte[1024];
        for (int i = 0; i < binary.length; i++) {
            binary[i] = (byte) i;
        }
        Message msg = new Message(topic, "TagA", binary);
        msg.setKeys(Arrays.asList("key-one", "key-two"));
        msg.setFlag(7);
        msg.putUserProperty("color", "blue");
        msg.putUserProperty("unicode", "日本語 ✓ ünï");
        SendResult r1 = producer.send(msg);

        // Above compressMsgBodyOverHowmuch (4 KiB): the client deflates the body and sets sysFlag bit 0.
        StringBuilder big = new StringBuilder();
        while (big.length() < 64 * 1024) {
            big.append("compressible line ").append(big.length()).append('\n');
        }
        Message large = new Message(topic, "TagB", "single-key", big.toString().getBytes(StandardCharsets.UTF_8));
        SendResult r2 = producer.send(large);

        List<MessageExt> stored = awaitMessages(kit, topic, queues, 2);
        MessageExt got = stored.stream().filter(m -> "TagA".equals(m.getTags())).findFirst().orElseThrow();
        checkStoredAs(r1, got, "binary message");
        check(Arrays.equals(binary, got.getBody()), "binary body differs");
        checkEquals("key-one key-two", got.getKeys(), "keys");
        checkEquals(7, got.getFlag(), "flag");
        checkEquals("blue", got.getUserProperty("color"), "user property color");
        checkEquals("日本語 ✓ ünï", got.getUserProperty("unicode"), "user property unicode");
        checkEquals(topic, got.getTopic(), "topic");
        checkEquals(0, got.getReconsumeTimes(), "reconsumeTimes");
        check(got.getBornTimestamp() > 0 && got.getStoreTimestamp() > 0, "born/store timestamps");
        check(Math.abs(got.getStoreTimestamp() - System.currentTimeMillis()) < 60_000, "store timestamp is not now");
        check(got.getBornHost() != null && got.getStoreHost() != null, "born/store hosts");

        MessageExt gotLarge = stored.stream().filter(m -> "TagB".equals(m.getTags())).findFirst().orElseThrow();
        checkStoredAs(r2, gotLarge, "large message");
        checkEquals(big.toString(), body(gotLarge), "large (compressed on the wire) body");
        checkEquals("single-key", gotLarge.getKeys(), "keys of the large message");
        kit.note("stored sysFlag of the compressed message: " + gotLarge.getSysFlag());
    }

    static void batchSend(Kit kit) throws Exception {
        DefaultMQProducer producer = kit.producer();
        String topic = kit.name("T");
        kit.createTopic(producer, topic, 4);

        List<Message> batch = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            Message m = new Message(topic, DATA_TAG, "b-" + i, ("batch-" + i).getBytes(StandardCharsets.UTF_8));
            m.putUserProperty("index", String.valueOf(i));
            batch.add(m);
        }
        SendResult r = producer.send(batch);
        checkEquals(SendStatus.SEND_OK, r.getSendStatus(), "batch send status");
        String[] msgIds = r.getMsgId().split(",");
        String[] offsetIds = r.getOffsetMsgId().split(",");
        checkEquals(16, msgIds.length, "msgIds in the batch result");
        checkEquals(16, offsetIds.length, "offsetMsgIds in the batch result");

        List<MessageExt> inQueue = new ArrayList<>();
        long deadline = System.currentTimeMillis() + 10_000;
        while (inQueue.size() < 16 && System.currentTimeMillis() < deadline) {
            inQueue = kit.readQueue(r.getMessageQueue());
            inQueue.removeIf(m -> !DATA_TAG.equals(m.getTags()));
        }
        checkEquals(16, inQueue.size(), "batch messages in " + r.getMessageQueue());
        for (int i = 0; i < 16; i++) {
            MessageExt m = inQueue.get(i);
            checkEquals("batch-" + i, body(m), "batch order");
            checkEquals(r.getQueueOffset() + i, m.getQueueOffset(), "batch queue offset " + i);
            checkEquals(msgIds[i], m.getMsgId(), "batch msgId " + i);
            checkEquals(offsetIds[i], ((org.apache.rocketmq.common.message.MessageClientExt) m).getOffsetMsgId(),
                "batch offsetMsgId " + i);
            checkEquals("b-" + i, m.getKeys(), "batch keys " + i);
            checkEquals(String.valueOf(i), m.getUserProperty("index"), "batch property " + i);
        }
    }

    static final MessageQueueSelector BY_KEY =
        (mqs, msg, key) -> mqs.get(Math.floorMod(key.hashCode(), mqs.size()));

    static void selectorByKey(Kit kit) throws Exception {
        DefaultMQProducer producer = kit.producer();
        String topic = kit.name("T");
        List<MessageQueue> queues = kit.createTopic(producer, topic, 4);
        String[] keys = {"alpha", "bravo", "charlie", "delta", "echo"};
        Map<String, Integer> expectedQueue = new HashMap<>();
        for (int seq = 0; seq < 8; seq++) {
            for (String key : keys) {
                Message m = new Message(topic, DATA_TAG, key, (key + ":" + seq).getBytes(StandardCharsets.UTF_8));
                SendResult r = producer.send(m, BY_KEY, key);
                checkEquals(SendStatus.SEND_OK, r.getSendStatus(), "selector send status");
                expectedQueue.putIfAbsent(key, r.getMessageQueue().getQueueId());
                checkEquals(expectedQueue.get(key), r.getMessageQueue().getQueueId(), "queue of key " + key);
            }
        }
        awaitMessages(kit, topic, queues, 40);
        for (MessageQueue mq : queues) {
            Map<String, Integer> nextSeq = new HashMap<>();
            for (MessageExt m : kit.readQueue(mq)) {
                if (!DATA_TAG.equals(m.getTags())) {
                    continue;
                }
                String[] parts = body(m).split(":");
                checkEquals(expectedQueue.get(parts[0]), mq.getQueueId(), "queue holding key " + parts[0]);
                int expected = nextSeq.getOrDefault(parts[0], 0);
                checkEquals(expected, Integer.parseInt(parts[1]), "order of key " + parts[0]);
                nextSeq.put(parts[0], expected + 1);
            }
        }
    }

    static void viewAndQuery(Kit kit) throws Exception {
        DefaultMQProducer producer = kit.producer();
        String topic = kit.name("T");
        kit.createTopic(producer, topic, 4);
        String key = "order-" + kit.suffix;
        SendResult r = producer.send(new Message(topic, DATA_TAG, key, "find me".getBytes(StandardCharsets.UTF_8)));

        MessageExt viewed = producer.viewMessage(r.getOffsetMsgId());
        checkEquals("find me", body(viewed), "viewMessage(offsetMsgId) body");
        checkEquals(topic, viewed.getTopic(), "viewMessage(offsetMsgId) topic");
        checkEquals(key, viewed.getKeys(), "viewMessage(offsetMsgId) keys");

        // By the client-side unique id (UNIQ_KEY): a QUERY_MESSAGE (12) on the broker's key index.
        MessageExt byUniqKey = retry("viewMessage(topic, msgId)", () -> producer.viewMessage(topic, r.getMsgId()));
        checkEquals("find me", body(byUniqKey), "viewMessage(topic, msgId) body");

        List<MessageExt> found = retry("queryMessage by key", () -> {
            List<MessageExt> list = producer.queryMessage(topic, key, 32, 0, Long.MAX_VALUE).getMessageList();
            return list.isEmpty() ? null : list;
        });
        checkEquals(1, found.size(), "messages found by key");
        checkEquals("find me", body(found.get(0)), "queryMessage body");
        checkEquals(r.getMsgId(), found.get(0).getMsgId(), "queryMessage msgId");
    }

    interface Attempt<T> {
        T get() throws Exception;
    }

    /** The Apache broker builds its key index asynchronously: retry for up to 10 s before failing. */
    static <T> T retry(String what, Attempt<T> attempt) throws Exception {
        long deadline = System.currentTimeMillis() + 10_000;
        for (;;) {
            try {
                T value = attempt.get();
                if (value != null) {
                    return value;
                }
                if (System.currentTimeMillis() > deadline) {
                    throw new AssertionError(what + ": nothing found");
                }
            } catch (Exception e) {
                if (System.currentTimeMillis() > deadline) {
                    throw e;
                }
            }
            Thread.sleep(200);
        }
    }

    /**
     * With vipChannelEnabled (the client's default), sends go to broker port - 2. Passes either way
     * and records which: "served" or "not served" (then users must set vipChannelEnabled=false).
     */
    static void vipChannel(Kit kit) throws Exception {
        DefaultMQProducer plain = kit.producer(false);
        String topic = kit.name("T");
        kit.createTopic(plain, topic, 4);
        DefaultMQProducer vip = kit.producer(true);
        check(vip.isVipChannelEnabled(), "vip channel should be on");
        try {
            SendResult r = vip.send(data(topic, "via-vip"));
            checkEquals(SendStatus.SEND_OK, r.getSendStatus(), "send over the VIP channel");
            kit.note("vipChannel=served (a send with vipChannelEnabled=true succeeded)");
        } catch (Exception e) {
            kit.note("vipChannel=not-served (" + String.valueOf(e).replace('\n', ' ') + ")");
            SendResult r = plain.send(data(topic, "via-main-port"));
            checkEquals(SendStatus.SEND_OK, r.getSendStatus(), "send with vipChannelEnabled=false");
        }
    }

    /**
     * Run in a JVM started with --serialize ROCKETMQ: every header on the wire is in RocketMQ's
     * binary layout. Sends, batch sends, route lookups, heartbeats, pulls and offsets.
     */
    static void serializeRocketmq(Kit kit) throws Exception {
        checkEquals(SerializeType.ROCKETMQ, RemotingCommand.getSerializeTypeConfigInThisServer(),
            "serialize type (run this scenario with --serialize ROCKETMQ)");
        DefaultMQProducer producer = kit.producer();
        String topic = kit.name("T");
        List<MessageQueue> queues = kit.createTopic(producer, topic, 4);
        Map<String, SendResult> results = new HashMap<>();
        for (int i = 0; i < 5; i++) {
            Message m = data(topic, "bin-" + i);
            m.setKeys("k" + i);
            m.putUserProperty("p", "v" + i);
            results.put("bin-" + i, producer.send(m));
        }
        List<Message> batch = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            batch.add(data(topic, "bin-batch-" + i));
        }
        checkEquals(SendStatus.SEND_OK, producer.send(batch).getSendStatus(), "binary batch send");

        List<MessageExt> stored = awaitMessages(kit, topic, queues, 9);
        for (Map.Entry<String, SendResult> e : results.entrySet()) {
            MessageExt m = byBody(stored, e.getKey());
            checkStoredAs(e.getValue(), m, e.getKey());
            checkEquals("v" + e.getKey().substring(4), m.getUserProperty("p"), "property over binary headers");
        }

        ConcurrentLinkedQueue<String> consumed = new ConcurrentLinkedQueue<>();
        DefaultMQPushConsumer consumer = kit.pushConsumer(kit.name("G"));
        consumer.subscribe(topic, DATA_TAG);
        consumer.registerMessageListener((org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently)
            (msgs, ctx) -> {
                msgs.forEach(m -> consumed.add(body(m)));
                return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
            });
        consumer.start();
        Kit.await("9 messages consumed over binary headers", 20_000, () -> consumed.size() >= 9,
            () -> consumed.size() + " consumed");
        checkEquals(9, consumed.size(), "consumed over binary headers");
    }
}
