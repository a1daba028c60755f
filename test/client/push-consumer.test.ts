/**
 * Push-consumer and producer behaviour that needs a broker but not the full compatibility suite:
 * DLQ after max reconsume times (concurrent and orderly), the send-back fallback, producer retries,
 * duplicates, notify-driven rebalance, graceful shutdown, unique client ids. Runs against FerryMQ.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConsumeStatus, Producer, PullConsumer, PushConsumer, type PushConsumerOptions, type ReceivedMessage } from '../../client/index.js';
import { AdminClient } from '../../client/admin.js';
import { MessageConst } from '../../protocol/properties.js';
import { createTopic, startBroker, type TestBroker } from '../helpers/broker.js';
import { uniqueName, waitFor } from '../helpers/common.js';
import { FAST } from './sdk-suite.js';

let broker: TestBroker;
const cleanups: Array<() => unknown> = [];

beforeAll(async () => {
  broker = await startBroker({ messageDelayLevel: Array(18).fill('100ms').join(' ') });
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await broker?.stop();
});

async function producer(): Promise<Producer> {
  const p = new Producer({ nameServer: broker.nameSrv, group: uniqueName('PG'), ...FAST });
  await p.start();
  cleanups.push(() => p.shutdown());
  return p;
}

async function consumer(group: string, topic: string, listener: (msgs: ReceivedMessage[]) => unknown, extra: Partial<PushConsumerOptions> = {}): Promise<PushConsumer> {
  const c = new PushConsumer({ nameServer: broker.nameSrv, group, consumeFromWhere: 'FIRST_OFFSET', ...FAST, rebalanceIntervalMs: 500, persistOffsetIntervalMs: 300, pullSuspendMs: 1_000, ...extra });
  c.subscribe(topic);
  await c.start(async (msgs) => listener(msgs) as ConsumeStatus | void);
  cleanups.push(() => c.shutdown());
  return c;
}

/** Everything in a group's dead-letter queue. */
async function readDlq(group: string, expected: number): Promise<ReceivedMessage[]> {
  const reader = new PullConsumer({ nameServer: broker.nameSrv, group: uniqueName('DLQREADER'), consumeFromWhere: 'FIRST_OFFSET', autoCommit: false, ...FAST });
  await reader.start();
  cleanups.push(() => reader.shutdown());
  const queues = await waitFor(() => reader.queuesOf(`%DLQ%${group}`), { what: 'DLQ route', timeoutMs: 10_000 });
  await reader.assign(queues);
  const out: ReceivedMessage[] = [];
  await waitFor(async () => {
    out.push(...(await reader.poll(200)));
    return out.length >= expected;
  }, { what: `${expected} DLQ messages`, timeoutMs: 10_000 });
  return out;
}

describe('retry and dead-letter queue', () => {
  it('concurrent: a message that always fails is redelivered exactly 16 times (the default max), then one copy lands in the DLQ', async () => {
    const topic = uniqueName('T');
    const group = uniqueName('G');
    createTopic(broker, topic, 1);
    const deliveries: number[] = [];
    const c = await consumer(group, topic, (msgs) => {
      deliveries.push(msgs[0]!.reconsumeTimes);
      throw new Error('always fails');
    });
    const p = await producer();
    const sent = await p.send({ topic, body: 'doomed' });
    const dlq = await readDlq(group, 1);
    await new Promise((r) => setTimeout(r, 500));
    expect(deliveries).toEqual(Array.from({ length: 17 }, (_, i) => i));
    expect(dlq).toHaveLength(1);
    expect(dlq[0]!.body.toString()).toBe('doomed');
    expect(dlq[0]!.uniqKey).toBe(sent.uniqKey);
    expect(c.stats()).toMatchObject({ failed: 17, sentBack: 17 });
  });

  it('concurrent: maxReconsumeTimes is honoured', async () => {
    const topic = uniqueName('T');
    const group = uniqueName('G');
    createTopic(broker, topic, 1);
    const deliveries: number[] = [];
    await consumer(group, topic, (msgs) => {
      deliveries.push(msgs[0]!.reconsumeTimes);
      return ConsumeStatus.RECONSUME_LATER;
    }, { maxReconsumeTimes: 2 });
    const p = await producer();
    await p.send({ topic, body: 'doomed' });
    await readDlq(group, 1);
    expect(deliveries).toEqual([0, 1, 2]);
  });

  it('orderly: a failing batch is retried locally, in place, and goes to the DLQ only after the max', async () => {
    const topic = uniqueName('T');
    const group = uniqueName('G');
    createTopic(broker, topic, 1);
    const seen: string[] = [];
    const c = await consumer(group, topic, (msgs) => {
      const body = msgs[0]!.body.toString();
      seen.push(`${body}#${msgs[0]!.reconsumeTimes}`);
      return body === 'bad' ? ConsumeStatus.RECONSUME_LATER : ConsumeStatus.SUCCESS;
    }, { orderly: true, maxReconsumeTimes: 2, suspendCurrentQueueTimeMs: 50 });
    const p = await producer();
    for (const body of ['a', 'bad', 'b']) await p.send({ topic, body });
    await waitFor(() => seen.includes('b#0'), { what: 'b consumed after bad gave up' });
    expect(seen).toEqual(['a#0', 'bad#0', 'bad#1', 'bad#2', 'b#0']);
    const dlq = await readDlq(group, 1);
    expect(dlq[0]!.body.toString()).toBe('bad');
    expect(c.stats()).toMatchObject({ consumed: 2, failed: 3, sentBack: 1 });
  });

  it('falls back to publishing to %RETRY%<group> when send-back (36) fails', async () => {
    const topic = uniqueName('T');
    const group = uniqueName('G');
    createTopic(broker, topic, 1);
    const deliveries: ReceivedMessage[] = [];
    const c = await consumer(group, topic, (msgs) => {
      deliveries.push(msgs[0]!);
      return msgs[0]!.reconsumeTimes === 0 ? ConsumeStatus.RECONSUME_LATER : ConsumeStatus.SUCCESS;
    });
    const api = (c as unknown as { instance: { api: { sendBack: () => Promise<void> } } }).instance.api;
    let refused = 0;
    api.sendBack = async () => {
      refused++;
      throw new Error('send-back refused for this test');
    };
    const p = await producer();
    const sent = await p.send({ topic, body: 'fallback' });
    await waitFor(() => deliveries.length === 2, { what: 'redelivery through the retry topic', timeoutMs: 10_000 });
    const retried = deliveries[1]!;
    expect(refused).toBe(1);
    expect(retried.queue.topic).toBe(`%RETRY%${group}`);
    expect(retried.topic).toBe(topic);
    expect(retried.reconsumeTimes).toBe(1);
    expect(retried.originMessageId).toBe(sent.msgId);
    expect(retried.properties[MessageConst.RETRY_TOPIC]).toBe(topic);
  });
});

describe('producer', () => {
  it('retries a failed send on another queue', async () => {
    const topic = uniqueName('T');
    createTopic(broker, topic, 4);
    const p = await producer();
    const api = (p as unknown as { instance: { api: { send: (...args: unknown[]) => Promise<unknown> } } }).instance.api;
    const original = api.send.bind(api);
    const queuesTried: number[] = [];
    api.send = async (...args: unknown[]) => {
      const header = args[1] as { queueId: number };
      queuesTried.push(header.queueId);
      if (queuesTried.length === 1) throw new Error('injected failure');
      return original(...args);
    };
    try {
      const result = await p.send({ topic, body: 'x' });
      expect(queuesTried).toHaveLength(2);
      expect(queuesTried[1]).not.toBe(queuesTried[0]);
      expect(result.queue.queueId).toBe(queuesTried[1]);
    } finally {
      api.send = original;
    }
  });

  it('gives up after retryTimesWhenSendFailed', async () => {
    const topic = uniqueName('T');
    createTopic(broker, topic, 4);
    const p = new Producer({ nameServer: broker.nameSrv, group: uniqueName('PG'), retryTimesWhenSendFailed: 1, instanceName: uniqueName('i'), ...FAST });
    await p.start();
    cleanups.push(() => p.shutdown());
    const api = (p as unknown as { instance: { api: { send: () => Promise<unknown> } } }).instance.api;
    let calls = 0;
    api.send = async () => {
      calls++;
      throw new Error('always down');
    };
    await expect(p.send({ topic, body: 'x' })).rejects.toThrow('always down');
    expect(calls).toBe(2);
  });

  it('a message with a sharding key goes to its key\'s queue without naming a selector', async () => {
    const topic = uniqueName('T');
    createTopic(broker, topic, 8);
    const p = await producer();
    const queues = await Promise.all(['a', 'a', 'a', 'b', 'b'].map((key) => p.send({ topic, body: key, shardingKey: key }).then((r) => `${key}${r.queue.queueId}`)));
    expect(new Set(queues.slice(0, 3)).size).toBe(1);
    expect(new Set(queues.slice(3)).size).toBe(1);
  });

  it('skips a dead name server in the list', async () => {
    const topic = uniqueName('T');
    createTopic(broker, topic, 1);
    const p = new Producer({ nameServer: ['127.0.0.1:1', broker.nameSrv], group: uniqueName('PG'), remoting: { connectRetries: 0 }, instanceName: uniqueName('i') });
    await p.start();
    cleanups.push(() => p.shutdown());
    expect((await p.send({ topic, body: 'x' })).status).toBe('SEND_OK');
  });

  it('refuses a second member of one group under one explicit instanceName', async () => {
    const instanceName = uniqueName('i');
    const a = new Producer({ nameServer: broker.nameSrv, group: 'g1', instanceName });
    await a.start();
    cleanups.push(() => a.shutdown());
    await expect(new Producer({ nameServer: broker.nameSrv, group: 'g1', instanceName }).start()).rejects.toThrow(/give each member its own instanceName/);
  });

  it('client ids are unique per instance by default', async () => {
    const a = new Producer({ nameServer: broker.nameSrv, group: 'same-group' });
    const b = new Producer({ nameServer: broker.nameSrv, group: 'same-group' });
    await a.start();
    await b.start();
    cleanups.push(() => a.shutdown(), () => b.shutdown());
    expect(a.clientId).toMatch(/^[\d.]+@\d+-[0-9a-f]{6}/);
    expect(a.clientId).not.toBe(b.clientId);
  });
});

describe('push consumer', () => {
  it('counts duplicate deliveries of one message (same UNIQ_KEY) in a bounded window', async () => {
    const topic = uniqueName('T');
    createTopic(broker, topic, 1);
    const got: ReceivedMessage[] = [];
    const c = await consumer(uniqueName('G'), topic, (msgs) => { got.push(...msgs); });
    const p = await producer();
    // A producer retry after a lost response resends the same message: same UNIQ_KEY.
    for (let i = 0; i < 2; i++) await p.sendRaw(topic, Buffer.from('twice'), { [MessageConst.UNIQ_KEY]: 'DUPLICATE-KEY-1' }, {});
    await p.send({ topic, body: 'once' });
    await waitFor(() => got.length === 3, { what: 'three deliveries' });
    expect(c.duplicateCount).toBe(1);
    expect(c.stats().duplicates).toBe(1);
  });

  it('rebalances on the broker\'s notify, long before the periodic rebalance', async () => {
    const topic = uniqueName('T');
    const group = uniqueName('G');
    createTopic(broker, topic, 4);
    const slow = { rebalanceIntervalMs: 60_000 };
    const c1 = await consumer(group, topic, () => {}, slow);
    await waitFor(() => c1.ownedQueues().filter((q) => q.topic === topic).length === 4, { what: 'c1 owns all' });
    const c2 = await consumer(group, topic, () => {}, slow);
    await waitFor(() => c1.ownedQueues().filter((q) => q.topic === topic).length === 2 && c2.ownedQueues().filter((q) => q.topic === topic).length === 2, { what: '2/2 after notify', timeoutMs: 5_000 });
    await c2.shutdown();
    await waitFor(() => c1.ownedQueues().filter((q) => q.topic === topic).length === 4, { what: 'c1 takes all back after c2 leaves', timeoutMs: 5_000 });
  });

  it('shutdown waits for running listener calls, then commits', async () => {
    const topic = uniqueName('T');
    const group = uniqueName('G');
    createTopic(broker, topic, 1);
    const p = await producer();
    await p.send({ topic, body: 'slow' });
    let finished = false;
    let started = false;
    const c = await consumer(group, topic, async () => {
      started = true;
      await new Promise((r) => setTimeout(r, 300));
      finished = true;
    }, { persistOffsetIntervalMs: 60_000 });
    await waitFor(() => started, { what: 'listener started' });
    await c.shutdown();
    expect(finished).toBe(true);
    const reader = new PullConsumer({ nameServer: broker.nameSrv, group, ...FAST });
    await reader.start();
    cleanups.push(() => reader.shutdown());
    const [mq] = await reader.queuesOf(topic);
    expect(await reader.committed(mq!)).toBe(1);
  });

  it('validates options with clear errors', () => {
    expect(() => new PushConsumer({ nameServer: broker.nameSrv, group: '' })).toThrow(/group is required/);
    expect(() => new PushConsumer({ nameServer: broker.nameSrv, group: 'g', consumeThreadMin: 5, consumeThreadMax: 2 })).toThrow(/consumeThreadMin/);
    expect(() => new PushConsumer({ nameServer: broker.nameSrv, group: 'g', consumeMessageBatchMaxSize: 0 })).toThrow(/consumeMessageBatchMaxSize/);
    expect(() => new PushConsumer({ nameServer: broker.nameSrv, group: 'g' }).subscribe('t', 'A ||')).not.toThrow();
    expect(() => new PushConsumer({ nameServer: broker.nameSrv, group: 'g' }).subscribe('t', '||')).toThrow(/names no tag/);
  });

  it('seek by timestamp lands on the message stored closest to the time (SEARCH_OFFSET_BY_TIMESTAMP)', async () => {
    const topic = uniqueName('T');
    createTopic(broker, topic, 1);
    const p = await producer();
    for (let i = 0; i < 3; i++) await p.send({ topic, body: `old${i}` });
    await new Promise((r) => setTimeout(r, 400));
    const since = Date.now();
    await new Promise((r) => setTimeout(r, 20));
    for (let i = 0; i < 2; i++) await p.send({ topic, body: `new${i}` });
    const reader = new PullConsumer({ nameServer: broker.nameSrv, group: uniqueName('G'), autoCommit: false, ...FAST });
    await reader.start();
    cleanups.push(() => reader.shutdown());
    const queues = await reader.queuesOf(topic);
    await reader.assign(queues);
    await reader.seek(queues[0]!, { timestamp: since });
    expect((await reader.poll(5_000)).map((m) => m.body.toString())).toEqual(['new0', 'new1']);
    const waiting = reader.poll(300);
    await expect(reader.poll(10)).rejects.toThrow(/already waiting/);
    await waiting;
  });

  it('keeps consuming across a broker restart (reconnect with backoff)', async () => {
    const topic = uniqueName('T');
    createTopic(broker, topic, 2);
    const got = new Set<string>();
    await consumer(uniqueName('G'), topic, (msgs) => { for (const m of msgs) got.add(m.body.toString()); });
    const p = await producer();
    await p.send({ topic, body: 'before' });
    await waitFor(() => got.has('before'), { what: 'before restart' });
    await broker.restart();
    await waitFor(async () => {
      await p.send({ topic, body: 'after' });
      return true;
    }, { what: 'send after restart', timeoutMs: 15_000, intervalMs: 200 });
    await waitFor(() => got.has('after'), { what: 'consumed after restart', timeoutMs: 15_000 });
  });
});

describe('delayed messages', () => {
  it('a delayLevel message appears on its topic only after the level\'s delay', async () => {
    const topic = uniqueName('T');
    createTopic(broker, topic, 1);
    const got: Array<{ body: string; at: number }> = [];
    await consumer(uniqueName('G'), topic, (msgs) => { for (const m of msgs) got.push({ body: m.body.toString(), at: Date.now() }); });
    const p = await producer();
    const sentAt = Date.now();
    await p.send({ topic, body: 'later', delayLevel: 3 });
    await waitFor(() => got.length === 1, { what: 'delayed message', timeoutMs: 10_000 });
    expect(got[0]!.body).toBe('later');
    expect(got[0]!.at - sentAt).toBeGreaterThanOrEqual(90);
  });

  it('an offset reset by an admin (222 → 220) moves a running consumer back; the redeliveries count as duplicates', async () => {
    const topic = uniqueName('T');
    const group = uniqueName('G');
    createTopic(broker, topic, 2);
    const got: string[] = [];
    const c = await consumer(group, topic, (msgs) => { got.push(...msgs.map((m) => m.body.toString())); });
    const p = await producer();
    for (let i = 0; i < 6; i++) await p.send({ topic, body: `m${i}` });
    await waitFor(() => got.length === 6, { what: 'first pass' });
    const admin = new AdminClient({ address: broker.address });
    cleanups.push(() => admin.close());
    const result = await admin.resetOffset({ group, topic, to: { earliest: true } });
    expect(result.notifiedClients).toBe(1);
    await waitFor(() => got.length === 12, { what: 'second pass after the reset', timeoutMs: 10_000 });
    expect(got.slice(6).sort()).toEqual(got.slice(0, 6).sort());
    expect(c.duplicateCount).toBe(6);
  });
});
