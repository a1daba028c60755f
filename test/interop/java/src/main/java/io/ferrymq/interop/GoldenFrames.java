package io.ferrymq.interop;

import com.alibaba.fastjson.JSON;
import com.alibaba.fastjson.serializer.SerializerFeature;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.rocketmq.common.MQVersion;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.filter.FilterAPI;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageAccessor;
import org.apache.rocketmq.common.message.MessageBatch;
import org.apache.rocketmq.common.message.MessageConst;
import org.apache.rocketmq.common.message.MessageDecoder;
import org.apache.rocketmq.common.protocol.RequestCode;
import org.apache.rocketmq.common.protocol.header.PullMessageRequestHeader;
import org.apache.rocketmq.common.protocol.header.SendMessageRequestHeader;
import org.apache.rocketmq.common.protocol.header.SendMessageRequestHeaderV2;
import org.apache.rocketmq.common.protocol.heartbeat.ConsumeType;
import org.apache.rocketmq.common.protocol.heartbeat.ConsumerData;
import org.apache.rocketmq.common.protocol.heartbeat.HeartbeatData;
import org.apache.rocketmq.common.protocol.heartbeat.MessageModel;
import org.apache.rocketmq.common.protocol.heartbeat.ProducerData;
import org.apache.rocketmq.common.protocol.heartbeat.SubscriptionData;
import org.apache.rocketmq.remoting.protocol.RemotingCommand;
import org.apache.rocketmq.remoting.protocol.SerializeType;

/**
 * Writes request frames exactly as the Java client 4.9.8 encodes them (RemotingCommand.encode()),
 * in both header serializations, plus expected.json with what each must decode to.
 *
 *   java io.ferrymq.interop.GoldenFrames <outDir>
 *
 * Every value is fixed (opaque, timestamps, client id), so a re-run gives the same bytes.
 */
public final class GoldenFrames {
    private GoldenFrames() {
    }

    static final long BORN = 1_700_000_000_123L;

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: GoldenFrames <outDir>");
            System.exit(2);
        }
        // What MQClientAPIImpl sets on load: requests carry the client's version ordinal.
        System.setProperty(RemotingCommand.REMOTING_VERSION_KEY, Integer.toString(MQVersion.CURRENT_VERSION));
        Path out = Path.of(args[0]);
        Files.createDirectories(out);
        Map<String, Object> expected = new LinkedHashMap<>();
        for (SerializeType type : new SerializeType[] {SerializeType.JSON, SerializeType.ROCKETMQ}) {
            String suffix = type == SerializeType.JSON ? "json" : "rocketmq";
            write(out, expected, "send-v2-" + suffix, sendV2(type, 101));
            write(out, expected, "pull-" + suffix, pull(type, 102));
            write(out, expected, "heartbeat-" + suffix, heartbeat(type, 103));
        }
        write(out, expected, "send-batch-json", sendBatch(104));
        Files.writeString(out.resolve("expected.json"),
            JSON.toJSONString(expected, SerializerFeature.PrettyFormat, SerializerFeature.MapSortField) + "\n");
        System.out.println("wrote " + expected.size() + " frames to " + out);
    }

    static void write(Path dir, Map<String, Object> expected, String name, RemotingCommand cmd) throws Exception {
        ByteBuffer encoded = cmd.encode(); // also fills extFields from the custom header
        byte[] bytes = new byte[encoded.remaining()];
        encoded.get(bytes);
        Files.write(dir.resolve(name + ".bin"), bytes);
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("code", cmd.getCode());
        fields.put("language", cmd.getLanguage().name());
        fields.put("version", cmd.getVersion());
        fields.put("opaque", cmd.getOpaque());
        fields.put("flag", cmd.getFlag());
        fields.put("serializeType", cmd.getSerializeTypeCurrentRPC().getCode());
        fields.put("extFields", cmd.getExtFields() == null ? new TreeMap<>() : new TreeMap<>(cmd.getExtFields()));
        fields.put("bodyHex", cmd.getBody() == null ? "" : hex(cmd.getBody()));
        fields.put("frameLength", bytes.length);
        expected.put(name, fields);
    }

    static String hex(byte[] bytes) {
        StringBuilder sb = new StringBuilder();
        for (byte b : bytes) {
            sb.append(String.format("%02x", b));
        }
        return sb.toString();
    }

    static SendMessageRequestHeader sendHeader(String topic, String properties, boolean batch) {
        SendMessageRequestHeader h = new SendMessageRequestHeader();
        h.setProducerGroup("PG_golden");
        h.setTopic(topic);
        h.setDefaultTopic("TBW102");
        h.setDefaultTopicQueueNums(4);
        h.setQueueId(3);
        h.setSysFlag(0);
        h.setBornTimestamp(BORN);
        h.setFlag(0);
        h.setProperties(properties);
        h.setReconsumeTimes(0);
        h.setUnitMode(false);
        h.setBatch(batch);
        return h;
    }

    static RemotingCommand sendV2(SerializeType type, int opaque) {
        Message msg = new Message("TopicGolden", "TagA", "key-1 key-2", bodyBytes());
        msg.putUserProperty("unicode", "日本語 ✓");
        MessageAccessor.putProperty(msg, MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX, "7F00000100002A9F0000000000000001");
        String properties = MessageDecoder.messageProperties2String(msg.getProperties());
        SendMessageRequestHeaderV2 v2 =
            SendMessageRequestHeaderV2.createSendMessageRequestHeaderV2(sendHeader("TopicGolden", properties, false));
        RemotingCommand cmd = RemotingCommand.createRequestCommand(RequestCode.SEND_MESSAGE_V2, v2);
        cmd.setBody(msg.getBody());
        return finish(cmd, type, opaque);
    }

    static RemotingCommand sendBatch(int opaque) {
        List<Message> msgs = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Message m = new Message("TopicGolden", "TagB", "batch-key-" + i, ("batch body " + i).getBytes(StandardCharsets.UTF_8));
            MessageAccessor.putProperty(m, MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX, "7F00000100002A9F000000000000001" + i);
            msgs.add(m);
        }
        MessageBatch batch = MessageBatch.generateFromList(msgs);
        SendMessageRequestHeaderV2 v2 = SendMessageRequestHeaderV2.createSendMessageRequestHeaderV2(
            sendHeader("TopicGolden", MessageDecoder.messageProperties2String(batch.getProperties()), true));
        RemotingCommand cmd = RemotingCommand.createRequestCommand(RequestCode.SEND_BATCH_MESSAGE, v2);
        cmd.setBody(batch.encode());
        return finish(cmd, SerializeType.JSON, opaque);
    }

    static RemotingCommand pull(SerializeType type, int opaque) {
        PullMessageRequestHeader h = new PullMessageRequestHeader();
        h.setConsumerGroup("GID_golden");
        h.setTopic("TopicGolden");
        h.setQueueId(3);
        h.setQueueOffset(1_234_567_890_123L);
        h.setMaxMsgNums(32);
        h.setSysFlag(7); // commit offset | suspend | subscription
        h.setCommitOffset(1_234_567_890_000L);
        h.setSuspendTimeoutMillis(15_000L);
        h.setSubscription("TagA || TagB");
        h.setSubVersion(BORN);
        h.setExpressionType("TAG");
        return finish(RemotingCommand.createRequestCommand(RequestCode.PULL_MESSAGE, h), type, opaque);
    }

    static RemotingCommand heartbeat(SerializeType type, int opaque) throws Exception {
        HeartbeatData data = new HeartbeatData();
        data.setClientID("127.0.0.1@golden");
        ProducerData producer = new ProducerData();
        producer.setGroupName("PG_golden");
        data.getProducerDataSet().add(producer);
        ConsumerData consumer = new ConsumerData();
        consumer.setGroupName("GID_golden");
        consumer.setConsumeType(ConsumeType.CONSUME_PASSIVELY);
        consumer.setMessageModel(MessageModel.CLUSTERING);
        consumer.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        SubscriptionData sub = FilterAPI.buildSubscriptionData("TopicGolden", "TagA || TagB");
        sub.setSubVersion(BORN);
        consumer.setSubscriptionDataSet(new HashSet<>(List.of(sub)));
        consumer.setUnitMode(false);
        data.getConsumerDataSet().add(consumer);
        RemotingCommand cmd = RemotingCommand.createRequestCommand(RequestCode.HEART_BEAT, null);
        cmd.setBody(data.encode());
        return finish(cmd, type, opaque);
    }

    static RemotingCommand finish(RemotingCommand cmd, SerializeType type, int opaque) {
        cmd.setOpaque(opaque);
        cmd.setSerializeTypeCurrentRPC(type);
        return cmd;
    }

    static byte[] bodyBytes() {
        byte[] body = new byte[32];
        for (int i = 0; i < body.length; i++) {
            body[i] = (byte) (i * 8); // spans 0x00..0xF8, including bytes that are not valid UTF-8
        }
        return body;
    }
}
