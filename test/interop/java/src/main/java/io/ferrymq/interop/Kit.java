package io.ferrymq.interop;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.UUID;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.apache.rocketmq.client.ClientConfig;
import org.apache.rocketmq.client.consumer.DefaultLitePullConsumer;
import org.apache.rocketmq.client.consumer.DefaultMQPullConsumer;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.PullResult;
import org.apache.rocketmq.client.consumer.PullStatus;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.client.producer.TransactionListener;
import org.apache.rocketmq.client.producer.TransactionMQProducer;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;

/**
 * Per-scenario toolbox: fresh names, clients with short timers, a deterministic reader, waits and
 * assertions. Every client it makes is shut down by close().
 */
@SuppressWarnings("deprecation") // DefaultMQPullConsumer: the plainest way to read a queue back
final class Kit implements AutoCloseable {
    static final String WARMUP_TAG = "warmup";
    static final String DATA_TAG = "data";

    final String namesrv;
    final String scenario;
    final String suffix = UUID.randomUUID().toString().replace("-", "").substring(0, 10);
    private final List<Runnable> closers = new ArrayList<>();
    private DefaultMQPullConsumer reader;
    private int clientCount;

    Kit(String namesrv, String scenario) {
        this.namesrv = namesrv;
        this.scenario = scenario;
    }

    /** A fresh topic or group name, e.g. "push_clustering_T_1a2b3c4d5e". */
    String name(String kind) {
        return scenario.replace('-', '_') + "_" + kind + "_" + suffix;
    }

    void note(String text) {
        System.out.println("NOTE " + scenario + " " + text);
    }

    private void configure(ClientConfig config) {
        config.setNamesrvAddr(namesrv);
        // Each client gets its own MQClientInstance (and connection set): clients never share state.
        config.setInstanceName(scenario + "-" + suffix + "-" + (++clientCount));
        config.setPollNameServerInterval(1000);
        config.setHeartbeatBrokerInterval(1000);
        config.setPersistConsumerOffsetInterval(1000);
        // Route, heartbeat and offset calls: 3 s by default, too tight for a cold JVM on a loaded CI box.
        config.setMqClientApiTimeout(10_000);
        // The VIP channel (broker port - 2) is exercised only by the vip-channel scenario.
        config.setVipChannelEnabled(false);
    }

    DefaultMQProducer producer() throws Exception {
        return producer(false);
    }

    DefaultMQProducer producer(boolean vipChannel) throws Exception {
        DefaultMQProducer producer = new DefaultMQProducer(name("PG") + "_" + (clientCount + 1));
        configure(producer);
        producer.setVipChannelEnabled(vipChannel);
        producer.setSendMsgTimeout(15_000); // generous: a loaded CI box can stall a cold JVM for seconds
        producer.setRetryTimesWhenSendFailed(0);
        producer.setRetryTimesWhenSendAsyncFailed(0);
        producer.start();
        closers.add(producer::shutdown);
        return producer;
    }

    TransactionMQProducer transactionProducer(TransactionListener listener) throws Exception {
        TransactionMQProducer producer = new TransactionMQProducer(name("TPG") + "_" + (clientCount + 1));
        configure(producer);
        producer.setSendMsgTimeout(15_000);
        producer.setTransactionListener(listener);
        producer.start();
        closers.add(producer::shutdown);
        return producer;
    }

    DefaultMQPushConsumer pushConsumer(String group) {
        DefaultMQPushConsumer consumer = new DefaultMQPushConsumer(group);
        configure(consumer);
        consumer.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        consumer.setConsumeTimeout(1);
        consumer.setPullInterval(0);
        consumer.setAwaitTerminationMillisWhenShutdown(3000);
        closers.add(consumer::shutdown);
        return consumer;
    }

    DefaultLitePullConsumer litePullConsumer(String group) {
        DefaultLitePullConsumer consumer = new DefaultLitePullConsumer(group);
        configure(consumer);
        consumer.setPollTimeoutMillis(1000);
        closers.add(consumer::shutdown);
        return consumer;
    }

    ClientConfig clientConfig() {
        ClientConfig config = new ClientConfig();
        configure(config);
        return config;
    }

    void onClose(Runnable closer) {
        closers.add(closer);
    }

    /**
     * Creates the topic the way applications do (auto-creation on the first send, via TBW102) with
     * one "warmup"-tagged message, then waits until the name server routes it with `queues` queues.
     */
    List<MessageQueue> createTopic(DefaultMQProducer producer, String topic, int queues) throws Exception {
        producer.setDefaultTopicQueueNums(queues);
        SendResult result = producer.send(new Message(topic, WARMUP_TAG, "warmup".getBytes()));
        check(result.getSendStatus() == SendStatus.SEND_OK, "warm-up send status " + result.getSendStatus());
        return awaitRoute(topic, queues);
    }

    List<MessageQueue> awaitRoute(String topic, int queues) throws Exception {
        List<MessageQueue> found = new ArrayList<>();
        Exception last = null;
        long deadline = System.currentTimeMillis() + 15_000;
        while (System.currentTimeMillis() < deadline) {
            try {
                found = new ArrayList<>(reader().fetchSubscribeMessageQueues(topic));
                if (found.size() == queues) {
                    found.sort(Comparator.comparingInt(MessageQueue::getQueueId));
                    return found;
                }
            } catch (Exception e) {
                last = e;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("route of " + topic + ": expected " + queues + " queues, got " + found.size()
            + (last == null ? "" : " (last error: " + last + ")"));
    }

    DefaultMQPullConsumer reader() throws Exception {
        if (reader == null) {
            reader = new DefaultMQPullConsumer(name("READER"));
            configure(reader);
            reader.setConsumerPullTimeoutMillis(15_000);
            reader.start();
            closers.add(reader::shutdown);
        }
        return reader;
    }

    /** Every message of one queue from offset 0, in queue order. */
    List<MessageExt> readQueue(MessageQueue mq) throws Exception {
        List<MessageExt> out = new ArrayList<>();
        long offset = 0;
        for (;;) {
            PullResult result = reader().pull(mq, "*", offset, 32);
            PullStatus status = result.getPullStatus();
            if (status == PullStatus.FOUND) {
                out.addAll(result.getMsgFoundList());
            } else if (status != PullStatus.NO_MATCHED_MSG) {
                return out; // NO_NEW_MSG: the end; OFFSET_ILLEGAL cannot happen from 0 upward
            }
            check(result.getNextBeginOffset() > offset, status + " did not advance past offset " + offset + " of " + mq);
            offset = result.getNextBeginOffset();
        }
    }

    /** Every message of the topic but the warm-up one (all queues, queue order within each). */
    List<MessageExt> readTopic(String topic, Collection<MessageQueue> queues) throws Exception {
        List<MessageExt> out = new ArrayList<>();
        for (MessageQueue mq : queues) {
            for (MessageExt msg : readQueue(mq)) {
                if (!WARMUP_TAG.equals(msg.getTags())) {
                    out.add(msg);
                }
            }
        }
        return out;
    }

    /** Polls until `condition` holds; fails with `what` after timeoutMs. */
    static void await(String what, long timeoutMs, BooleanSupplier condition) throws InterruptedException {
        await(what, timeoutMs, condition, () -> "");
    }

    /** Same, and the failure message ends with `state` (what was seen instead). */
    static void await(String what, long timeoutMs, BooleanSupplier condition, Supplier<String> state)
        throws InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (!condition.getAsBoolean()) {
            if (System.currentTimeMillis() > deadline) {
                String seen = state.get();
                throw new AssertionError("timed out after " + timeoutMs + " ms waiting for " + what
                    + (seen.isEmpty() ? "" : "; seen: " + seen));
            }
            Thread.sleep(50);
        }
    }

    interface Probe<T> {
        T get() throws Exception;
    }

    /** Polls until `probe` returns non-null (which is returned); fails with the last error after timeoutMs. */
    static <T> T awaitValue(String what, long timeoutMs, Probe<T> probe) throws InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutMs;
        Exception last = null;
        for (;;) {
            try {
                T value = probe.get();
                if (value != null) {
                    return value;
                }
            } catch (Exception e) {
                last = e;
            }
            if (System.currentTimeMillis() > deadline) {
                throw new AssertionError("timed out after " + timeoutMs + " ms waiting for " + what
                    + (last == null ? "" : " (last error: " + last + ")"));
            }
            Thread.sleep(100);
        }
    }

    static void check(boolean condition, String message) {
        if (!condition) {
            throw new AssertionError(message);
        }
    }

    static void checkEquals(Object expected, Object actual, String what) {
        if (!Objects.equals(expected, actual)) {
            throw new AssertionError(what + ": expected <" + expected + "> but was <" + actual + ">");
        }
    }

    @Override
    public void close() {
        // Reverse order: consumers stop before the producers they depend on.
        for (int i = closers.size() - 1; i >= 0; i--) {
            try {
                closers.get(i).run();
            } catch (RuntimeException e) {
                System.err.println("close: " + e);
            }
        }
        closers.clear();
    }
}
