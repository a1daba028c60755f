import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeBatchBody } from '../../protocol/batch-codec.js';
import { parseRocketMQJson, type LockBatchResponseBody, type TopicRouteData } from '../../protocol/bodies.js';
import { scanRecords } from '../../protocol/message-codec.js';
import { decodeOffsetMsgId } from '../../protocol/message-id.js';
import type { RemotingCommand } from '../../protocol/remoting-command.js';
import { RequestCode } from '../../protocol/request-code.js';
import { ResponseCode } from '../../protocol/response-code.js';
import { uniqueName } from '../helpers/common.js';
import { createTopic, RawClient, sendHeaderV2, startBroker, type TestBroker } from '../helpers/broker.js';

let broker: TestBroker;
let client: RawClient;

beforeAll(async () => {
  broker = await startBroker({ lockLeaseMs: 1500, store: { maxMessageSize: 64 * 1024 } });
  client = await RawClient.connect(broker.port);
});
afterAll(async () => {
  client.close();
  await broker.stop();
});

function send(topic: string, body: string, properties: Record<string, string> = {}, queueId = 0, via = client) {
  const props = Object.entries(properties).map(([k, v]) => `${k}\u0001${v}\u0002`).join('');
  return via.request(RequestCode.SEND_MESSAGE_V2, sendHeaderV2(topic, { queueId, properties: props }), Buffer.from(body));
}

const PULL_SUSPEND = 2;
const PULL_SUBSCRIPTION = 4;

function pull(topic: string, queueOffset: number, opts: { group?: string; subscription?: string; sysFlag?: number; suspendTimeoutMillis?: number; commitOffset?: number; queueId?: number; maxMsgNums?: number; via?: RawClient } = {}) {
  return (opts.via ?? client).request(
    RequestCode.PULL_MESSAGE,
    {
      consumerGroup: opts.group ?? 'CG',
      topic,
      queueId: opts.queueId ?? 0,
      queueOffset,
      maxMsgNums: opts.maxMsgNums ?? 32,
      sysFlag: opts.sysFlag ?? PULL_SUBSCRIPTION,
      commitOffset: opts.commitOffset ?? 0,
      suspendTimeoutMillis: opts.suspendTimeoutMillis ?? 0,
      subscription: opts.subscription ?? '*',
      subVersion: Date.now(),
    },
    undefined,
    20_000,
  );
}

describe('send, pull and lookups', () => {
  it('answers a send with the msgId of the stored record, which VIEW_MESSAGE_BY_ID resolves', async () => {
    const topic = uniqueName('view');
    createTopic(broker, topic, 2);
    const sent = await send(topic, 'hello', { TAGS: 'A', KEYS: 'order-1 order-2' }, 1);
    expect(sent.code).toBe(ResponseCode.SUCCESS);
    expect(sent.extFields.queueId).toBe('1');
    expect(sent.extFields.queueOffset).toBe('0');
    // The Java client fills SendResult.regionId and traceOn from these two.
    expect(sent.extFields).toMatchObject({ MSG_REGION: 'DefaultRegion', TRACE_ON: 'true' });
    const id = decodeOffsetMsgId(sent.extFields.msgId);
    expect(`${id.ip}:${id.port}`).toBe(broker.address);
    const viewed = await client.request(RequestCode.VIEW_MESSAGE_BY_ID, { offset: id.physicalOffset });
    expect(viewed.code).toBe(ResponseCode.SUCCESS);
    const [record] = scanRecords(viewed.body!).records;
    expect(record.msgId).toBe(sent.extFields.msgId);
    expect(record.topic).toBe(topic);
    expect(record.body.toString()).toBe('hello');
    expect(record.propertyMap.CLUSTER).toBe('DefaultCluster');
    const missing = await client.request(RequestCode.VIEW_MESSAGE_BY_ID, { offset: id.physicalOffset + 1_000_000 });
    expect(missing.code).toBe(ResponseCode.SYSTEM_ERROR);

    // Java clients send Long.MAX_VALUE for "no upper bound".
    const byKey = await client.request(RequestCode.QUERY_MESSAGE, { topic, key: 'order-2', maxNum: 10, beginTimestamp: 0, endTimestamp: '9223372036854775807' });
    expect(byKey.code).toBe(ResponseCode.SUCCESS);
    expect(scanRecords(byKey.body!).records.map((r) => r.msgId)).toEqual([sent.extFields.msgId]);
    const noKey = await client.request(RequestCode.QUERY_MESSAGE, { topic, key: 'nope', maxNum: 10, beginTimestamp: 0, endTimestamp: Date.now() + 60_000 });
    expect(noKey.code).toBe(ResponseCode.QUERY_NOT_FOUND);
  });

  it('answers a pull with as many messages as asked, up to pullMaxMessages (256)', async () => {
    const topic = uniqueName('pullsize');
    createTopic(broker, topic, 1);
    const sends = await Promise.all(Array.from({ length: 300 }, (_, i) => send(topic, `m${i}`)));
    expect(sends.every((r) => r.code === ResponseCode.SUCCESS)).toBe(true);
    const count = async (maxMsgNums: number) => scanRecords((await pull(topic, 0, { maxMsgNums })).body!).records.length;
    expect(await count(32)).toBe(32);
    expect(await count(100)).toBe(100);
    expect(await count(1000)).toBe(256);
  });

  it('filters pulls by tag and always reports the offsets', async () => {
    const topic = uniqueName('tags');
    createTopic(broker, topic, 1);
    for (const tag of ['A', 'B', 'A', 'C']) expect((await send(topic, `m-${tag}`, { TAGS: tag })).code).toBe(0);
    const found = await pull(topic, 0, { subscription: 'A || C' });
    expect(found.code).toBe(ResponseCode.SUCCESS);
    expect(scanRecords(found.body!).records.map((r) => r.body.toString())).toEqual(['m-A', 'm-A', 'm-C']);
    expect(found.extFields).toMatchObject({ nextBeginOffset: '4', minOffset: '0', maxOffset: '4', suggestWhichBrokerId: '0' });

    const none = await pull(topic, 4);
    expect(none.code).toBe(ResponseCode.PULL_NOT_FOUND);
    expect(none.extFields).toMatchObject({ nextBeginOffset: '4', minOffset: '0', maxOffset: '4', suggestWhichBrokerId: '0' });
    const moved = await pull(topic, 9);
    expect(moved.code).toBe(ResponseCode.PULL_OFFSET_MOVED);
    expect(moved.extFields.nextBeginOffset).toBe('4'); // RocketMQ 4.9.7/4.9.8: back to the end
    const filteredOut = await pull(topic, 1, { subscription: 'Z' });
    expect(filteredOut.code).toBe(ResponseCode.PULL_RETRY_IMMEDIATELY);
    expect(filteredOut.extFields.nextBeginOffset).toBe('4');
    const badExpression = await pull(topic, 0, { subscription: '||' });
    expect(badExpression.code).toBe(ResponseCode.SUBSCRIPTION_PARSE_FAILED);
    const unknownTopic = await pull(uniqueName('none'), 0);
    expect(unknownTopic.code).toBe(ResponseCode.TOPIC_NOT_EXIST);

    const max = await client.request(RequestCode.GET_MAX_OFFSET, { topic, queueId: 0 });
    const min = await client.request(RequestCode.GET_MIN_OFFSET, { topic, queueId: 0 });
    const earliest = await client.request(RequestCode.GET_EARLIEST_MSG_STORETIME, { topic, queueId: 0 });
    const search = await client.request(RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, { topic, queueId: 0, timestamp: Date.now() + 60_000 });
    expect([max.extFields.offset, min.extFields.offset, search.extFields.offset]).toEqual(['4', '0', '3']);
    expect(Math.abs(Number(earliest.extFields.timestamp) - Date.now())).toBeLessThan(60_000);
  });

  it('wakes a held pull soon after an append, after the send response', async () => {
    const topic = uniqueName('hold');
    createTopic(broker, topic, 1);
    const events: string[] = [];
    const held = pull(topic, 0, { sysFlag: PULL_SUBSCRIPTION | PULL_SUSPEND, suspendTimeoutMillis: 10_000 }).then((r) => {
      events.push('pull');
      return r;
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(broker.broker.context.pullHolds.heldCount()).toBeGreaterThan(0);
    const startedAt = Date.now();
    const sent = send(topic, 'wake').then((r) => {
      events.push('send');
      return r;
    });
    const response = await held;
    const wokeAfterMs = Date.now() - startedAt;
    await sent;
    expect(events).toEqual(['send', 'pull']);
    expect(response.code).toBe(ResponseCode.SUCCESS);
    expect(scanRecords(response.body!).records[0].body.toString()).toBe('wake');
    expect(wokeAfterMs).toBeLessThan(1000); // generous: the service wakes it at once
  });

  it('answers a held pull with 19 when its suspend time passes', async () => {
    const topic = uniqueName('timeout');
    createTopic(broker, topic, 1);
    const startedAt = Date.now();
    const response = await pull(topic, 0, { sysFlag: PULL_SUBSCRIPTION | PULL_SUSPEND, suspendTimeoutMillis: 300 });
    const waited = Date.now() - startedAt;
    expect(response.code).toBe(ResponseCode.PULL_NOT_FOUND);
    expect(response.extFields).toMatchObject({ nextBeginOffset: '0', maxOffset: '0', suggestWhichBrokerId: '0' });
    expect(waited).toBeGreaterThanOrEqual(250);
    expect(waited).toBeLessThan(5000);
  });

  it('stores batches with consecutive offsets', async () => {
    const topic = uniqueName('batch');
    createTopic(broker, topic, 1);
    const body = encodeBatchBody(['x', 'y', 'z'].map((b) => ({ flag: 0, body: Buffer.from(b), properties: `KEYS\u0001k-${b}\u0002` })));
    const header = sendHeaderV2(topic, { batch: true });
    const response = await client.request(RequestCode.SEND_BATCH_MESSAGE, header, body);
    expect(response.code).toBe(ResponseCode.SUCCESS);
    expect(response.extFields.msgId.split(',')).toHaveLength(3);
    expect(response.extFields).toMatchObject({ queueId: '0', queueOffset: '0', MSG_REGION: 'DefaultRegion', TRACE_ON: 'true' });
    const pulled = await pull(topic, 0);
    expect(scanRecords(pulled.body!).records.map((r) => [r.queueOffset, r.body.toString()])).toEqual([[0, 'x'], [1, 'y'], [2, 'z']]);
    const bad = await client.request(RequestCode.SEND_BATCH_MESSAGE, header, Buffer.from('garbage!'));
    expect(bad.code).toBe(ResponseCode.MESSAGE_ILLEGAL);
    expect(bad.remark).toMatch(/^bad batch body: batch entry 0 at byte 0: /);
  });

  it('answers a delayed send with the queue the producer asked for', async () => {
    const topic = uniqueName('delayed');
    createTopic(broker, topic, 4);
    const sent = await send(topic, 'later', { DELAY: '3' }, 3);
    expect(sent.code).toBe(ResponseCode.SUCCESS);
    expect(sent.extFields.queueId).toBe('3');
  });

  it('keeps half messages invisible until END_TRANSACTION commits them; a rollback drops them', async () => {
    const topic = uniqueName('tx');
    createTopic(broker, topic, 2);
    const half = async (body: string) => {
      const sent = await send(topic, body, { TRAN_MSG: 'true', PGROUP: 'PG', TAGS: 'T' }, 1);
      expect(sent.code).toBe(ResponseCode.SUCCESS);
      expect(sent.extFields.queueId).toBe('1');
      return sent;
    };
    const end = (sent: RemotingCommand, commitOrRollback: number, producerGroup = 'PG') =>
      client.request(RequestCode.END_TRANSACTION, {
        producerGroup,
        tranStateTableOffset: sent.extFields.queueOffset,
        commitLogOffset: decodeOffsetMsgId(sent.extFields.msgId).physicalOffset,
        commitOrRollback,
        fromTransactionCheck: false,
        msgId: sent.extFields.msgId,
      });
    const committed = await half('commit-me');
    const rolledBack = await half('roll-me-back');
    expect((await pull(topic, 0, { queueId: 1 })).code).toBe(ResponseCode.PULL_NOT_FOUND);
    expect((await end(committed, 8, 'other-group')).code).toBe(ResponseCode.SYSTEM_ERROR);
    expect((await end(committed, 8)).code).toBe(ResponseCode.SUCCESS);
    expect((await end(rolledBack, 12)).code).toBe(ResponseCode.SUCCESS);
    const pulled = await pull(topic, 0, { queueId: 1 });
    const records = scanRecords(pulled.body!).records;
    expect(records.map((r) => r.body.toString())).toEqual(['commit-me']);
    expect(records[0].propertyMap.TRAN_MSG).toBeUndefined();
    expect(records[0].propertyMap.REAL_TOPIC).toBeUndefined();
    expect(records[0].sysFlag & 0xc).toBe(8);
  });

  it('accepts TAG subscriptions in CHECK_CLIENT_CONFIG and refuses SQL92 ones', async () => {
    const body = (expressionType: string) => Buffer.from(JSON.stringify({ clientId: 'c', group: 'g', subscriptionData: { topic: 't', subString: 'a > 1', expressionType } }));
    expect((await client.request(RequestCode.CHECK_CLIENT_CONFIG, {}, body('TAG'))).code).toBe(ResponseCode.SUCCESS);
    const sql = await client.request(RequestCode.CHECK_CLIENT_CONFIG, {}, body('SQL92'));
    expect(sql.code).toBe(ResponseCode.SYSTEM_ERROR);
    expect(sql.remark).toMatch(/SQL92/);
  });

  it('refuses a body over the store limit and stores nothing', async () => {
    const topic = uniqueName('big');
    createTopic(broker, topic, 1);
    const limit = broker.broker.context.config.store.maxMessageSize;
    const response = await send(topic, 'x'.repeat(limit + 1));
    expect(response.code).toBe(ResponseCode.MESSAGE_ILLEGAL);
    expect((await client.request(RequestCode.GET_MAX_OFFSET, { topic, queueId: 0 })).extFields.offset).toBe('0');
  });

  it('creates and deletes topics', async () => {
    const topic = uniqueName('admin');
    const created = await client.request(RequestCode.UPDATE_AND_CREATE_TOPIC, { topic, readQueueNums: 2, writeQueueNums: 2, perm: 6, topicSysFlag: 0, order: false, defaultTopic: 'TBW102', topicFilterType: 'SINGLE_TAG' });
    expect(created.code).toBe(ResponseCode.SUCCESS);
    const route = await client.request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic });
    expect(parseRocketMQJson<TopicRouteData>(route.body!).queueDatas[0].writeQueueNums).toBe(2);
    expect((await send(topic, 'x', {}, 1)).code).toBe(0);
    expect((await send(topic, 'x', {}, 2)).code).toBe(ResponseCode.SYSTEM_ERROR); // queueId out of range
    const tooMany = await client.request(RequestCode.UPDATE_AND_CREATE_TOPIC, { topic, readQueueNums: 100_000, writeQueueNums: 1 });
    expect(tooMany.code).toBe(ResponseCode.SYSTEM_ERROR);
    expect((await client.request(RequestCode.DELETE_TOPIC_IN_BROKER, { topic })).code).toBe(ResponseCode.SUCCESS);
    expect((await client.request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic })).code).toBe(ResponseCode.TOPIC_NOT_EXIST);
  });
});

describe('offsets', () => {
  it('commits, ignores negatives, answers 0 for a new group on a young queue, and survive a restart', async () => {
    const topic = uniqueName('offsets');
    const group = uniqueName('G');
    createTopic(broker, topic, 2);
    const query = (queueId: number, via = client) => via.request(RequestCode.QUERY_CONSUMER_OFFSET, { consumerGroup: group, topic, queueId });
    expect((await query(0)).extFields.offset).toBe('0');
    await client.request(RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: group, topic, queueId: 0, commitOffset: 5 });
    await client.request(RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: group, topic, queueId: 0, commitOffset: -1 });
    expect((await query(0)).extFields.offset).toBe('5');
    // The pull piggyback commits too (sysFlag bit 1).
    await pull(topic, 0, { group, queueId: 1, sysFlag: PULL_SUBSCRIPTION | 1, commitOffset: 3 });
    expect((await query(1)).extFields.offset).toBe('3');

    client.close();
    await broker.restart();
    client = await RawClient.connect(broker.port);
    expect((await query(0)).extFields.offset).toBe('5');
    expect((await query(1)).extFields.offset).toBe('3');
  });
});

describe('orderly locks', () => {
  it('keeps a locked queue from a second client until release or lease expiry', async () => {
    const topic = uniqueName('locks');
    const group = uniqueName('G');
    createTopic(broker, topic, 2);
    const other = await RawClient.connect(broker.port);
    const mq = (queueId: number) => ({ topic, brokerName: 'broker-a', queueId });
    const lock = async (via: RawClient, clientId: string, queues: number[]) => {
      const body = Buffer.from(JSON.stringify({ consumerGroup: group, clientId, mqSet: queues.map(mq) }));
      const response = await via.request(RequestCode.LOCK_BATCH_MQ, {}, body);
      expect(response.code).toBe(ResponseCode.SUCCESS);
      return parseRocketMQJson<LockBatchResponseBody>(response.body!).lockOKMQSet.map((q) => q.queueId).sort();
    };
    expect(await lock(client, 'c1', [0, 1])).toEqual([0, 1]);
    expect(await lock(other, 'c2', [0, 1])).toEqual([]);
    const unlockBody = Buffer.from(JSON.stringify({ consumerGroup: group, clientId: 'c1', mqSet: [mq(0)] }));
    expect((await client.request(RequestCode.UNLOCK_BATCH_MQ, {}, unlockBody)).code).toBe(ResponseCode.SUCCESS);
    expect(await lock(other, 'c2', [0, 1])).toEqual([0]);
    await new Promise((r) => setTimeout(r, 1700)); // the 1.5 s test lease of c1 on queue 1 expires
    expect(await lock(other, 'c2', [0, 1])).toEqual([0, 1]); // renews 0, takes 1
    expect(await lock(client, 'c1', [0, 1])).toEqual([]);
    const bad = await other.request(RequestCode.LOCK_BATCH_MQ, {}, Buffer.from('{"clientId":1}'));
    expect(bad.code).toBe(ResponseCode.SYSTEM_ERROR);
    other.close();
  });
});
