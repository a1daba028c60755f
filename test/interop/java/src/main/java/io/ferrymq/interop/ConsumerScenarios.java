package io.ferrymq.interop;

import static io.ferrymq.interop.Kit.DATA_TAG;
import static io.ferrymq.interop.Kit.check;
import static io.ferrymq.interop.Kit.checkEquals;
import static io.ferrymq.interop.ProducerScenarios.BY_KEY;
import static io.ferrymq.interop.ProducerScenarios.body;
import static io.ferrymq.interop.ProducerScenarios.data;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.stream.Collectors;
import org.apache.rocketmq.client.consumer.DefaultLitePullConsumer;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.ConsumeOrderlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.consumer.listener.MessageListenerOrderly;
import org.apache.rocketmq.client.impl.MQClientManager;
import org.apache.rocketmq.client.impl.consumer.ProcessQueue;
import org.apache.rocketmq.client.impl.factory.MQClientInstance;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.common.MixAll;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.common.protocol.body.LockBatchRequestBody;
import org.apache.rocketmq.common.protocol.heartbeat.MessageModel;

/** Consumer-side scenarios: push (clustering, broadcasting, orderly with queue locks) and lite pull. */
final class ConsumerScenarios {
    private ConsumerScenarios() {
    }

    /** The queues of `topic` this push consumer currently owns (its live process queues). */
    static Set<MessageQueue> owned(DefaultMQPushConsumer consumer, String topic) {
        Set<MessageQueue> out = new HashSet<>();
        for (Map.Entry<MessageQueue, ProcessQueue> e
            : consumer.getDefaultMQPushConsumerImpl().getRebalanceImpl().getProcessQueueTable().entrySet()) {
            if (e.getKey().getTopic().equals(topic) && !e.getValue().isDropped()) {
                out.add(e.getKey());
            }
        }
        return out;
    }

    static MessageListenerConcurrently recordInto(Map<String, List<String>> byConsumer, String who) {
        byConsumer.put(who, Collections.synchronizedList(new ArrayList<>()));
        return (msgs, ctx) -> {
            for (MessageExt m : msgs) {
                byConsumer.get(who).add(m.getMsgId() + "@" + m.getQueueId());
            }
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        };
    }

    static int total(Map<String, List<String>> byConsumer) {
        return byConsumer.values().stream().mapToInt(List::size).sum();
    }

    /** Starts members "a" and "b" of `group` on `topic`, each recording what it receives into `received`. */
    static List<DefaultMQPushConsumer> startPair(Kit kit, String group, String topic, MessageModel model,
            Map<String, List<String>> received) throws Exception {
        DefaultMQPushConsumer a = kit.pushConsumer(group);
        DefaultMQPushConsumer b = kit.pushConsumer(group);
        for (DefaultMQPushConsumer c : List.of(a, b)) {
            c.setMessageModel(model);
            c.subscribe(topic, DATA_TAG);
            c.registerMessageListener(recordInto(received, c == a ? "a" : "b"));
            c.start();
        }
        return List.of(a, b);
    }

    static void pushClustering(Kit kit) throws Exception {
        DefaultMQProducer producer = kit.producer();
        String topic = kit.name("T");
        kit.createTopic(producer, topic, 8);
        String group = kit.name("G");
        Map<String, List<String>> received = new ConcurrentHashMap<>();
        List<DefaultMQPushConsumer> pair = startPair(kit, group, topic, MessageModel.CLUSTERING, received);
        DefaultMQPushConsumer a = pair.get(0);
        DefaultMQPushConsumer b = pair.get(1);
        long start = System.currentTimeMillis();
        Kit.await("average allocation of 8 queues to 2 consumers (4 + 4)", 30_000, () -> {
            Set<MessageQueue> qa = owned(a, topic);
            Set<MessageQueue> qb = owned(b, topic);
            Set<MessageQueue> union = new HashSet<>(qa);
            union.addAll(qb);
            return qa.size() == 4 && qb.size() == 4 && union.size() == 8;
        }, () -> "a owns " + owned(a, topic).size() + ", b owns " + owned(b, topic).size());
        kit.note("balanced 4+4 in " + (System.currentTimeMillis() - start) + " ms");
        Set<Integer> queuesOfA = owned(a, topic).stream().map(MessageQueue::getQueueId).collect(Collectors.toSet());

        for (int i = 0; i < 80; i++) {
            producer.send(data(topic, "c-" + i));
        }
        Kit.await("80 messages consumed", 20_000, () -> total(received) >= 80,
            () -> "a got " + received.get("a").size() + ", b got " + received.get("b").size());
        Thread.sleep(1000); // room for a duplicate to show up
        List<String> all = new ArrayList<>(received.get("a"));
        all.addAll(received.get("b"));
        checkEquals(80, all.size(), "deliveries (80 messages, each once)");
        checkEquals(80, new HashSet<>(all).size(), "distinct messages");
        // Round-robin sends put 10 messages in each queue, so 40 per owner while the split holds;
        // a rebalance glitch on a loaded machine may move a queue, which is not what this checks.
        check(!received.get("a").isEmpty() && !received.get("b").isEmpty(), "both consumers handled messages");
        long aFromOwnQueues = received.get("a").stream()
            .filter(d -> queuesOfA.contains(Integer.parseInt(d.substring(d.indexOf('@') + 1)))).count();
        kit.note("handled: a " + received.get("a").size() + " (" + aFromOwnQueues + " from its 4 queues), b " + received.get("b").size());
    }

    /**
     * With the client's default 20 s rebalance interval, a group rebalances within seconds of a
     * member joining or leaving only if the broker sends NOTIFY_CONSUMER_IDS_CHANGED (40).
     */
    static void rebalanceOnNotify(Kit kit) throws Exception {
        long interval = Long.parseLong(System.getProperty("rocketmq.client.rebalance.waitInterval", "20000"));
        check(interval >= 20_000, "run with -Drocketmq.client.rebalance.waitInterval=20000 (is " + interval + ")");
        DefaultMQProducer producer = kit.producer();
        String topic = kit.name("T");
        kit.createTopic(producer, topic, 8);
        String group = kit.name("G");
        Map<String, List<String>> received = new ConcurrentHashMap<>();
        DefaultMQPushConsumer a = kit.pushConsumer(group);
        a.subscribe(topic, DATA_TAG);
        a.registerMessageListener(recordInto(received, "a"));
        a.start();
        Kit.await("the first consumer owns all 8 queues", 10_000, () -> owned(a, topic).size() == 8,
            () -> "a owns " + owned(a, topic).size());

        DefaultMQPushConsumer b = kit.pushConsumer(group);
        b.subscribe(topic, DATA_TAG);
        b.registerMessageListener(recordInto(received, "b"));
        long joined = System.currentTimeMillis();
        b.start();
        Kit.await("4 + 4 after the second consumer joined", 10_000,
            () -> owned(a, topic).size() == 4 && owned(b, topic).size() == 4,
            () -> "a owns " + owned(a, topic).size() + ", b owns " + owned(b, topic).size());
        long joinMs = System.currentTimeMillis() - joined;

        long left = System.currentTimeMillis();
        b.shutdown(); // unregisters (35): the broker tells the rest of the group
        Kit.await("the first consumer owns all 8 again after the second left", 10_000, () -> owned(a, topic).size() == 8,
            () -> "a owns " + owned(a, topic).size());
        kit.note("rebalanced " + joinMs + " ms after a join and " + (System.currentTimeMillis() - left) + " ms after a leave");
    }

    static void pushBroadcasting(Kit kit) throws Exception {
        DefaultMQProducer producer = kit.producer();
        String topic = kit.name("T");
        kit.createTopic(producer, topic, 4);
        String group = kit.name("G");
        Map<String, List<String>> received = new ConcurrentHashMap<>();
        List<DefaultMQPushConsumer> pair = startPair(kit, group, topic, MessageModel.BROADCASTING, received);
        DefaultMQPushConsumer a = pair.get(0);
        DefaultMQPushConsumer b = pair.get(1);
        Kit.await("both broadcasting consumers own all 4 queues", 20_000,
            () -> owned(a, topic).size() == 4 && owned(b, topic).size() == 4,
            () -> "a owns " + owned(a, topic).size() + ", b owns " + owned(b, topic).size());
        for (int i = 0; i < 20; i++) {
            producer.send(data(topic, "bc-" + i));
        }
        Kit.await("each consumer got 20 messages", 20_000,
            () -> received.get("a").size() >= 20 && received.get("b").size() >= 20,
            () -> "a got " + received.get("a").size() + ", b got " + received.get("b").size());
        Thread.sleep(500);
        for (String who : List.of("a", "b")) {
            checkEquals(20, received.get(who).size(), "deliveries to " + who);
            checkEquals(20, new HashSet<>(received.get(who)).size(), "distinct messages to " + who);
        }
        checkEquals(new HashSet<>(received.get("a")), new HashSet<>(received.get("b")), "same messages to both");
    }

    static void orderlyAndLocks(Kit kit) throws Exception {
        DefaultMQProducer producer = kit.producer();
        String topic = kit.name("T");
        List<MessageQueue> queues = kit.createTopic(producer, topic, 4);
        String group = kit.name("G");
        Map<String, List<Integer>> seqByKey = new ConcurrentHashMap<>();
        Set<String> threads = ConcurrentHashMap.newKeySet();
        ConcurrentLinkedQueue<String> violations = new ConcurrentLinkedQueue<>();
        DefaultMQPushConsumer a = kit.pushConsumer(group);
        a.setConsumeThreadMax(4);
        a.setConsumeThreadMin(4);
        a.subscribe(topic, DATA_TAG);
        a.registerMessageListener((MessageListenerOrderly) (msgs, ctx) -> {
            threads.add(Thread.currentThread().getName());
            for (MessageExt m : msgs) {
                String[] parts = body(m).split(":");
                List<Integer> seen = seqByKey.computeIfAbsent(parts[0], k -> Collections.synchronizedList(new ArrayList<>()));
                int seq = Integer.parseInt(parts[1]);
                if (seq != seen.size()) {
                    violations.add(parts[0] + " got " + seq + " after " + seen);
                }
                seen.add(seq);
            }
            try {
                Thread.sleep(2); // let the consume threads interleave
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return ConsumeOrderlyStatus.SUCCESS;
        });
        a.start();
        Kit.await("the orderly consumer holds broker locks on all 4 queues", 20_000, () -> {
            Map<MessageQueue, ProcessQueue> table = a.getDefaultMQPushConsumerImpl().getRebalanceImpl().getProcessQueueTable();
            return queues.stream().allMatch(mq -> table.containsKey(mq) && table.get(mq).isLocked());
        }, () -> {
            Map<MessageQueue, ProcessQueue> table = a.getDefaultMQPushConsumerImpl().getRebalanceImpl().getProcessQueueTable();
            return queues.stream().map(mq -> mq.getQueueId() + ":" + (table.containsKey(mq) ? (table.get(mq).isLocked() ? "locked" : "unlocked") : "unassigned"))
                .collect(Collectors.joining(", "));
        });

        String[] keys = {"k0", "k1", "k2", "k3", "k4", "k5"};
        for (int seq = 0; seq < 20; seq++) {
            for (String key : keys) {
                producer.send(new Message(topic, DATA_TAG, key, (key + ":" + seq).getBytes(StandardCharsets.UTF_8)), BY_KEY, key);
            }
        }
        Kit.await("120 messages consumed in order", 30_000,
            () -> seqByKey.values().stream().mapToInt(List::size).sum() >= 120,
            () -> seqByKey.values().stream().mapToInt(List::size).sum() + " consumed");
        check(violations.isEmpty(), "per-key order violated: " + violations);
        for (String key : keys) {
            checkEquals(20, seqByKey.get(key).size(), "messages of key " + key);
        }
        kit.note("orderly consume threads used: " + threads.size());

        // The broker-side locks (LOCK_BATCH_MQ 41 / UNLOCK_BATCH_MQ 42), seen from another client.
        MQClientInstance factoryA = a.getDefaultMQPushConsumerImpl().getmQClientFactory();
        String brokerAddr = factoryA.findBrokerAddressInSubscribe(queues.get(0).getBrokerName(), MixAll.MASTER_ID, true)
            .getBrokerAddr();
        MQClientInstance other = MQClientManager.getInstance().getOrCreateMQClientInstance(kit.clientConfig());
        other.start();
        kit.onClose(other::shutdown);
        Set<MessageQueue> all = new HashSet<>(queues);

        Set<MessageQueue> takenByOther = other.getMQClientAPIImpl().lockBatchMQ(brokerAddr, lockBody(group, other.getClientId(), all), 3000);
        checkEquals(Set.of(), takenByOther, "queues another client could lock while the orderly consumer holds them");
        Set<MessageQueue> renewed = factoryA.getMQClientAPIImpl().lockBatchMQ(brokerAddr, lockBody(group, factoryA.getClientId(), all), 3000);
        checkEquals(all, renewed, "queues the owner re-locks (renewal)");

        a.shutdown(); // unlocks its queues (42) on the way out
        Set<MessageQueue> afterRelease = other.getMQClientAPIImpl().lockBatchMQ(brokerAddr, lockBody(group, other.getClientId(), all), 3000);
        checkEquals(all, afterRelease, "queues another client locks after the owner shut down");
    }

    static LockBatchRequestBody lockBody(String group, String clientId, Set<MessageQueue> mqs) {
        LockBatchRequestBody body = new LockBatchRequestBody();
        body.setConsumerGroup(group);
        body.setClientId(clientId);
        body.setMqSet(new HashSet<>(mqs));
        return body;
    }

    static void litePullAssignSeek(Kit kit) throws Exception {
        DefaultMQProducer producer = kit.producer();
        String topic = kit.name("T");
        kit.createTopic(producer, topic, 4);
        for (int i = 0; i < 20; i++) {
            producer.send(data(topic, "lp-" + i));
        }
        DefaultLitePullConsumer consumer = kit.litePullConsumer(kit.name("G"));
        consumer.setAutoCommit(false);
        consumer.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        // Commits here are explicit. A periodic persist racing commitSync() could send an older
        // offset after the new one; committed() then reads it back into the client for good.
        consumer.setPersistConsumerOffsetInterval(60_000);
        consumer.start();
        List<MessageQueue> queues = new ArrayList<>(consumer.fetchMessageQueues(topic));
        checkEquals(4, queues.size(), "queues from fetchMessageQueues");
        // From the first offset by configuration, not by seek(): a seek right after assign() races
        // the pulls assign() started, and the client then hands out some messages twice.
        consumer.assign(queues);
        Map<String, MessageExt> got = new HashMap<>();
        long phase = System.currentTimeMillis();
        long deadline = System.currentTimeMillis() + 15_000;
        while (got.size() < 21 && System.currentTimeMillis() < deadline) {
            for (MessageExt m : consumer.poll(500)) {
                check(got.put(m.getMsgId(), m) == null, "duplicate from poll: " + body(m));
            }
        }
        checkEquals(21, got.size(), "messages polled from the first offset (20 + warm-up)");
        Map<Integer, Long> maxOffset = new HashMap<>();
        for (MessageExt m : got.values()) {
            maxOffset.merge(m.getQueueId(), m.getQueueOffset(), Math::max);
        }

        long pollMs = System.currentTimeMillis() - phase;
        phase = System.currentTimeMillis();
        consumer.commitSync();
        for (MessageQueue mq : queues) {
            long expected = maxOffset.getOrDefault(mq.getQueueId(), -1L) + 1;
            long[] seen = {Long.MIN_VALUE};
            Kit.await("committed offset " + expected + " of " + mq, 10_000, () -> {
                try {
                    Long c = consumer.committed(mq);
                    seen[0] = c == null ? Long.MIN_VALUE : c;
                } catch (Exception e) {
                    return false;
                }
                return seen[0] == expected;
            }, () -> "committed " + seen[0]);
        }

        long commitMs = System.currentTimeMillis() - phase;
        phase = System.currentTimeMillis();
        // Rewind one queue to offset 2: exactly its messages from 2 on come back, in order.
        MessageQueue rewound = queues.stream().filter(mq -> maxOffset.getOrDefault(mq.getQueueId(), -1L) >= 3)
            .findFirst().orElseThrow();
        consumer.seek(rewound, 2);
        List<MessageExt> again = new ArrayList<>();
        long expectedCount = maxOffset.get(rewound.getQueueId()) - 1;
        deadline = System.currentTimeMillis() + 10_000;
        while (again.size() < expectedCount && System.currentTimeMillis() < deadline) {
            again.addAll(consumer.poll(500));
        }
        checkEquals(expectedCount, (long) again.size(), "messages after seek(" + rewound + ", 2)");
        for (int i = 0; i < again.size(); i++) {
            checkEquals(rewound.getQueueId(), again.get(i).getQueueId(), "queue of a re-read message");
            checkEquals(2L + i, again.get(i).getQueueOffset(), "offset of a re-read message");
        }
        kit.note("poll " + pollMs + " ms, commit " + commitMs + " ms, seek and re-poll " + (System.currentTimeMillis() - phase) + " ms");
    }
}
