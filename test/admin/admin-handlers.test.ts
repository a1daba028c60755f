/**
 * The admin request codes against a real broker over TCP, through AdminClient (and RawClient for
 * the header shapes mqadmin sends).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../client/admin.js';
import { Producer, PushConsumer, type ReceivedMessage } from '../../client/index.js';
import { decodeResetOffsetBody } from '../../protocol/admin-bodies.js';
import { parseRocketMQJson } from '../../protocol/bodies.js';
import { BrokerResponseError } from '../../protocol/errors.js';
import { RequestCode } from '../../protocol/request-code.js';
import { ResponseCode } from '../../protocol/response-code.js';
import { createTopic, RawClient, startBroker, type TestBroker } from '../helpers/broker.js';
import { uniqueName, waitFor } from '../helpers/common.js';

let broker: TestBroker;
let admin: AdminClient;
let producer: Producer;

beforeAll(async () => {
  broker = await startBroker();
  admin = new AdminClient({ address: broker.address });
  producer = new Producer({ nameServer: broker.nameSrv, group: uniqueName('P') });
  await producer.start();
});
afterAll(async () => {
  await producer?.shutdown();
  admin?.close();
  await broker?.stop();
});

async function sendN(topic: string, n: number, keyPrefix = 'k'): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await producer.send({ topic, body: `m${i}`, keys: `${keyPrefix}${i}` })).msgId);
  return ids;
}

describe('topics', () => {
  it('creates, lists, describes and deletes a topic', async () => {
    const topic = uniqueName('T');
    await admin.createTopic(topic, { queueNums: 3 });
    const listed = (await admin.topicConfigs()).find((t) => t.topicName === topic);
    expect(listed).toEqual({ topicName: topic, readQueueNums: 3, writeQueueNums: 3, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false });
    await sendN(topic, 6);
    const stats = await admin.topicStats(topic);
    expect(stats.map((s) => s.queue.queueId)).toEqual([0, 1, 2]);
    expect(stats.reduce((sum, s) => sum + s.value.maxOffset, 0)).toBe(6);
    for (const s of stats) {
      expect(s.queue.brokerName).toBe('broker-a');
      if (s.value.maxOffset > 0) expect(s.value.lastUpdateTimestamp).toBeGreaterThan(Date.now() - 60_000);
    }
    await admin.deleteTopic(topic);
    expect((await admin.topicConfigs()).some((t) => t.topicName === topic)).toBe(false);
  });

  it('answers 17 TOPIC_NOT_EXIST for the stats of an unknown topic', async () => {
    const err = await admin.topicStats(uniqueName('nope')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BrokerResponseError);
    expect((err as BrokerResponseError).code).toBe(ResponseCode.TOPIC_NOT_EXIST);
  });

  it('lists topics for the name-server codes 206 and 224, and describes the cluster (106)', async () => {
    const topic = uniqueName('T');
    createTopic(broker, topic, 1);
    const raw = await RawClient.connect(broker.port);
    try {
      const all = await raw.request(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER);
      expect(parseRocketMQJson<{ topicList: string[] }>(all.body!).topicList).toContain(topic);
      const byCluster = await raw.request(RequestCode.GET_TOPICS_BY_CLUSTER, { cluster: 'DefaultCluster' });
      expect(parseRocketMQJson<{ topicList: string[] }>(byCluster.body!).topicList).toContain(topic);
      expect((await raw.request(RequestCode.GET_TOPICS_BY_CLUSTER, { cluster: 'Other' })).code).toBe(ResponseCode.SYSTEM_ERROR);
      const cluster = parseRocketMQJson((await raw.request(RequestCode.GET_BROKER_CLUSTER_INFO)).body!);
      expect(cluster).toEqual({
        brokerAddrTable: { 'broker-a': { cluster: 'DefaultCluster', brokerName: 'broker-a', brokerAddrs: { '0': broker.address } } },
        clusterAddrTable: { DefaultCluster: ['broker-a'] },
      });
    } finally {
      raw.close();
    }
  });
});

describe('groups and offsets', () => {
  it('reports consumption per queue, the live consumers, and every committed offset', async () => {
    const topic = uniqueName('T');
    const group = uniqueName('G');
    createTopic(broker, topic, 2);
    await sendN(topic, 4);
    const got: ReceivedMessage[] = [];
    const consumer = new PushConsumer({ nameServer: broker.nameSrv, group, consumeFromWhere: 'FIRST_OFFSET', persistOffsetIntervalMs: 100 });
    consumer.subscribe(topic, '*');
    await consumer.start(async (msgs) => void got.push(...msgs));
    try {
      await waitFor(() => got.length === 4, { what: '4 messages consumed' });
      const stats = (await waitFor(async () => {
        const s = await admin.consumeStats(group);
        const mine = s.offsetTable.filter((e) => e.queue.topic === topic);
        return mine.length === 2 && mine.every((e) => e.value.consumerOffset === e.value.brokerOffset) ? mine : undefined;
      }, { what: 'offsets committed' }))!;
      expect(stats.reduce((sum, e) => sum + e.value.brokerOffset, 0)).toBe(4);
      for (const e of stats) if (e.value.consumerOffset > 0) expect(e.value.lastTimestamp).toBeGreaterThan(0);

      const connections = await admin.consumerConnections(group);
      expect(connections?.connectionSet.map((c) => c.clientId)).toEqual([consumer.clientId]);
      expect(connections?.messageModel).toBe('CLUSTERING');
      expect(Object.keys(connections?.subscriptionTable ?? {})).toContain(topic);

      const all = await admin.allConsumerOffsets();
      expect(Object.values(all[`${topic}@${group}`] ?? {}).reduce((a, b) => a + b, 0)).toBe(4);
    } finally {
      await consumer.shutdown();
    }
    expect(await admin.consumerConnections(group)).toBeUndefined();
  });

  it('lists the producers of a group (204) and answers SYSTEM_ERROR for an unknown one', async () => {
    const connections = await admin.producerConnections(producer.group);
    expect(connections.map((c) => c.clientId)).toContain(producer.clientId);
    expect(await admin.producerConnections(uniqueName('nobody'))).toEqual([]);
  });

  it('creates, lists and deletes subscription groups (200/201/207)', async () => {
    const group = uniqueName('G');
    await admin.createSubscriptionGroup({ groupName: group, retryMaxTimes: 3 });
    const found = (await admin.subscriptionGroups()).find((g) => g.groupName === group);
    expect(found).toMatchObject({ groupName: group, retryMaxTimes: 3, consumeEnable: true, retryQueueNums: 1 });
    await admin.deleteSubscriptionGroup(group);
    expect((await admin.subscriptionGroups()).some((g) => g.groupName === group)).toBe(false);
    const bad = await admin.createSubscriptionGroup({ groupName: group, retryQueueNums: -1 }).catch((e: unknown) => e);
    expect((bad as BrokerResponseError).remark).toMatch(/retryQueueNums must be in 1\.\.64/);
  });

  it('resets by time to the first message stored at or after it (lag = messages since), to latest, earliest and an offset', async () => {
    const topic = uniqueName('T');
    const group = uniqueName('G');
    createTopic(broker, topic, 1);
    await admin.createSubscriptionGroup({ groupName: group });
    const ids = await sendN(topic, 6);
    await new Promise((r) => setTimeout(r, 5));
    ids.push(...(await sendN(topic, 4)));
    const storeTimes = await Promise.all(ids.map(async (id) => (await admin.viewMessage(id))!.storeTimestamp));
    for (const pivot of [0, 5, 6, 9]) {
      const at = storeTimes[pivot]!;
      const result = await admin.resetOffset({ group, topic, to: { timestamp: at } });
      const expectedLag = storeTimes.filter((t) => t >= at).length;
      expect(result.offsets.map((e) => e.value)).toEqual([10 - expectedLag]);
      const stats = await admin.consumeStats(group, topic);
      expect(stats.offsetTable[0]!.value.brokerOffset - stats.offsetTable[0]!.value.consumerOffset).toBe(expectedLag);
    }
    expect((await admin.resetOffset({ group, topic, to: { timestamp: storeTimes[9]! + 1 } })).offsets[0]!.value).toBe(10);
    expect((await admin.resetOffset({ group, topic, to: { earliest: true } })).offsets[0]!.value).toBe(0);
    expect((await admin.resetOffset({ group, topic, to: { latest: true } })).offsets[0]!.value).toBe(10);
    expect((await admin.resetOffset({ group, topic, to: { offset: 3 } })).offsets[0]!.value).toBe(3);
    expect((await admin.resetOffset({ group, topic, to: { offset: 99 } })).offsets[0]!.value).toBe(10);
  });

  it('refuses a reset for an unknown group (26) or topic (17), and keeps isForce=false from moving forwards', async () => {
    const topic = uniqueName('T');
    const group = uniqueName('G');
    createTopic(broker, topic, 1);
    await sendN(topic, 3);
    const unknownGroup = await admin.resetOffset({ group, topic, to: { earliest: true } }).catch((e: unknown) => e);
    expect((unknownGroup as BrokerResponseError).code).toBe(ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST);
    await admin.createSubscriptionGroup({ groupName: group });
    const unknownTopic = await admin.resetOffset({ group, topic: uniqueName('T'), to: { earliest: true } }).catch((e: unknown) => e);
    expect((unknownTopic as BrokerResponseError).code).toBe(ResponseCode.TOPIC_NOT_EXIST);

    await admin.resetOffset({ group, topic, to: { offset: 1 } });
    // mqadmin's header: isForce=false may only move backwards.
    const raw = await RawClient.connect(broker.port);
    try {
      const forward = await raw.request(RequestCode.INVOKE_BROKER_TO_RESET_OFFSET, { topic, group, timestamp: -1, isForce: false });
      expect(forward.code).toBe(ResponseCode.SUCCESS);
      expect(decodeResetOffsetBody(forward.body!)[0]!.value).toBe(1);
      const backward = await raw.request(RequestCode.INVOKE_BROKER_TO_RESET_OFFSET, { topic, group, timestamp: 0, isForce: false });
      expect(decodeResetOffsetBody(backward.body!)[0]!.value).toBe(0);
    } finally {
      raw.close();
    }
  });

  it('moves a running consumer: it re-receives from the reset position', async () => {
    const topic = uniqueName('T');
    const group = uniqueName('G');
    createTopic(broker, topic, 2);
    await sendN(topic, 8);
    const got: ReceivedMessage[] = [];
    const consumer = new PushConsumer({ nameServer: broker.nameSrv, group, consumeFromWhere: 'FIRST_OFFSET', persistOffsetIntervalMs: 100 });
    consumer.subscribe(topic, '*');
    await consumer.start(async (msgs) => void got.push(...msgs));
    try {
      await waitFor(() => got.length === 8, { what: 'first pass' });
      const result = await admin.resetOffset({ group, topic, to: { earliest: true } });
      expect(result.notifiedClients).toBe(1);
      await waitFor(() => got.length === 16, { what: 'second pass after the reset', timeoutMs: 15_000 });
      const bodies = got.slice(8).map((m) => m.body.toString()).sort();
      expect(bodies).toEqual(got.slice(0, 8).map((m) => m.body.toString()).sort());
      // Nothing else arrives, and the committed offsets end at the end again.
      await waitFor(async () => (await admin.consumeStats(group, topic)).offsetTable.every((e) => e.value.consumerOffset === e.value.brokerOffset), { what: 'caught up' });
      expect(got.length).toBe(16);
    } finally {
      await consumer.shutdown();
    }
  });
});

describe('runtime info', () => {
  it('reports version, uptime, flush mode, disk use, counts and counters as strings', async () => {
    const info = await admin.runtimeInfo();
    expect(info.ferrymqVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(info.flushDiskType).toBe('SYNC_FLUSH');
    expect(Number(info.uptimeMs)).toBeGreaterThanOrEqual(0);
    expect(info.runtime).toMatch(/^\[ \d+ days, \d+ hours, \d+ minutes, \d+ seconds \]$/);
    expect(Number(info.connectionCount)).toBeGreaterThanOrEqual(1);
    expect(Number(info.topicCount)).toBeGreaterThanOrEqual(1);
    for (const key of ['commitLogDiskRatio', 'storeTotalBytes', 'msgPutTotal', 'msgConsumedTotal', 'bootTimestamp']) {
      expect(Number.isFinite(Number(info[key])), key).toBe(true);
    }
    // RocketMQ's keys, computed from store times: everything in this file was stored minutes ago at most.
    const total = Number(info.msgPutTotal);
    expect(total).toBeGreaterThan(0);
    const [, , tps600] = info.putTps!.split(' ').map(Number);
    expect(Math.abs(tps600! * 600 - total)).toBeLessThanOrEqual(3);
    expect(info.msgPutTotalTodayNow).toBe(String(total));
    expect(Number(info.msgPutTotalYesterdayMorning)).toBe(0);
    expect(Number(info.earliestMessageTimeStamp)).toBeGreaterThan(Date.now() - 600_000);
    for (const key of ['getTransferedTps', 'msgPutTotalTodayMorning', 'msgGetTotalTodayNow', 'msgGetTotalTodayMorning', 'msgGetTotalYesterdayMorning', 'pageCacheLockTimeMills', 'sendThreadPoolQueueSize', 'sendThreadPoolQueueHeadWaitTimeMills', 'pullThreadPoolQueueSize', 'pullThreadPoolQueueHeadWaitTimeMills']) {
      expect(info[key], key).toBeDefined();
    }
  });
});
