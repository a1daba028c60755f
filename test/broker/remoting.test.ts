import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRocketMQJson, type TopicRouteData } from '../../protocol/bodies.js';
import { encodeFrame } from '../../protocol/frame-codec.js';
import { createRequest } from '../../protocol/remoting-command.js';
import { RequestCode } from '../../protocol/request-code.js';
import { ResponseCode } from '../../protocol/response-code.js';
import { uniqueName, waitFor } from '../helpers/common.js';
import { createTopic, RawClient, sendHeaderV2, startBroker, type TestBroker } from '../helpers/broker.js';

let broker: TestBroker;

beforeAll(async () => {
  broker = await startBroker({ maxFrameSize: 64 * 1024 });
});
afterAll(() => broker.stop());

const sendHeader = (topic: string) => sendHeaderV2(topic, { properties: 'TAGS\u0001A\u0002' });

describe('remoting basics', () => {
  it('answers an unknown request code with 3 and a remark', async () => {
    const client = await RawClient.connect(broker.port);
    const response = await client.request(9999, { a: 1 });
    expect(response.code).toBe(ResponseCode.REQUEST_CODE_NOT_SUPPORTED);
    expect(response.remark).toMatch(/9999/);
    expect(response.flag & 1).toBe(1);
    client.close();
  });

  it('routes known topics to its advertised address and answers 17 for unknown ones', async () => {
    const topic = uniqueName('route');
    createTopic(broker, topic, 3);
    const client = await RawClient.connect(broker.port);
    const missing = await client.request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: uniqueName('none') });
    expect(missing.code).toBe(ResponseCode.TOPIC_NOT_EXIST);
    const found = await client.request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic });
    expect(found.code).toBe(ResponseCode.SUCCESS);
    const route = parseRocketMQJson<TopicRouteData>(found.body!);
    expect(route.queueDatas).toEqual([{ brokerName: 'broker-a', readQueueNums: 3, writeQueueNums: 3, perm: 6, topicSysFlag: 0 }]);
    expect(route.brokerDatas[0].brokerAddrs).toEqual({ '0': broker.address });
    const kv = await client.request(RequestCode.GET_KV_CONFIG, { namespace: 'ORDER_TOPIC_CONFIG', key: topic });
    expect(kv.code).toBe(ResponseCode.QUERY_NOT_FOUND);
    client.close();
  });

  it('makes %RETRY%<group> routable once a heartbeat made the group known', async () => {
    const group = uniqueName('G');
    const client = await RawClient.connect(broker.port);
    expect((await client.request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: `%RETRY%${group}` })).code).toBe(ResponseCode.TOPIC_NOT_EXIST);
    const heartbeat = {
      clientID: '127.0.0.1@1',
      producerDataSet: [],
      consumerDataSet: [
        {
          groupName: group,
          consumeType: 'CONSUME_PASSIVELY',
          messageModel: 'CLUSTERING',
          consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET',
          subscriptionDataSet: [{ topic: 'X', subString: 'TagA || TagB', tagsSet: ['TagA', 'TagB'], codeSet: [80_204_913, 80_204_914], subVersion: 1 }],
          unitMode: false,
        },
      ],
    };
    expect((await client.request(RequestCode.HEART_BEAT, {}, Buffer.from(JSON.stringify(heartbeat)))).code).toBe(0);
    expect((await client.request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: `%RETRY%${group}` })).code).toBe(0);
    const list = await client.request(RequestCode.GET_CONSUMER_LIST_BY_GROUP, { consumerGroup: group });
    expect(parseRocketMQJson(list.body!)).toEqual({ consumerIdList: ['127.0.0.1@1'] });
    expect(broker.broker.context.clients.subscription(group, 'X')?.codeSet).toEqual([80_204_913, 80_204_914]);
    // The client leaving empties the group.
    await client.request(RequestCode.UNREGISTER_CLIENT, { clientID: '127.0.0.1@1', consumerGroup: group });
    expect((await client.request(RequestCode.GET_CONSUMER_LIST_BY_GROUP, { consumerGroup: group })).code).toBe(ResponseCode.SYSTEM_ERROR);
    client.close();
  });

  it('refuses a bad topic name with a remark and writes nothing', async () => {
    const before = readdirSync(broker.dataDir, { recursive: true }).length;
    const client = await RawClient.connect(broker.port);
    for (const topic of ['../etc', 'a/b', 'x'.repeat(128), '']) {
      const response = await client.request(RequestCode.SEND_MESSAGE_V2, sendHeader(topic), Buffer.from('x'));
      expect(response.code, topic).toBe(ResponseCode.SYSTEM_ERROR);
      expect(response.remark).toBeTruthy();
    }
    const bad = await client.request(RequestCode.GET_MAX_OFFSET, { topic: 'a b', queueId: 0 });
    expect(bad.code).toBe(ResponseCode.SYSTEM_ERROR);
    const badHeader = await client.request(RequestCode.GET_MAX_OFFSET, { topic: 'ok', queueId: 'zero' });
    expect(badHeader.code).toBe(ResponseCode.SYSTEM_ERROR);
    expect(badHeader.remark).toMatch(/queueId/);
    expect(readdirSync(broker.dataDir, { recursive: true }).length).toBe(before);
    client.close();
  });

  it('closes a connection that announces an oversize frame, and only that one', async () => {
    const victim = await RawClient.connect(broker.port);
    const bystander = await RawClient.connect(broker.port);
    const header = Buffer.alloc(8);
    header.writeInt32BE(1024 * 1024, 0); // 1 MiB > the 64 KiB test limit
    header.writeInt32BE(2, 4);
    victim.write(header);
    await victim.closed;
    const response = await bystander.request(9999);
    expect(response.code).toBe(ResponseCode.REQUEST_CODE_NOT_SUPPORTED);
    bystander.close();
  });

  it('closes a connection that leaves a frame half-sent', async () => {
    // Its own broker: a short limit on the shared one would cut the byte-by-byte test on a busy box.
    const strict = await startBroker({ halfFrameTimeoutMs: 300 });
    try {
      const client = await RawClient.connect(strict.port);
      const frame = Buffer.concat(encodeFrame(createRequest(9999)));
      client.write(frame.subarray(0, 10));
      await waitFor(() => client.socket.destroyed || client.socket.readableEnded, { timeoutMs: 3000, what: 'half-frame close' });
      await client.closed;
    } finally {
      await strict.stop();
    }
  });

  it('closes a connection that sends garbage', async () => {
    const client = await RawClient.connect(broker.port);
    const garbage = Buffer.alloc(40, 0xff);
    garbage.writeInt32BE(36, 0);
    garbage.writeInt32BE(5, 4); // header claims 5 bytes of JSON
    client.write(garbage);
    await client.closed;
  });

  it('decodes requests split at every byte boundary', async () => {
    const topic = uniqueName('split');
    createTopic(broker, topic, 1);
    const client = await RawClient.connect(broker.port);
    const requests = [
      createRequest(RequestCode.SEND_MESSAGE_V2, sendHeader(topic), Buffer.from('first')),
      // Requests run concurrently (like RocketMQ's processor pools), so the second must not depend on the first.
      createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic }),
      createRequest(9999),
    ];
    const bytes = Buffer.concat(requests.flatMap((r) => encodeFrame(r)));
    const responses = Promise.all(requests.map((r) => client.expectResponse(r.opaque, 10_000)));
    for (let i = 0; i < bytes.length; i++) {
      client.write(bytes.subarray(i, i + 1));
      // Let the bytes travel as separate TCP segments now and then.
      if (i % 8 === 0) await new Promise((r) => setTimeout(r, 0));
    }
    const [sent, route, unknown] = await responses;
    expect(sent.code).toBe(ResponseCode.SUCCESS);
    expect(sent.extFields.queueOffset).toBe('0');
    expect(parseRocketMQJson<TopicRouteData>(route.body!).queueDatas[0].writeQueueNums).toBe(1);
    expect(unknown.code).toBe(ResponseCode.REQUEST_CODE_NOT_SUPPORTED);
    client.close();
  });

  it('answers a binary-header (ROCKETMQ serialize type) request in the same serialize type', async () => {
    const topic = uniqueName('binary');
    createTopic(broker, topic, 1);
    const client = await RawClient.connect(broker.port);
    const response = await client.send(createRequest(RequestCode.GET_MAX_OFFSET, { topic, queueId: 0 }, undefined, { serializeType: 1 }));
    expect(response.serializeType).toBe(1);
    expect(response.code).toBe(ResponseCode.SUCCESS);
    expect(response.extFields.offset).toBe('0');
    client.close();
  });

  it('does not buffer without bound for a client that stops reading', async () => {
    const capped = await startBroker({ maxPendingWriteBytesPerConnection: 256 * 1024 });
    try {
      const topic = uniqueName('stall');
      createTopic(capped, topic, 1);
      const writer = await RawClient.connect(capped.port);
      const sent = await writer.request(RequestCode.SEND_MESSAGE_V2, sendHeader(topic), Buffer.alloc(100 * 1024, 7));
      const offset = BigInt('0x' + sent.extFields.msgId.slice(16)).toString();
      const stalled = await RawClient.connect(capped.port);
      stalled.socket.pause();
      const frames = Array.from({ length: 400 }, () => Buffer.concat(encodeFrame(createRequest(RequestCode.VIEW_MESSAGE_BY_ID, { offset }))));
      stalled.write(Buffer.concat(frames)); // asks for 40 MB of answers it never reads
      await new Promise((r) => setTimeout(r, 1000));
      for (const connection of capped.broker.context.connections.values()) {
        // Reading stops once the socket is full, so at most one answer sits above the cap.
        expect(connection.pendingWriteBytes).toBeLessThan(256 * 1024 + 200 * 1024);
      }
      expect((await writer.request(RequestCode.GET_MAX_OFFSET, { topic, queueId: 0 })).extFields.offset).toBe('1');
      stalled.close();
      writer.close();
    } finally {
      await capped.stop();
    }
  });

  it('tells a group\'s clients when its membership changes, and drops idle connections', async () => {
    const small = await startBroker({ channelIdleTimeoutMs: 1500 });
    try {
      const group = uniqueName('G');
      const heartbeat = (clientID: string) =>
        Buffer.from(
          JSON.stringify({
            clientID,
            producerDataSet: [],
            consumerDataSet: [{ groupName: group, consumeType: 'CONSUME_ACTIVELY', messageModel: 'CLUSTERING', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', subscriptionDataSet: [] }],
          }),
        );
      const first = await RawClient.connect(small.port);
      const second = await RawClient.connect(small.port);
      await first.request(RequestCode.HEART_BEAT, {}, heartbeat('c1'));
      await second.request(RequestCode.HEART_BEAT, {}, heartbeat('c2'));
      await waitFor(() => first.serverRequests.some((r) => r.code === RequestCode.NOTIFY_CONSUMER_IDS_CHANGED), { what: 'NOTIFY to c1' });
      const notify = first.serverRequests.find((r) => r.code === RequestCode.NOTIFY_CONSUMER_IDS_CHANGED)!;
      expect(notify.extFields.consumerGroup).toBe(group);
      expect(notify.flag & 2).toBe(2); // oneway
      // Nobody speaks for longer than the idle timeout: both are closed, the group empties.
      await Promise.all([first.closed, second.closed]);
      await waitFor(() => small.broker.context.clients.consumerIds(group).length === 0, { what: 'group emptied' });
    } finally {
      await small.stop();
    }
  });

  it('closes connections beyond maxConnections at accept', async () => {
    const small = await startBroker({ maxConnections: 2 });
    try {
      const first = await RawClient.connect(small.port);
      const second = await RawClient.connect(small.port);
      await first.request(9999);
      await second.request(9999);
      const third = await RawClient.connect(small.port);
      await third.closed;
      first.close();
      await waitFor(() => small.broker.connectionCount < 2, { what: 'a slot freed' });
      const fourth = await RawClient.connect(small.port);
      expect((await fourth.request(9999)).code).toBe(ResponseCode.REQUEST_CODE_NOT_SUPPORTED);
      second.close();
      fourth.close();
    } finally {
      await small.stop();
    }
  });
});
