package io.ferrymq.interop;

import static io.ferrymq.interop.Kit.DATA_TAG;
import static io.ferrymq.interop.Kit.check;
import static io.ferrymq.interop.Kit.checkEquals;
import static io.ferrymq.interop.ProducerScenarios.body;
import static io.ferrymq.interop.ProducerScenarios.data;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.MessageSelector;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.ConsumeOrderlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.consumer.listener.MessageListenerOrderly;
import org.apache.rocketmq.client.exception.MQClientException;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.LocalTransactionState;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.TransactionListener;
import org.apache.rocketmq.client.producer.TransactionMQProducer;
import org.apache.rocketmq.client.producer.TransactionSendResult;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;

/** What happens to a message after the send: retries, the DLQ, delays, filters, resumption, transactions. */
final class DeliveryScenarios {
    private DeliveryScenarios() {
    }

    /** A started push consumer that records every delivery of `topic` (tag expression `tags`). */
    static DefaultMQPushConsumer recordingConsumer(Kit kit, String group, String topic, String tags,
                                                   ConcurrentLinkedQueue<MessageExt> into) throws Exception {
        DefaultMQPushConsumer consumer = kit.pushConsumer(group);
        consumer.subscribe(topic, tags);
        consumer.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            into.addAll(msgs);
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        consumer.start();
        return consumer;
    }

    /**
     * RECONSUME_LATER (delay level 1 = 1 s): the message comes back from %RETRY%<group> with the
     * original topic and msgId and a growing reconsumeTimes; past maxReconsumeTimes it lands in
     * %DLQ%<group>.
     */
    static void retryAndDlq(Kit kit) throws Exception {
        DefaultMQProducer producer = kit.producer();
        String topic = kit.name("T");
        kit.createTopic(producer, topic, 4);
        String group = kit.name("G");
        List<MessageExt> attempts = Collections.synchronizedList(new ArrayList<>());
        DefaultMQPushConsumer consumer = kit.pushConsumer(group);
        consumer.setMaxReconsumeTimes(2);
        consumer.subscribe(topic, DATA_TAG);
        consumer.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            attempts.addAll(msgs);
            ctx.setDelayLevelWhenNextConsume(1);
            return ConsumeConcurrentlyStatus.RECONSUME_LATER;
        });
        consumer.start();
        SendResult sent = producer.send(data(topic, "fails-always"));

        Kit.await("3 deliveries (first + 2 retries)", 30_000, () -> attempts.size() >= 3, () -> attempts.size() + " deliveries");
        for (int i = 0; i < 3; i++) {
            MessageExt m = attempts.get(i);
            checkEquals("fails-always", body(m), "body of delivery " + i);
            checkEquals(topic, m.getTopic(), "topic of delivery " + i + " (restored from RETRY_TOPIC)");
            checkEquals(sent.getMsgId(), m.getMsgId(), "msgId of delivery " + i);
            checkEquals(i, m.getReconsumeTimes(), "reconsumeTimes of delivery " + i);
        }
        String dlq = "%DLQ%" + group;
        List<MessageQueue> dlqQueues = kit.awaitRoute(dlq, 1);
        List<MessageExt> dead = Kit.awaitValue("the message in " + dlq, 15_000, () -> {
            List<MessageExt> found = kit.readQueue(dlqQueues.get(0));
            return found.isEmpty() ? null : found;
        });
        checkEquals(1, dead.size(), "messages in " + dlq);
        checkEquals("fails-always", body(dead.get(0)), "body in the DLQ");
        checkEquals(sent.getMsgId(), dead.get(0).getMsgId(), "msgId in the DLQ");
        Thread.sleep(1500);
        checkEquals(3, attempts.size(), "deliveries (none after the DLQ)");
        kit.note("DLQ record: reconsumeTimes=" + dead.get(0).getReconsumeTimes() + " RETRY_TOPIC=" + dead.get(0).getProperty("RETRY_TOPIC"));
    }

    /**
     * An orderly listener that keeps failing: the client retries locally (reconsumeTimes 0, 1, 2),
     * then hands the message to the broker (a send to %RETRY%<group> with RECONSUME_TIME =
     * MAX_RECONSUME_TIMES = 2, bound for %DLQ%<group>) and the queue moves on, in order. Where the
     * broker parks that send is the probe send-to-retry-topic-past-max (Apache: 1 min in
     * SCHEDULE_TOPIC_XXXX first, so this scenario does not wait for the DLQ).
     */
    static void orderlyFailureMovesOn(Kit kit) throws Exception {
        DefaultMQProducer producer = kit.producer();
        String topic = kit.name("T");
        List<MessageQueue> queues = kit.createTopic(producer, topic, 4);
        List<String> seen = Collections.synchronizedList(new ArrayList<>());
        DefaultMQPushConsumer consumer = kit.pushConsumer(kit.name("G"));
        consumer.setMaxReconsumeTimes(2);
        consumer.setSuspendCurrentQueueTimeMillis(100);
        consumer.subscribe(topic, DATA_TAG);
        consumer.registerMessageListener((MessageListenerOrderly) (msgs, ctx) -> {
            for (MessageExt m : msgs) {
                seen.add(body(m) + "#" + m.getReconsumeTimes());
            }
            return "poison".equals(body(msgs.get(0)))
                ? ConsumeOrderlyStatus.SUSPEND_CURRENT_QUEUE_A_MOMENT : ConsumeOrderlyStatus.SUCCESS;
        });
        consumer.start();
        for (String b : new String[] {"before", "poison", "after"}) {
            producer.send(data(topic, b), (mqs, msg, arg) -> mqs.get(1), null);
        }
        Kit.await("the message after the poison one", 30_000, () -> seen.contains("after#0"), () -> seen.toString());
        Thread.sleep(1500); // the poison message must not come back (it is on its way to the DLQ)
        checkEquals(List.of("before#0", "poison#0", "poison#1", "poison#2", "after#0"), new ArrayList<>(seen),
            "deliveries in " + queues.get(1) + " (body#reconsumeTimes)");
    }

    /** setDelayTimeLevel(1): delivered about 1 s later, to the topic and queue it was sent to. */
    static void delayLevel(Kit kit) throws Exception {
        DefaultMQProducer producer = kit.producer();
        String topic = kit.name("T");
        kit.createTopic(producer, topic, 4);
        ConcurrentLinkedQueue<MessageExt> got = new ConcurrentLinkedQueue<>();
        Map<String, Long> receivedAt = new ConcurrentHashMap<>();
        DefaultMQPushConsumer consumer = kit.pushConsumer(kit.name("G"));
        consumer.subscribe(topic, DATA_TAG);
        consumer.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            msgs.forEach(m -> receivedAt.put(m.getMsgId(), System.currentTimeMillis()));
            got.addAll(msgs);
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        consumer.start();
        Kit.await("the consumer owns the topic's queues", 20_000, () -> ConsumerScenarios.owned(consumer, topic).size() == 4);
        Message m = data(topic, "later");
        m.setDelayTimeLevel(1);
        long sentAt = System.currentTimeMillis();
        SendResult sent = producer.send(m);
        Kit.await("the delayed message", 15_000, () -> !got.isEmpty());
        MessageExt delivered = got.peek();
        long waited = receivedAt.get(delivered.getMsgId()) - sentAt;
        checkEquals("later", body(delivered), "body");
        checkEquals(topic, delivered.getTopic(), "topic");
        checkEquals(sent.getMsgId(), delivered.getMsgId(), "msgId");
        check(waited >= 900, "delivered after " + waited + " ms, before delay level 1 (1 s)");
        check(waited < 10_000, "delivered after " + waited + " ms");
        kit.note("delay level 1 delivered after " + waited + " ms; send result queue " + sent.getMessageQueue().getQueueId()
            + ", delivered to queue " + delivered.getQueueId());
    }

    /** Broker-side and client-side tag filtering: `TagA || TagB` gets A and B, never C or untagged. */
    static void tagFilter(Kit kit) throws Exception {
        DefaultMQProducer producer = kit.producer();
        String topic = kit.name("T");
        kit.createTopic(producer, topic, 4);
        ConcurrentLinkedQueue<MessageExt> got = new ConcurrentLinkedQueue<>();
        recordingConsumer(kit, kit.name("G"), topic, "TagA || TagB", got);
        for (String tag : new String[] {"TagA", "TagB", "TagC", null}) {
            for (int i = 0; i < 3; i++) {
                producer.send(new Message(topic, tag, (tag + "-" + i).getBytes(StandardCharsets.UTF_8)));
            }
        }
        Kit.await("6 messages tagged TagA or TagB", 20_000, () -> got.size() >= 6, () -> got.size() + " received");
        Thread.sleep(1000);
        Set<String> tags = new HashSet<>();
        got.forEach(m -> tags.add(m.getTags()));
        checkEquals(6, got.size(), "messages received");
        checkEquals(Set.of("TagA", "TagB"), tags, "tags received");
    }

    /** Offsets committed by one consumer are where the next member of the group resumes. */
    static void resumeAfterRestart(Kit kit) throws Exception {
        DefaultMQProducer producer = kit.producer();
        String topic = kit.name("T");
        kit.createTopic(producer, topic, 4);
        String group = kit.name("G");
        ConcurrentLinkedQueue<MessageExt> first = new ConcurrentLinkedQueue<>();
        DefaultMQPushConsumer before = recordingConsumer(kit, group, topic, DATA_TAG, first);
        for (int i = 0; i < 10; i++) {
            producer.send(data(topic, "before-" + i));
        }
        Kit.await("10 messages before the restart", 20_000, () -> first.size() >= 10, () -> first.size() + " received");
        before.shutdown(); // persists its offsets (UPDATE_CONSUMER_OFFSET) and unregisters
        for (int i = 0; i < 5; i++) {
            producer.send(data(topic, "after-" + i));
        }
        ConcurrentLinkedQueue<MessageExt> second = new ConcurrentLinkedQueue<>();
        recordingConsumer(kit, group, topic, DATA_TAG, second);
        Kit.await("5 messages after the restart", 20_000, () -> second.size() >= 5, () -> second.size() + " received");
        Thread.sleep(1000);
        Set<String> bodies = new HashSet<>();
        second.forEach(m -> bodies.add(body(m)));
        checkEquals(Set.of("after-0", "after-1", "after-2", "after-3", "after-4"), bodies, "messages after the restart");
        checkEquals(5, second.size(), "deliveries after the restart (no redelivery of committed ones)");
    }

    /**
     * TransactionMQProducer: a committed half message is delivered, a rolled-back one never is.
     * (Half messages, END_TRANSACTION 37.)
     */
    static void transaction(Kit kit) throws Exception {
        DefaultMQProducer plain = kit.producer();
        String topic = kit.name("T");
        kit.createTopic(plain, topic, 4);
        ConcurrentLinkedQueue<MessageExt> got = new ConcurrentLinkedQueue<>();
        recordingConsumer(kit, kit.name("G"), topic, DATA_TAG, got);
        TransactionMQProducer producer = kit.transactionProducer(new TransactionListener() {
            @Override
            public LocalTransactionState executeLocalTransaction(Message msg, Object arg) {
                return "commit".equals(arg) ? LocalTransactionState.COMMIT_MESSAGE : LocalTransactionState.ROLLBACK_MESSAGE;
            }

            @Override
            public LocalTransactionState checkLocalTransaction(MessageExt msg) {
                return LocalTransactionState.ROLLBACK_MESSAGE;
            }
        });
        TransactionSendResult rolledBack = producer.sendMessageInTransaction(data(topic, "rolled-back"), "rollback");
        TransactionSendResult committed = producer.sendMessageInTransaction(data(topic, "committed"), "commit");
        checkEquals(LocalTransactionState.ROLLBACK_MESSAGE, rolledBack.getLocalTransactionState(), "local state of the rolled-back one");
        checkEquals(LocalTransactionState.COMMIT_MESSAGE, committed.getLocalTransactionState(), "local state of the committed one");
        Kit.await("the committed message", 20_000, () -> !got.isEmpty());
        Thread.sleep(1500);
        List<String> bodies = new ArrayList<>();
        got.forEach(m -> bodies.add(body(m)));
        checkEquals(List.of("committed"), bodies, "delivered transactional messages");
        checkEquals(committed.getMsgId(), got.peek().getMsgId(), "msgId of the committed message");
    }

    /** A SQL92 subscription on a broker without property filtering fails at start(), not later. */
    static void sqlFilterRejected(Kit kit) throws Exception {
        DefaultMQProducer producer = kit.producer();
        String topic = kit.name("T");
        kit.createTopic(producer, topic, 4);
        DefaultMQPushConsumer consumer = kit.pushConsumer(kit.name("G"));
        consumer.subscribe(topic, MessageSelector.bySql("a > 1"));
        consumer.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> ConsumeConcurrentlyStatus.CONSUME_SUCCESS);
        try {
            consumer.start();
        } catch (MQClientException e) {
            kit.note("start() refused: " + String.valueOf(e.getErrorMessage()).split("\n")[0]);
            return;
        }
        throw new AssertionError("start() accepted a SQL92 subscription");
    }
}
