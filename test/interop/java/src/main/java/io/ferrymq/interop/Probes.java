package io.ferrymq.interop;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.rocketmq.common.admin.ConsumeStats;
import org.apache.rocketmq.common.admin.TopicStatsTable;
import org.apache.rocketmq.common.protocol.body.ConsumerConnection;
import org.apache.rocketmq.common.protocol.body.KVTable;
import org.apache.rocketmq.common.protocol.body.TopicConfigSerializeWrapper;
import org.apache.rocketmq.common.protocol.body.UnlockBatchRequestBody;
import org.apache.rocketmq.common.protocol.header.ConsumerSendMsgBackRequestHeader;
import org.apache.rocketmq.common.protocol.header.CreateTopicRequestHeader;
import org.apache.rocketmq.common.protocol.header.DeleteTopicRequestHeader;
import org.apache.rocketmq.common.protocol.header.GetConsumeStatsRequestHeader;
import org.apache.rocketmq.common.protocol.header.GetConsumerConnectionListRequestHeader;
import org.apache.rocketmq.common.protocol.header.GetTopicStatsInfoRequestHeader;
import org.apache.rocketmq.common.protocol.header.UnregisterClientRequestHeader;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.impl.MQClientManager;
import org.apache.rocketmq.client.impl.factory.MQClientInstance;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageBatch;
import org.apache.rocketmq.common.message.MessageDecoder;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.common.protocol.RequestCode;
import org.apache.rocketmq.common.filter.FilterAPI;
import org.apache.rocketmq.common.protocol.body.CheckClientRequestBody;
import org.apache.rocketmq.common.protocol.body.ClusterInfo;
import org.apache.rocketmq.common.protocol.body.LockBatchRequestBody;
import org.apache.rocketmq.common.protocol.body.LockBatchResponseBody;
import org.apache.rocketmq.common.protocol.body.TopicList;
import org.apache.rocketmq.common.protocol.header.GetConsumerListByGroupRequestHeader;
import org.apache.rocketmq.common.protocol.header.GetConsumerListByGroupResponseBody;
import org.apache.rocketmq.common.protocol.header.GetEarliestMsgStoretimeRequestHeader;
import org.apache.rocketmq.common.protocol.header.GetMaxOffsetRequestHeader;
import org.apache.rocketmq.common.protocol.header.GetMinOffsetRequestHeader;
import org.apache.rocketmq.common.protocol.header.PullMessageRequestHeader;
import org.apache.rocketmq.common.protocol.header.QueryConsumerOffsetRequestHeader;
import org.apache.rocketmq.common.protocol.header.QueryMessageRequestHeader;
import org.apache.rocketmq.common.protocol.header.SearchOffsetRequestHeader;
import org.apache.rocketmq.common.protocol.header.SendMessageRequestHeader;
import org.apache.rocketmq.common.protocol.header.SendMessageRequestHeaderV2;
import org.apache.rocketmq.common.protocol.header.UpdateConsumerOffsetRequestHeader;
import org.apache.rocketmq.common.protocol.header.ViewMessageRequestHeader;
import org.apache.rocketmq.common.protocol.header.namesrv.GetRouteInfoRequestHeader;
import org.apache.rocketmq.common.protocol.route.QueueData;
import org.apache.rocketmq.common.protocol.route.TopicRouteData;
import org.apache.rocketmq.common.sysflag.MessageSysFlag;
import org.apache.rocketmq.remoting.CommandCustomHeader;
import org.apache.rocketmq.remoting.RemotingClient;
import org.apache.rocketmq.remoting.protocol.RemotingCommand;

/**
 * Raw request/response probes with the Java client's own request classes, for comparing brokers
 * answer by answer (codes, header fields, body shapes) on edge cases the scenarios do not reach.
 *
 *   java io.ferrymq.interop.Probes <namesrvAddr>
 *
 * Output: `PROBE <name> code=<n> [k=v ...]` (deterministic across brokers: no ids, ports or
 * times) and `REMARK <name> <remark>` (free text, for the record).
 */
@SuppressWarnings("deprecation")
public final class Probes {
    private final Kit kit;
    private final RemotingClient remoting;
    private final String namesrv;
    private String brokerAddr;

    /** The runtime-info keys mqadmin clusterList (with and without -m) reads (rocketmq-tools 4.9.8). */
    static final List<String> CLUSTER_LIST_KEYS = List.of("brokerVersionDesc", "commitLogDiskRatio", "earliestMessageTimeStamp",
        "getTransferedTps", "putTps", "pageCacheLockTimeMills", "msgGetTotalTodayMorning", "msgGetTotalTodayNow",
        "msgGetTotalYesterdayMorning", "msgPutTotalTodayMorning", "msgPutTotalTodayNow", "msgPutTotalYesterdayMorning",
        "pullThreadPoolQueueHeadWaitTimeMills", "pullThreadPoolQueueSize", "sendThreadPoolQueueHeadWaitTimeMills",
        "sendThreadPoolQueueSize");

    private Probes(Kit kit, MQClientInstance client) {
        this.kit = kit;
        this.remoting = client.getMQClientAPIImpl().getRemotingClient();
        this.namesrv = kit.namesrv;
    }

    public static void main(String[] args) throws Exception {
        System.setProperty("rocketmq.client.rebalance.waitInterval", "1000");
        int status = 0;
        try (Kit kit = new Kit(args[0], "probe")) {
            MQClientInstance client = MQClientManager.getInstance().getOrCreateMQClientInstance(kit.clientConfig());
            client.start();
            kit.onClose(client::shutdown);
            new Probes(kit, client).run();
        } catch (Throwable e) {
            e.printStackTrace();
            status = 1;
        }
        System.out.flush();
        System.exit(status);
    }

    private RemotingCommand call(String addr, int code, CommandCustomHeader header, byte[] body) throws Exception {
        RemotingCommand request = RemotingCommand.createRequestCommand(code, header);
        request.setBody(body);
        return remoting.invokeSync(addr, request, 5000);
    }

    /** Prints the code, the listed header fields ("*" = the sorted set of field names) and extras. */
    private RemotingCommand report(String name, RemotingCommand response, List<String> fields, String... extras) {
        StringBuilder line = new StringBuilder("PROBE ").append(name).append(" code=").append(response.getCode());
        Map<String, String> ext = response.getExtFields() == null ? Map.of() : response.getExtFields();
        for (String field : fields) {
            if (field.equals("*")) {
                line.append(" fields=").append(String.join(",", new TreeSet<>(ext.keySet())));
            } else {
                line.append(' ').append(field).append('=').append(ext.get(field));
            }
        }
        for (String extra : extras) {
            line.append(' ').append(extra);
        }
        System.out.println(line);
        if (response.getRemark() != null && !response.getRemark().isEmpty()) {
            System.out.println("REMARK " + name + " " + response.getRemark().replace('\n', ' '));
        }
        return response;
    }

    private void probe(String name, Probe probe) {
        try {
            probe.run();
        } catch (Throwable e) {
            System.out.println("PROBE " + name + " error=" + e.getClass().getSimpleName());
            System.out.println("REMARK " + name + " " + String.valueOf(e).replace('\n', ' '));
        }
    }

    interface Probe {
        void run() throws Exception;
    }

    private void run() throws Exception {
        DefaultMQProducer producer = kit.producer();
        String topic = kit.name("T");
        // Queue 0 gets 4 messages (offsets 0..3); queues 1..3 stay empty.
        producer.setDefaultTopicQueueNums(4);
        producer.send(msg(topic, "warmup"), (mqs, m, arg) -> mqs.get(0), null);
        List<MessageQueue> queues = kit.awaitRoute(topic, 4);
        String key = "probe-key-" + kit.suffix;
        SendResult last = null;
        for (int i = 0; i < 3; i++) {
            Message m = msg(topic, "m" + i);
            m.setKeys(key);
            last = producer.send(m, (mqs, x, arg) -> mqs.get(0), null);
        }
        brokerAddr = producer.getDefaultMQProducerImpl().getmQClientFactory().findBrokerAddressInPublish(queues.get(0).getBrokerName());
        final String lastOffsetMsgId = last.getOffsetMsgId();
        long offsetOfLast = commitLogOffset(lastOffsetMsgId);
        String group = kit.name("G");

        probe("route-unknown-topic", () -> report("route-unknown-topic", route("no_such_topic_" + kit.suffix), List.of()));
        probe("route-auto-created-topic", () -> {
            RemotingCommand r = route(topic);
            report("route-auto-created-topic", r, List.of(), routeSummary(r));
        });
        probe("route-retry-topic-unknown-group", () ->
            report("route-retry-topic-unknown-group", route("%RETRY%" + kit.name("G10")), List.of()));
        probe("send-to-retry-topic-unknown-group", () ->
            report("send-to-retry-topic-unknown-group", send("%RETRY%" + kit.name("G11"), 0, "x", 0), List.of()));
        probe("route-default-topic-TBW102", () -> {
            RemotingCommand r = route("TBW102");
            report("route-default-topic-TBW102", r, List.of(), routeSummary(r));
        });

        probe("send-v2-response", () -> report("send-v2-response", send(topic, 0, "x", 0), List.of("*", "queueId", "queueOffset")));
        probe("send-v1-response", () -> report("send-v1-response", sendV1(topic, 0), List.of("*", "queueId", "queueOffset")));
        probe("send-queue-id-out-of-range", () -> report("send-queue-id-out-of-range", send(topic, 99, "x", 0), List.of()));
        probe("send-invalid-topic-name", () -> report("send-invalid-topic-name", send("bad topic!", 0, "x", 0), List.of()));
        probe("send-body-over-4MiB", () -> report("send-body-over-4MiB", send(topic, 1, "x".repeat(4 * 1024 * 1024 + 1), 0), List.of()));
        probe("send-empty-body", () -> report("send-empty-body", send(topic, 1, "", 0), List.of()));
        probe("send-to-system-topic-SCHEDULE", () -> report("send-to-system-topic-SCHEDULE", send("SCHEDULE_TOPIC_XXXX", 0, "x", 0), List.of()));

        probe("send-delay-level-3", () -> {
            // Its own topic: the message lands in queue 3 ten seconds later, whatever runs then.
            SendMessageRequestHeader h = sendHeader(kit.name("TD"), 3, 0);
            h.setProperties("TAGS\u0001data\u0002DELAY\u00013\u0002WAIT\u0001true\u0002");
            RemotingCommand r = call(brokerAddr, RequestCode.SEND_MESSAGE_V2, SendMessageRequestHeaderV2.createSendMessageRequestHeaderV2(h),
                "later".getBytes(StandardCharsets.UTF_8));
            report("send-delay-level-3", r, List.of("*", "queueId"));
        });
        probe("send-back-stored-message", () -> report("send-back-stored-message", sendBack(offsetOfLast, group, lastOffsetMsgId, topic), List.of()));
        probe("send-back-bad-offset", () -> report("send-back-bad-offset", sendBack(offsetOfLast + 1, group, lastOffsetMsgId, topic), List.of()));
        probe("half-message-visible-before-commit", () -> {
            // A transaction's half message (sysFlag PREPARED, TRAN_MSG=true) must stay invisible until END_TRANSACTION.
            String halfTopic = kit.name("TH");
            SendMessageRequestHeader h = sendHeader(halfTopic, 0, MessageSysFlag.TRANSACTION_PREPARED_TYPE);
            h.setProperties("TAGS\u0001data\u0002TRAN_MSG\u0001true\u0002PGROUP\u0001PG_probe\u0002WAIT\u0001true\u0002");
            RemotingCommand sent = call(brokerAddr, RequestCode.SEND_MESSAGE_V2, SendMessageRequestHeaderV2.createSendMessageRequestHeaderV2(h),
                "half".getBytes(StandardCharsets.UTF_8));
            RemotingCommand pulled = pull(halfTopic, 0, 0, 4, "*", group);
            report("half-message-visible-before-commit", sent, List.of(), "visible=" + count(pulled));
        });
        probe("check-client-config-sql92", () -> {
            CheckClientRequestBody body = new CheckClientRequestBody();
            body.setClientId("probe-client");
            body.setGroup(kit.name("G9"));
            body.setSubscriptionData(FilterAPI.build(topic, "a > 1", "SQL92"));
            report("check-client-config-sql92", call(brokerAddr, RequestCode.CHECK_CLIENT_CONFIG, null, body.encode()), List.of());
        });
        probe("unregister-unknown-client", () -> {
            UnregisterClientRequestHeader h = new UnregisterClientRequestHeader();
            h.setClientID("nobody@" + kit.suffix);
            h.setConsumerGroup(kit.name("G7"));
            report("unregister-unknown-client", call(brokerAddr, RequestCode.UNREGISTER_CLIENT, h, null), List.of());
        });
        probe("pull-long-poll-times-out", () -> {
            PullMessageRequestHeader h = pullHeader(topic, 2, 0, 4, "*", group);
            h.setSysFlag(2 | 4); // suspend | subscription
            h.setSuspendTimeoutMillis(500L);
            RemotingCommand request = RemotingCommand.createRequestCommand(RequestCode.PULL_MESSAGE, h);
            report("pull-long-poll-times-out", remoting.invokeSync(brokerAddr, request, 15_000), List.of("nextBeginOffset", "maxOffset"));
        });

        probe("pull-64-of-40-stored", () -> {
            // Apache caps one pull at 32 messages from memory (maxTransferCountOnMessageInMemory).
            String bulkTopic = kit.name("TB");
            RemotingCommand sent = sendBatch(bulkTopic, 40, 100);
            RemotingCommand pulled = pull(bulkTopic, 0, 0, 64, "*", group);
            report("pull-64-of-40-stored", pulled, List.of("nextBeginOffset"), "batchCode=" + sent.getCode() + " messages=" + count(pulled));
        });
        probe("send-batch-over-4MiB", () -> {
            RemotingCommand r = sendBatch(kit.name("TB2"), 5, 1024 * 1024);
            report("send-batch-over-4MiB", r, List.of());
        });

        // Send responses above moved queue 0 to max offset 6 (4 + v2 + v1 probes).
        List<String> pullFields = List.of("*", "nextBeginOffset", "minOffset", "maxOffset", "suggestWhichBrokerId");
        probe("pull-found", () -> {
            RemotingCommand r = pull(topic, 0, 0, 4, "*", group);
            report("pull-found", r, pullFields, "messages=" + count(r));
        });
        probe("pull-at-end", () -> report("pull-at-end", pull(topic, 0, 6, 4, "*", group), pullFields));
        probe("pull-beyond-end", () -> report("pull-beyond-end", pull(topic, 0, 100, 4, "*", group), pullFields));
        probe("pull-empty-queue-offset-0", () -> report("pull-empty-queue-offset-0", pull(topic, 2, 0, 4, "*", group), pullFields));
        probe("pull-empty-queue-offset-5", () -> report("pull-empty-queue-offset-5", pull(topic, 2, 5, 4, "*", group), pullFields));
        probe("pull-tag-no-match", () -> report("pull-tag-no-match", pull(topic, 0, 0, 4, "nomatch", group), pullFields));
        probe("pull-bad-queue-id", () -> report("pull-bad-queue-id", pull(topic, 99, 0, 4, "*", group), List.of()));
        probe("pull-unknown-topic", () -> report("pull-unknown-topic", pull("no_such_topic_" + kit.suffix, 0, 0, 4, "*", group), List.of()));
        probe("pull-no-subscription-unknown-group", () ->
            report("pull-no-subscription-unknown-group", pull(topic, 0, 0, 4, null, kit.name("G2")), List.of()));
        probe("pull-bad-sql-expression", () -> {
            PullMessageRequestHeader h = pullHeader(topic, 0, 0, 4, "a >", group);
            h.setExpressionType("SQL92");
            report("pull-bad-sql-expression", call(brokerAddr, RequestCode.PULL_MESSAGE, h, null), List.of());
        });

        probe("query-offset-new-group-young-queue", () ->
            report("query-offset-new-group-young-queue", queryOffset(kit.name("G3"), topic, 0), List.of("offset")));
        probe("query-offset-new-group-empty-queue", () ->
            report("query-offset-new-group-empty-queue", queryOffset(kit.name("G3"), topic, 2), List.of("offset")));
        probe("update-then-query-offset", () -> {
            UpdateConsumerOffsetRequestHeader h = new UpdateConsumerOffsetRequestHeader();
            h.setConsumerGroup(group);
            h.setTopic(topic);
            h.setQueueId(0);
            h.setCommitOffset(2L);
            report("update-offset", call(brokerAddr, RequestCode.UPDATE_CONSUMER_OFFSET, h, null), List.of());
            report("query-offset-after-update", queryOffset(group, topic, 0), List.of("offset"));
        });
        probe("update-offset-oneway-then-query", () -> {
            // What commitSync()/persistAll do: UPDATE_CONSUMER_OFFSET as a oneway request, then a query.
            UpdateConsumerOffsetRequestHeader h = new UpdateConsumerOffsetRequestHeader();
            h.setConsumerGroup(group);
            h.setTopic(topic);
            h.setQueueId(0);
            h.setCommitOffset(3L);
            RemotingCommand oneway = RemotingCommand.createRequestCommand(RequestCode.UPDATE_CONSUMER_OFFSET, h);
            remoting.invokeOneway(brokerAddr, oneway, 3000);
            Thread.sleep(200);
            report("update-offset-oneway-then-query", queryOffset(group, topic, 0), List.of("offset"));
        });
        probe("update-offset-unknown-topic", () -> {
            UpdateConsumerOffsetRequestHeader h = new UpdateConsumerOffsetRequestHeader();
            h.setConsumerGroup(group);
            h.setTopic("no_such_topic_" + kit.suffix);
            h.setQueueId(0);
            h.setCommitOffset(1L);
            report("update-offset-unknown-topic", call(brokerAddr, RequestCode.UPDATE_CONSUMER_OFFSET, h, null), List.of());
        });

        probe("max-offset", () -> {
            GetMaxOffsetRequestHeader h = new GetMaxOffsetRequestHeader();
            h.setTopic(topic);
            h.setQueueId(0);
            report("max-offset", call(brokerAddr, RequestCode.GET_MAX_OFFSET, h, null), List.of("offset"));
        });
        probe("max-offset-unknown-topic", () -> {
            GetMaxOffsetRequestHeader h = new GetMaxOffsetRequestHeader();
            h.setTopic("no_such_topic_" + kit.suffix);
            h.setQueueId(0);
            report("max-offset-unknown-topic", call(brokerAddr, RequestCode.GET_MAX_OFFSET, h, null), List.of("offset"));
        });
        probe("max-offset-bad-queue-id", () -> {
            GetMaxOffsetRequestHeader h = new GetMaxOffsetRequestHeader();
            h.setTopic(topic);
            h.setQueueId(99);
            report("max-offset-bad-queue-id", call(brokerAddr, RequestCode.GET_MAX_OFFSET, h, null), List.of("offset"));
        });
        probe("query-offset-bad-queue-id", () ->
            report("query-offset-bad-queue-id", queryOffset(group, topic, 99), List.of("offset")));
        probe("min-offset", () -> {
            GetMinOffsetRequestHeader h = new GetMinOffsetRequestHeader();
            h.setTopic(topic);
            h.setQueueId(0);
            report("min-offset", call(brokerAddr, RequestCode.GET_MIN_OFFSET, h, null), List.of("offset"));
        });
        probe("search-offset-far-future", () -> report("search-offset-far-future", searchOffset(topic, 0, System.currentTimeMillis() + 3_600_000L), List.of("offset")));
        probe("search-offset-epoch", () -> report("search-offset-epoch", searchOffset(topic, 0, 0L), List.of("offset")));
        probe("search-offset-empty-queue", () -> report("search-offset-empty-queue", searchOffset(topic, 2, System.currentTimeMillis()), List.of("offset")));
        probe("earliest-store-time-empty-queue", () -> {
            GetEarliestMsgStoretimeRequestHeader h = new GetEarliestMsgStoretimeRequestHeader();
            h.setTopic(topic);
            h.setQueueId(2);
            report("earliest-store-time-empty-queue", call(brokerAddr, RequestCode.GET_EARLIEST_MSG_STORETIME, h, null), List.of());
        });

        probe("consumer-list-unknown-group", () -> report("consumer-list-unknown-group", consumerList(kit.name("G4")), List.of()));
        probe("consumer-list-live-group", () -> {
            DefaultMQPushConsumer consumer = kit.pushConsumer(kit.name("G5"));
            consumer.subscribe(topic, "*");
            consumer.registerMessageListener((MessageListenerConcurrently) (m, c) -> ConsumeConcurrentlyStatus.CONSUME_SUCCESS);
            consumer.start();
            String liveGroup = consumer.getConsumerGroup();
            RemotingCommand r = consumerList(liveGroup);
            int ids = r.getBody() == null ? -1 : GetConsumerListByGroupResponseBody.decode(r.getBody(), GetConsumerListByGroupResponseBody.class).getConsumerIdList().size();
            report("consumer-list-live-group", r, List.of(), "consumerIds=" + ids);
            // Apache registers the retry topic with the name server asynchronously: give it 5 s.
            RemotingCommand[] retry = {null};
            try {
                Kit.await("route of %RETRY%" + liveGroup, 5000, () -> {
                    try {
                        retry[0] = route("%RETRY%" + liveGroup);
                    } catch (Exception e) {
                        return false;
                    }
                    return retry[0].getCode() == 0;
                });
            } catch (AssertionError timedOut) {
                // report what was seen last
            }
            report("route-retry-topic-after-heartbeat", retry[0], List.of(), routeSummary(retry[0]));
            adminProbes(topic, liveGroup);
        });

        probe("view-message-by-offset", () -> {
            ViewMessageRequestHeader h = new ViewMessageRequestHeader();
            h.setOffset(offsetOfLast);
            RemotingCommand r = call(brokerAddr, RequestCode.VIEW_MESSAGE_BY_ID, h, null);
            report("view-message-by-offset", r, List.of(), "messages=" + count(r));
        });
        probe("view-message-bad-offset", () -> {
            ViewMessageRequestHeader h = new ViewMessageRequestHeader();
            h.setOffset(offsetOfLast + 1);
            report("view-message-bad-offset", call(brokerAddr, RequestCode.VIEW_MESSAGE_BY_ID, h, null), List.of());
        });
        probe("query-message-by-key", () -> {
            RemotingCommand r = Kit.awaitValue("key index", 10_000, () -> {
                RemotingCommand q = queryMessage(topic, key, System.currentTimeMillis() + 60_000L);
                return q.getCode() == 0 && count(q) == 3 ? q : null;
            });
            report("query-message-by-key", r, List.of("*"), "messages=" + count(r));
        });
        probe("query-message-end-long-max", () -> {
            RemotingCommand r = queryMessage(topic, key, Long.MAX_VALUE);
            report("query-message-end-long-max", r, List.of(), "messages=" + count(r));
        });
        probe("query-message-unknown-key", () ->
            report("query-message-unknown-key", queryMessage(topic, "nokey-" + kit.suffix, System.currentTimeMillis()), List.of()));

        probe("lock-batch-new-group", () -> {
            LockBatchRequestBody body = new LockBatchRequestBody();
            body.setConsumerGroup(kit.name("G6"));
            body.setClientId("probe-client");
            body.setMqSet(new HashSet<>(queues));
            RemotingCommand r = call(brokerAddr, RequestCode.LOCK_BATCH_MQ, null, body.encode());
            int locked = r.getBody() == null ? -1 : LockBatchResponseBody.decode(r.getBody(), LockBatchResponseBody.class).getLockOKMQSet().size();
            report("lock-batch-new-group", r, List.of(), "locked=" + locked);
        });

        probe("unlock-batch", () -> {
            UnlockBatchRequestBody body = new UnlockBatchRequestBody();
            body.setConsumerGroup(kit.name("G6"));
            body.setClientId("probe-client");
            body.setMqSet(new HashSet<>(queues));
            report("unlock-batch", call(brokerAddr, RequestCode.UNLOCK_BATCH_MQ, null, body.encode()), List.of());
        });

        probe("unknown-request-code", () -> report("unknown-request-code", call(brokerAddr, 9999, null, null), List.of()));
        probe("namesrv-cluster-info", () -> {
            RemotingCommand r = call(namesrv, RequestCode.GET_BROKER_CLUSTER_INFO, null, null);
            String summary = "";
            if (r.getBody() != null) {
                ClusterInfo info = ClusterInfo.decode(r.getBody(), ClusterInfo.class);
                summary = "clusters=" + info.getClusterAddrTable().keySet() + " brokers=" + info.getBrokerAddrTable().size()
                    + " brokerIds=" + info.getBrokerAddrTable().values().iterator().next().getBrokerAddrs().keySet();
            }
            report("namesrv-cluster-info", r, List.of(), summary);
        });
        probe("namesrv-topic-list", () -> {
            RemotingCommand r = call(namesrv, RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER, null, null);
            boolean has = r.getBody() != null && TopicList.decode(r.getBody(), TopicList.class).getTopicList().contains(topic);
            report("namesrv-topic-list", r, List.of(), "containsTopic=" + has);
        });
        probe("namesrv-kv-config-order-topic", () -> {
            org.apache.rocketmq.common.protocol.header.namesrv.GetKVConfigRequestHeader h =
                new org.apache.rocketmq.common.protocol.header.namesrv.GetKVConfigRequestHeader();
            h.setNamespace("ORDER_TOPIC_CONFIG");
            h.setKey(topic);
            report("namesrv-kv-config-order-topic", call(namesrv, RequestCode.GET_KV_CONFIG, h, null), List.of());
        });
        System.out.println("PROBES DONE");
    }

    /** What mqadmin's topicStatus, consumerProgress, consumerConnection, updateTopic and deleteTopic send. */
    private void adminProbes(String topic, String liveGroup) {
        probe("admin-consumer-connection-list", () -> {
            GetConsumerConnectionListRequestHeader h = new GetConsumerConnectionListRequestHeader();
            h.setConsumerGroup(liveGroup);
            RemotingCommand r = call(brokerAddr, RequestCode.GET_CONSUMER_CONNECTION_LIST, h, null);
            String summary = "";
            if (r.getCode() == 0 && r.getBody() != null) {
                ConsumerConnection c = ConsumerConnection.decode(r.getBody(), ConsumerConnection.class);
                summary = "connections=" + c.getConnectionSet().size() + " consumeType=" + c.getConsumeType()
                    + " messageModel=" + c.getMessageModel() + " consumeFromWhere=" + c.getConsumeFromWhere()
                    + " subscriptions=" + new TreeSet<>(c.getSubscriptionTable().keySet()).size()
                    + " language=" + c.getConnectionSet().iterator().next().getLanguage()
                    + " version=" + c.getConnectionSet().iterator().next().getVersion();
            }
            report("admin-consumer-connection-list", r, List.of(), summary);
        });
        probe("send-to-retry-topic-past-max", () -> {
            // What an orderly consumer sends after its last local retry: reconsumeTimes = max = 2, DELAY = 5.
            SendMessageRequestHeader h = sendHeader("%RETRY%" + liveGroup, 0, 0);
            h.setReconsumeTimes(2);
            h.setMaxReconsumeTimes(2);
            h.setProperties("TAGS\u0001data\u0002DELAY\u00015\u0002RETRY_TOPIC\u0001" + topic + "\u0002WAIT\u0001true\u0002");
            RemotingCommand r = call(brokerAddr, RequestCode.SEND_MESSAGE_V2, SendMessageRequestHeaderV2.createSendMessageRequestHeaderV2(h),
                "past-max".getBytes(StandardCharsets.UTF_8));
            Thread.sleep(1000);
            report("send-to-retry-topic-past-max", r, List.of(), "retryMax=" + maxOffset("%RETRY%" + liveGroup) + " dlqMax=" + maxOffset("%DLQ%" + liveGroup));
        });
        probe("admin-consumer-connection-list-unknown-group", () -> {
            GetConsumerConnectionListRequestHeader h = new GetConsumerConnectionListRequestHeader();
            h.setConsumerGroup(kit.name("G8"));
            report("admin-consumer-connection-list-unknown-group", call(brokerAddr, RequestCode.GET_CONSUMER_CONNECTION_LIST, h, null), List.of());
        });
        probe("admin-consume-stats", () -> {
            GetConsumeStatsRequestHeader h = new GetConsumeStatsRequestHeader();
            h.setConsumerGroup(liveGroup);
            h.setTopic(topic);
            RemotingCommand r = call(brokerAddr, RequestCode.GET_CONSUME_STATS, h, null);
            String summary = r.getCode() == 0 && r.getBody() != null
                ? "queues=" + ConsumeStats.decode(r.getBody(), ConsumeStats.class).getOffsetTable().size() : "";
            report("admin-consume-stats", r, List.of(), summary);
        });
        probe("admin-topic-stats", () -> {
            GetTopicStatsInfoRequestHeader h = new GetTopicStatsInfoRequestHeader();
            h.setTopic(topic);
            RemotingCommand r = call(brokerAddr, RequestCode.GET_TOPIC_STATS_INFO, h, null);
            String summary = "";
            if (r.getCode() == 0 && r.getBody() != null) {
                TopicStatsTable t = TopicStatsTable.decode(r.getBody(), TopicStatsTable.class);
                List<String> perQueue = new ArrayList<>();
                new TreeMap<>(t.getOffsetTable()).forEach((mq, o) -> perQueue.add(mq.getQueueId() + ":" + o.getMinOffset() + "-" + o.getMaxOffset()));
                summary = "offsets=" + perQueue;
            }
            report("admin-topic-stats", r, List.of(), summary);
        });
        probe("admin-topic-stats-unknown-topic", () -> {
            GetTopicStatsInfoRequestHeader h = new GetTopicStatsInfoRequestHeader();
            h.setTopic("no_such_topic_" + kit.suffix);
            report("admin-topic-stats-unknown-topic", call(brokerAddr, RequestCode.GET_TOPIC_STATS_INFO, h, null), List.of());
        });
        probe("admin-broker-runtime-info", () -> {
            RemotingCommand r = call(brokerAddr, RequestCode.GET_BROKER_RUNTIME_INFO, null, null);
            Map<String, String> table = r.getCode() == 0 && r.getBody() != null
                ? KVTable.decode(r.getBody(), KVTable.class).getTable() : Map.of();
            List<String> missing = new ArrayList<>();
            for (String key : CLUSTER_LIST_KEYS) {
                if (!table.containsKey(key)) {
                    missing.add(key);
                }
            }
            // mqadmin parses the first space-separated field; how many follow depends on uptime.
            String putTps = table.get("putTps");
            boolean putTpsParses = putTps != null && putTps.trim().split(" ")[0].matches("-?[0-9]+(\\.[0-9]+)?");
            report("admin-broker-runtime-info", r, List.of(), "missingForClusterList=" + missing + " putTpsParses=" + putTpsParses);
        });
        probe("admin-all-topic-config", () -> {
            RemotingCommand r = call(brokerAddr, RequestCode.GET_ALL_TOPIC_CONFIG, null, null);
            boolean has = r.getCode() == 0 && r.getBody() != null
                && TopicConfigSerializeWrapper.decode(r.getBody(), TopicConfigSerializeWrapper.class).getTopicConfigTable().containsKey(topic);
            report("admin-all-topic-config", r, List.of(), "containsTopic=" + has);
        });
        String created = kit.name("T2");
        probe("admin-update-and-create-topic", () -> {
            CreateTopicRequestHeader h = new CreateTopicRequestHeader();
            h.setTopic(created);
            h.setDefaultTopic("TBW102");
            h.setReadQueueNums(2);
            h.setWriteQueueNums(2);
            h.setPerm(6);
            h.setTopicFilterType("SINGLE_TAG");
            h.setTopicSysFlag(0);
            h.setOrder(false);
            report("admin-update-and-create-topic", call(brokerAddr, RequestCode.UPDATE_AND_CREATE_TOPIC, h, null), List.of());
            RemotingCommand r = route(created);
            report("route-after-update-and-create-topic", r, List.of(), routeSummary(r));
        });
        probe("admin-delete-topic-in-broker", () -> {
            DeleteTopicRequestHeader h = new DeleteTopicRequestHeader();
            h.setTopic(created);
            report("admin-delete-topic-in-broker", call(brokerAddr, RequestCode.DELETE_TOPIC_IN_BROKER, h, null), List.of());
        });
    }

    /** Max offset of queue 0, or -1 when the broker refuses to say. */
    private long maxOffset(String topic) throws Exception {
        GetMaxOffsetRequestHeader h = new GetMaxOffsetRequestHeader();
        h.setTopic(topic);
        h.setQueueId(0);
        RemotingCommand r = call(brokerAddr, RequestCode.GET_MAX_OFFSET, h, null);
        return r.getCode() == 0 ? Long.parseLong(r.getExtFields().get("offset")) : -1;
    }

    private RemotingCommand sendBack(long offset, String group, String originMsgId, String originTopic) throws Exception {
        ConsumerSendMsgBackRequestHeader h = new ConsumerSendMsgBackRequestHeader();
        h.setOffset(offset);
        h.setGroup(group);
        h.setDelayLevel(0);
        h.setOriginMsgId(originMsgId);
        h.setOriginTopic(originTopic);
        h.setUnitMode(false);
        h.setMaxReconsumeTimes(16);
        return call(brokerAddr, RequestCode.CONSUMER_SEND_MSG_BACK, h, null);
    }

    private static Message msg(String topic, String body) {
        return new Message(topic, "data", body.getBytes(StandardCharsets.UTF_8));
    }

    private static long commitLogOffset(String offsetMsgId) throws Exception {
        return MessageDecoder.decodeMessageId(offsetMsgId).getOffset();
    }

    private static int count(RemotingCommand r) {
        if (r.getCode() != 0 || r.getBody() == null) {
            return 0;
        }
        return MessageDecoder.decodes(ByteBuffer.wrap(r.getBody())).size();
    }

    private RemotingCommand route(String topic) throws Exception {
        GetRouteInfoRequestHeader h = new GetRouteInfoRequestHeader();
        h.setTopic(topic);
        return call(namesrv, RequestCode.GET_ROUTEINFO_BY_TOPIC, h, null);
    }

    private static String routeSummary(RemotingCommand r) {
        if (r.getCode() != 0 || r.getBody() == null) {
            return "";
        }
        TopicRouteData data = TopicRouteData.decode(r.getBody(), TopicRouteData.class);
        List<String> queueDatas = new ArrayList<>();
        for (QueueData q : data.getQueueDatas()) {
            queueDatas.add("r" + q.getReadQueueNums() + "w" + q.getWriteQueueNums() + "p" + q.getPerm() + "f" + q.getTopicSysFlag());
        }
        Set<Long> ids = new TreeSet<>();
        data.getBrokerDatas().forEach(b -> ids.addAll(b.getBrokerAddrs().keySet()));
        return "queueDatas=" + queueDatas + " brokerDatas=" + data.getBrokerDatas().size() + " brokerIds=" + ids
            + " orderTopicConf=" + data.getOrderTopicConf();
    }

    private RemotingCommand send(String topic, int queueId, String body, int sysFlag) throws Exception {
        SendMessageRequestHeader v1 = sendHeader(topic, queueId, sysFlag);
        return call(brokerAddr, RequestCode.SEND_MESSAGE_V2, SendMessageRequestHeaderV2.createSendMessageRequestHeaderV2(v1),
            body.getBytes(StandardCharsets.UTF_8));
    }

    /** One SEND_BATCH_MESSAGE (320) of `count` messages of `size` bytes to queue 0. */
    private RemotingCommand sendBatch(String topic, int count, int size) throws Exception {
        List<Message> msgs = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            msgs.add(new Message(topic, "data", new byte[size]));
        }
        MessageBatch batch = MessageBatch.generateFromList(msgs);
        SendMessageRequestHeader h = sendHeader(topic, 0, 0);
        h.setProperties(MessageDecoder.messageProperties2String(batch.getProperties()));
        h.setBatch(true);
        return call(brokerAddr, RequestCode.SEND_BATCH_MESSAGE, SendMessageRequestHeaderV2.createSendMessageRequestHeaderV2(h), batch.encode());
    }

    private RemotingCommand sendV1(String topic, int queueId) throws Exception {
        return call(brokerAddr, RequestCode.SEND_MESSAGE, sendHeader(topic, queueId, 0), "v1".getBytes(StandardCharsets.UTF_8));
    }

    private static SendMessageRequestHeader sendHeader(String topic, int queueId, int sysFlag) {
        SendMessageRequestHeader h = new SendMessageRequestHeader();
        h.setProducerGroup("PG_probe");
        h.setTopic(topic);
        h.setDefaultTopic("TBW102");
        h.setDefaultTopicQueueNums(4);
        h.setQueueId(queueId);
        h.setSysFlag(sysFlag);
        h.setBornTimestamp(System.currentTimeMillis());
        h.setFlag(0);
        h.setProperties("TAGS\u0001data\u0002WAIT\u0001true\u0002");
        h.setReconsumeTimes(0);
        h.setUnitMode(false);
        h.setBatch(false);
        return h;
    }

    private static PullMessageRequestHeader pullHeader(String topic, int queueId, long offset, int max, String subscription, String group) {
        PullMessageRequestHeader h = new PullMessageRequestHeader();
        h.setConsumerGroup(group);
        h.setTopic(topic);
        h.setQueueId(queueId);
        h.setQueueOffset(offset);
        h.setMaxMsgNums(max);
        h.setSysFlag(subscription == null ? 0 : 4); // subscription in the header; no suspend, no commit
        h.setCommitOffset(0L);
        h.setSuspendTimeoutMillis(0L);
        h.setSubscription(subscription);
        h.setSubVersion(System.currentTimeMillis());
        h.setExpressionType("TAG");
        return h;
    }

    private RemotingCommand pull(String topic, int queueId, long offset, int max, String subscription, String group) throws Exception {
        return call(brokerAddr, RequestCode.PULL_MESSAGE, pullHeader(topic, queueId, offset, max, subscription, group), null);
    }

    private RemotingCommand queryOffset(String group, String topic, int queueId) throws Exception {
        QueryConsumerOffsetRequestHeader h = new QueryConsumerOffsetRequestHeader();
        h.setConsumerGroup(group);
        h.setTopic(topic);
        h.setQueueId(queueId);
        return call(brokerAddr, RequestCode.QUERY_CONSUMER_OFFSET, h, null);
    }

    private RemotingCommand searchOffset(String topic, int queueId, long timestamp) throws Exception {
        SearchOffsetRequestHeader h = new SearchOffsetRequestHeader();
        h.setTopic(topic);
        h.setQueueId(queueId);
        h.setTimestamp(timestamp);
        return call(brokerAddr, RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, h, null);
    }

    private RemotingCommand consumerList(String group) throws Exception {
        GetConsumerListByGroupRequestHeader h = new GetConsumerListByGroupRequestHeader();
        h.setConsumerGroup(group);
        return call(brokerAddr, RequestCode.GET_CONSUMER_LIST_BY_GROUP, h, null);
    }

    private RemotingCommand queryMessage(String topic, String key, long end) throws Exception {
        QueryMessageRequestHeader h = new QueryMessageRequestHeader();
        h.setTopic(topic);
        h.setKey(key);
        h.setMaxNum(32);
        h.setBeginTimestamp(0L);
        h.setEndTimestamp(end);
        return call(brokerAddr, RequestCode.QUERY_MESSAGE, h, null);
    }
}
