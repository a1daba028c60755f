/**
 * The SDK's integration tests, written once and run against two brokers: FerryMQ
 * (`sdk-ferrymq.test.ts`) and a real Apache RocketMQ (`sdk-rocketmq.test.ts`). The same code must
 * pass on both. Every test uses fresh topic and group names and short client intervals.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  ConsumeStatus,
  Producer,
  PullConsumer,
  PushConsumer,
  shardingKeySelector,
  type Message,
  type MessageQueue,
  type PushConsumerOptions,
  type ReceivedMessage,
} from '../../client/index.js';
import { ons, onsClientOptions, type OnsMessage } from '../helpers/ali-ons.js';
import { tempDir, uniqueName, waitFor } from '../helpers/common.js';

export interface SdkTarget {
  nameSrv: string;
  /** Creates a topic with this many read/write queues and waits until its route is served. */
  createTopic(topic: string, queues: number): Promise<void>;
}

/** Fast timers for tests: the defaults (20-30 s) are production values. */
export const FAST = { routeRefreshIntervalMs: 500, heartbeatIntervalMs: 500 } as const;
const FAST_CONSUMER = { ...FAST, rebalanceIntervalMs: 500, persistOffsetIntervalMs: 300, pullSuspendMs: 1_000 } as const;

export function sdkSuite(target: () => SdkTarget): void {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function producer(extra: Partial<ConstructorParameters<typeof Producer>[0]> = {}): Promise<Producer> {
    const p = new Producer({ nameServer: target().nameSrv, group: uniqueName('PG'), ...FAST, ...extra });
    await p.start();
    cleanups.push(() => p.shutdown());
    return p;
  }

  async function consumer(
    group: string,
    topic: string,
    listener: (msgs: ReceivedMessage[]) => Promise<ConsumeStatus | void> | ConsumeStatus | void,
    extra: Partial<PushConsumerOptions> = {},
    expression = '*',
  ): Promise<PushConsumer> {
    const c = new PushConsumer({ nameServer: target().nameSrv, group, consumeFromWhere: 'FIRST_OFFSET', ...FAST_CONSUMER, ...extra });
    c.subscribe(topic, expression);
    await c.start(async (msgs) => listener(msgs));
    cleanups.push(() => c.shutdown());
    return c;
  }

  describe('producer and push consumer', () => {
    it('works with JSON request headers (headerFormat: JSON) as with the default binary ones', async () => {
      const topic = uniqueName('T');
      await target().createTopic(topic, 2);
      const p = await producer({ headerFormat: 'JSON', instanceName: uniqueName('json') });
      const sent = await p.send({ topic, body: 'json', tags: 'TagJ' });
      const batch = await p.sendBatch([{ topic, body: 'json-1' }, { topic, body: 'json-2' }]);
      expect([sent.status, batch.status]).toEqual(['SEND_OK', 'SEND_OK']);
      const got: ReceivedMessage[] = [];
      await consumer(uniqueName('G'), topic, (msgs) => { got.push(...msgs); }, { headerFormat: 'JSON', instanceName: uniqueName('json') });
      await waitFor(() => got.length >= 3, { what: 'messages received' });
      expect(got.map((m) => m.body.toString()).sort()).toEqual(['json', 'json-1', 'json-2']);
      expect(got.find((m) => m.uniqKey === sent.uniqKey)?.tags).toBe('TagJ');
    });

    it('send returns msgId, queue and offset that the consumer sees again, with tags, keys and properties', async () => {
      const topic = uniqueName('T');
      await target().createTopic(topic, 4);
      const p = await producer();
      const sent = await p.send({ topic, body: 'hello', tags: 'TagA', keys: ['k1', 'k2'], properties: { color: 'red' } });
      expect(sent.status).toBe('SEND_OK');
      expect(sent.msgId).toMatch(/^[0-9A-F]{32}$/);
      expect(sent.uniqKey).toMatch(/^[0-9A-F]{32}$/);
      const got: ReceivedMessage[] = [];
      await consumer(uniqueName('G'), topic, (msgs) => { got.push(...msgs); });
      await waitFor(() => got.length >= 1, { what: 'message received' });
      const [msg] = got;
      expect(msg!.body.toString()).toBe('hello');
      expect(msg!.topic).toBe(topic);
      expect(msg!.tags).toBe('TagA');
      expect(msg!.keys).toEqual(['k1', 'k2']);
      expect(msg!.properties.color).toBe('red');
      expect(msg!.uniqKey).toBe(sent.uniqKey);
      expect(msg!.msgId).toBe(sent.msgId);
      expect(msg!.queue).toEqual(sent.queue);
      expect(msg!.queueOffset).toBe(sent.queueOffset);
    });

    it('large bodies are compressed on the wire and arrive intact', async () => {
      const topic = uniqueName('T');
      await target().createTopic(topic, 1);
      const p = await producer({ compressBodyOverBytes: 1024 });
      const body = Buffer.alloc(64 * 1024, 'abcdefgh');
      await p.send({ topic, body });
      const got: ReceivedMessage[] = [];
      await consumer(uniqueName('G'), topic, (msgs) => { got.push(...msgs); });
      await waitFor(() => got.length === 1, { what: 'large message received' });
      expect(got[0]!.sysFlag & 1).toBe(1);
      expect(got[0]!.body.equals(body)).toBe(true);
    });

    it('sendBatch (320) stores the messages in one queue, in order', async () => {
      const topic = uniqueName('T');
      await target().createTopic(topic, 4);
      const p = await producer();
      const msgs: Message[] = Array.from({ length: 10 }, (_, i) => ({ topic, body: `m${i}`, keys: [`key${i}`] }));
      const sent = await p.sendBatch(msgs);
      expect(sent.uniqKey.split(',')).toHaveLength(10);
      const got: ReceivedMessage[] = [];
      await consumer(uniqueName('G'), topic, (batch) => { got.push(...batch); });
      await waitFor(() => got.length === 10, { what: 'batch received' });
      got.sort((a, b) => a.queueOffset - b.queueOffset);
      expect(got.map((m) => m.body.toString())).toEqual(msgs.map((m) => m.body));
      expect(new Set(got.map((m) => m.queue.queueId)).size).toBe(1);
      expect(got.map((m) => m.queueOffset)).toEqual(Array.from({ length: 10 }, (_, i) => sent.queueOffset + i));
      expect(got.map((m) => m.uniqKey)).toEqual(sent.uniqKey.split(','));
    });

    it('rejects bad messages with a clear error and sends nothing', async () => {
      const p = await producer();
      await expect(p.send({ topic: 'x', body: '' })).rejects.toThrow(/body .* is empty/);
      await expect(p.send({ topic: 'x', body: 'b', properties: { TAGS: 'no' } })).rejects.toThrow(/reserved/);
      await expect(p.send({ topic: 'x', body: 'b', delayLevel: -1 })).rejects.toThrow(/delayLevel/);
      await expect(p.sendBatch([{ topic: 'x', body: 'a' }, { topic: 'y', body: 'b' }])).rejects.toThrow(/batch is for/);
      const small = await producer({ maxMessageSize: 100 });
      await expect(small.send({ topic: 'x', body: Buffer.alloc(101) })).rejects.toThrow(/maxMessageSize/);
      await expect(small.sendBatch([{ topic: 'x', body: Buffer.alloc(60) }, { topic: 'x', body: Buffer.alloc(60) }])).rejects.toThrow(/fewer messages/);
    });

    it('tag filtering: only subscribed tags reach the listener', async () => {
      const topic = uniqueName('T');
      await target().createTopic(topic, 2);
      const p = await producer();
      const got: ReceivedMessage[] = [];
      await consumer(uniqueName('G'), topic, (msgs) => { got.push(...msgs); }, {}, 'TagA || TagB');
      for (const tags of ['TagA', 'TagB', 'TagC', undefined, 'TagA']) await p.send({ topic, body: String(tags), tags });
      await waitFor(() => got.length >= 3, { what: 'tagged messages received' });
      await new Promise((r) => setTimeout(r, 500));
      expect(got.map((m) => m.tags).sort()).toEqual(['TagA', 'TagA', 'TagB']);
    });
  });

  describe('clustering', () => {
    it('two consumers split 8 queues 4/4 by the average table and each message is handled once', async () => {
      const topic = uniqueName('T');
      const group = uniqueName('G');
      await target().createTopic(topic, 8);
      const seen = new Map<string, string[]>();
      const record = (who: string) => (msgs: ReceivedMessage[]) => {
        for (const m of msgs) seen.set(m.uniqKey!, [...(seen.get(m.uniqKey!) ?? []), who]);
      };
      const c1 = await consumer(group, topic, record('c1'));
      const c2 = await consumer(group, topic, record('c2'));
      await waitFor(() => c1.ownedQueues().filter((q) => q.topic === topic).length === 4 && c2.ownedQueues().filter((q) => q.topic === topic).length === 4, { what: '4/4 split', timeoutMs: 15_000 });
      const [first, second] = [c1, c2].sort((a, b) => (a.clientId < b.clientId ? -1 : 1));
      expect(first!.ownedQueues().filter((q) => q.topic === topic).map((q) => q.queueId)).toEqual([0, 1, 2, 3]);
      expect(second!.ownedQueues().filter((q) => q.topic === topic).map((q) => q.queueId)).toEqual([4, 5, 6, 7]);
      const report = c1.allocationReports().find((r) => r.topic === topic)!;
      expect(Object.values(report.queuesPerConsumer)).toEqual([4, 4]);
      expect(report.idleConsumers).toEqual([]);
      const p = await producer();
      for (let i = 0; i < 40; i++) await p.send({ topic, body: `m${i}` });
      await waitFor(() => seen.size === 40, { what: '40 messages', timeoutMs: 15_000 });
      await new Promise((r) => setTimeout(r, 300));
      expect([...seen.values()].every((who) => who.length === 1)).toBe(true);
      expect(new Set([...seen.values()].flat())).toEqual(new Set(['c1', 'c2']));
    });

    it('with more consumers than queues the extra consumer is idle and reported', async () => {
      const topic = uniqueName('T');
      const group = uniqueName('G');
      await target().createTopic(topic, 2);
      const cs = [await consumer(group, topic, () => {}), await consumer(group, topic, () => {}), await consumer(group, topic, () => {})];
      await waitFor(() => cs.every((c) => c.allocationReports().find((r) => r.topic === topic)?.consumers === 3), { what: 'three members seen', timeoutMs: 15_000 });
      await waitFor(() => cs.reduce((n, c) => n + c.ownedQueues().filter((q) => q.topic === topic).length, 0) === 2 && cs.filter((c) => c.ownedQueues().some((q) => q.topic === topic)).length === 2, { what: 'settled', timeoutMs: 15_000 });
      const report = cs[0]!.allocationReports().find((r) => r.topic === topic)!;
      expect(report.idleConsumers).toHaveLength(1);
      expect(Object.values(report.queuesPerConsumer).sort()).toEqual([0, 1, 1]);
    });

    it('a failed message is sent back and redelivered with reconsumeTimes 1 and its topic restored', async () => {
      const topic = uniqueName('T');
      const group = uniqueName('G');
      await target().createTopic(topic, 1);
      const deliveries: ReceivedMessage[] = [];
      const c = await consumer(group, topic, (msgs) => {
        deliveries.push(...msgs);
        return msgs[0]!.reconsumeTimes === 0 ? ConsumeStatus.RECONSUME_LATER : ConsumeStatus.SUCCESS;
      });
      const p = await producer();
      const sent = await p.send({ topic, body: 'retry me', keys: ['rk'] });
      await waitFor(() => deliveries.length >= 2, { what: 'redelivery', timeoutMs: 25_000 });
      const retried = deliveries[1]!;
      expect(retried.reconsumeTimes).toBe(1);
      expect(retried.topic).toBe(topic);
      expect(retried.queue.topic).toBe(`%RETRY%${group}`);
      expect(retried.body.toString()).toBe('retry me');
      expect(retried.uniqKey).toBe(sent.uniqKey);
      expect(retried.originMessageId).toBe(sent.msgId);
      expect(c.stats()).toMatchObject({ failed: 1, sentBack: 1 });
    });
  });

  describe('broadcasting', () => {
    it('every consumer gets every message, and a restarted consumer resumes from its local file', async () => {
      const topic = uniqueName('T');
      const group = uniqueName('G');
      await target().createTopic(topic, 4);
      const dir = await tempDir();
      cleanups.push(dir.cleanup);
      const opts = { messageModel: 'BROADCASTING' as const, offsetStoreDir: dir.path, consumeFromWhere: 'LAST_OFFSET' as const };
      const got1: string[] = [];
      const got2: string[] = [];
      let c1 = await consumer(group, topic, (msgs) => { got1.push(...msgs.map((m) => m.body.toString())); }, { ...opts, instanceName: uniqueName('b1') });
      const b1Name = (c1 as unknown as { options: { instanceName: string } }).options.instanceName;
      const c2 = await consumer(group, topic, (msgs) => { got2.push(...msgs.map((m) => m.body.toString())); }, { ...opts, instanceName: uniqueName('b2') });
      await waitFor(() => c1.ownedQueues().length === 4 && c2.ownedQueues().length === 4, { what: 'all queues owned by both' });
      const p = await producer();
      for (let i = 0; i < 10; i++) await p.send({ topic, body: `a${i}` });
      await waitFor(() => got1.length === 10 && got2.length === 10, { what: 'both got all 10' });
      await c1.shutdown();
      for (let i = 0; i < 5; i++) await p.send({ topic, body: `b${i}` });
      await waitFor(() => got2.length === 15, { what: 'c2 got 15' });
      const again: string[] = [];
      c1 = await consumer(group, topic, (msgs) => { again.push(...msgs.map((m) => m.body.toString())); }, { ...opts, instanceName: b1Name });
      await waitFor(() => again.length === 5, { what: 'restarted c1 got the 5 sent while it was down' });
      await new Promise((r) => setTimeout(r, 500));
      expect(again.sort()).toEqual(['b0', 'b1', 'b2', 'b3', 'b4']);
    });

    it('a failing listener does not cause redelivery', async () => {
      const topic = uniqueName('T');
      await target().createTopic(topic, 1);
      const dir = await tempDir();
      cleanups.push(dir.cleanup);
      let calls = 0;
      const c = await consumer(uniqueName('G'), topic, () => { calls++; throw new Error('boom'); }, { messageModel: 'BROADCASTING', offsetStoreDir: dir.path, instanceName: uniqueName('b') });
      const p = await producer();
      await p.send({ topic, body: 'x' });
      await waitFor(() => calls === 1, { what: 'one call' });
      await new Promise((r) => setTimeout(r, 1_500));
      expect(calls).toBe(1);
      expect(c.stats()).toMatchObject({ failed: 1, sentBack: 0 });
    });
  });

  describe('orderly', () => {
    it('per sharding key, order holds with consumeThreadMax > 1 and a failing listener', async () => {
      const topic = uniqueName('T');
      await target().createTopic(topic, 4);
      const keys = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5'];
      const perKey = 15;
      const delivered = new Map<string, number[]>();
      const succeeded = new Map<string, number[]>();
      const failOnce = new Set(['k2:5', 'k4:10', 'k4:11']);
      let active = 0;
      let maxActive = 0;
      await consumer(uniqueName('G'), topic, async (msgs) => {
        active++;
        maxActive = Math.max(maxActive, active);
        try {
          await new Promise((r) => setTimeout(r, 10));
          const m = msgs[0]!;
          const [key, seq] = m.body.toString().split(':');
          delivered.set(key!, [...(delivered.get(key!) ?? []), Number(seq)]);
          if (failOnce.delete(`${key}:${seq}`)) return ConsumeStatus.RECONSUME_LATER;
          succeeded.set(key!, [...(succeeded.get(key!) ?? []), Number(seq)]);
          return ConsumeStatus.SUCCESS;
        } finally {
          active--;
        }
      }, { orderly: true, consumeThreadMax: 4, suspendCurrentQueueTimeMs: 100 });
      const p = await producer();
      for (let seq = 0; seq < perKey; seq++) {
        await Promise.all(keys.map((key) => p.send({ topic, body: `${key}:${seq}`, shardingKey: key }, { selector: shardingKeySelector })));
      }
      await waitFor(() => keys.every((k) => succeeded.get(k)?.length === perKey), { what: 'all keys done', timeoutMs: 20_000 });
      const inOrder = Array.from({ length: perKey }, (_, i) => i);
      for (const key of keys) expect(succeeded.get(key)).toEqual(inOrder);
      // A failed message is retried before anything after it in its queue is delivered.
      expect(delivered.get('k2')!.filter((s) => s === 5)).toHaveLength(2);
      expect(delivered.get('k4')!.slice(10, 14)).toEqual([10, 10, 11, 11]);
      expect(maxActive).toBeGreaterThan(1);
      expect(maxActive).toBeLessThanOrEqual(4);
    });
  });

  describe('orderly rebalance', () => {
    it('a member joining an orderly group keeps per-key order, even with a slow listener', async () => {
      const topic = uniqueName('T');
      const group = uniqueName('G');
      await target().createTopic(topic, 4);
      const delivered = new Map<string, number[]>();
      const listener = async (msgs: ReceivedMessage[]) => {
        const [key, seq] = msgs[0]!.body.toString().split(':');
        if (key === 'slow' && seq === '3') await new Promise((r) => setTimeout(r, 1_500));
        delivered.set(key!, [...(delivered.get(key!) ?? []), Number(seq)]);
      };
      const orderly = { orderly: true, consumeThreadMax: 4, lockIntervalMs: 500 };
      const c1 = await consumer(group, topic, listener, orderly);
      const p = await producer();
      const keys = ['slow', 'k1', 'k2', 'k3', 'k4'];
      const send = async (from: number, to: number) => {
        for (let seq = from; seq < to; seq++) await Promise.all(keys.map((key) => p.send({ topic, body: `${key}:${seq}`, shardingKey: key })));
      };
      await send(0, 10);
      const c2 = await consumer(group, topic, listener, orderly);
      await send(10, 20);
      await waitFor(() => keys.every((k) => new Set(delivered.get(k)).size === 20), { what: 'every key complete', timeoutMs: 20_000 });
      for (const key of keys) {
        // Redelivery after a queue changes owner may repeat a suffix; it never reorders.
        const firstSeen = [...new Set(delivered.get(key))];
        expect(firstSeen).toEqual(Array.from({ length: 20 }, (_, i) => i));
      }
      const owned = [...c1.ownedQueues(), ...c2.ownedQueues()].filter((q) => q.topic === topic).map((q) => q.queueId).sort();
      expect(owned).toEqual([0, 1, 2, 3]);
    });
  });

  describe('limits', () => {
    it('consumeMessageBatchMaxSize and consumeThreadMax are respected', async () => {
      const topic = uniqueName('T');
      await target().createTopic(topic, 4);
      const p = await producer();
      for (let i = 0; i < 60; i++) await p.send({ topic, body: `m${i}` });
      const sizes: number[] = [];
      let active = 0;
      let maxActive = 0;
      await consumer(uniqueName('G'), topic, async (msgs) => {
        active++;
        maxActive = Math.max(maxActive, active);
        sizes.push(msgs.length);
        await new Promise((r) => setTimeout(r, 20));
        active--;
      }, { consumeMessageBatchMaxSize: 4, consumeThreadMax: 2, consumeThreadMin: 1 });
      await waitFor(() => sizes.reduce((a, b) => a + b, 0) >= 60, { what: '60 consumed', timeoutMs: 15_000 });
      expect(Math.max(...sizes)).toBe(4);
      expect(maxActive).toBe(2);
    });

    it('pullThresholdForQueue stops pulling while the listener is behind', async () => {
      const topic = uniqueName('T');
      await target().createTopic(topic, 1);
      const p = await producer();
      for (let i = 0; i < 30; i++) await p.send({ topic, body: `m${i}` });
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let calls = 0;
      const c = await consumer(uniqueName('G'), topic, async () => { calls++; await gate; }, { pullThresholdForQueue: 5, pullBatchSize: 5, consumeThreadMax: 1 });
      await waitFor(() => calls === 1, { what: 'first call' });
      await new Promise((r) => setTimeout(r, 500));
      const held = (c as unknown as { owned: Map<string, { mq: MessageQueue; pq: { count: number } }> }).owned;
      const pq = [...held.values()].find((o) => o.mq.topic === topic)!.pq;
      expect(pq.count).toBeLessThanOrEqual(5);
      release();
      await waitFor(() => calls === 30, { what: 'all consumed after release', timeoutMs: 15_000 });
    });
  });

  describe('offsets', () => {
    it('the committed offset never passes an in-flight message, and shutdown commits', async () => {
      const topic = uniqueName('T');
      const group = uniqueName('G');
      await target().createTopic(topic, 1);
      const p = await producer();
      for (let i = 0; i < 5; i++) await p.send({ topic, body: `m${i}` });
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let done = 0;
      const c = await consumer(group, topic, async (msgs) => {
        if (msgs[0]!.body.toString() === 'm1') await gate;
        done++;
      }, { consumeThreadMax: 5 });
      await waitFor(() => done === 4, { what: 'all but m1 consumed' });
      const pull = new PullConsumer({ nameServer: target().nameSrv, group, ...FAST });
      await pull.start();
      cleanups.push(() => pull.shutdown());
      const [mq] = await pull.queuesOf(topic);
      await waitFor(async () => (await pull.committed(mq!)) === 1, { what: 'offset 1 committed' });
      // Several commit periods later it still stops at the in-flight message.
      await new Promise((r) => setTimeout(r, 1_000));
      expect(await pull.committed(mq!)).toBe(1);
      release();
      await waitFor(() => done === 5, { what: 'm1 consumed' });
      await c.shutdown();
      expect(await pull.committed(mq!)).toBe(5);
    });

    it('topic expansion: a queue added later starts at its first offset', async () => {
      const topic = uniqueName('T');
      await target().createTopic(topic, 2);
      const got: string[] = [];
      const c = await consumer(uniqueName('G'), topic, (msgs) => { got.push(...msgs.map((m) => m.body.toString())); }, { consumeFromWhere: 'LAST_OFFSET' });
      await waitFor(() => c.ownedQueues().filter((q) => q.topic === topic).length === 2, { what: '2 queues' });
      await target().createTopic(topic, 4);
      const p = await producer();
      const newQueues = (await p.publishQueues(topic)).filter((q) => q.queueId >= 2);
      expect(newQueues).toHaveLength(2);
      // Written before the consumer notices the new queues: must not be skipped.
      for (const q of newQueues) await p.send({ topic, body: `new${q.queueId}` }, { selector: { select: () => q } });
      await waitFor(() => got.length === 2, { what: 'messages in the new queues', timeoutMs: 15_000 });
      expect(got.sort()).toEqual(['new2', 'new3']);
    });

    it('consumers joining and leaving while producing: one owner per queue, nothing lost, duplicates counted', async () => {
      const topic = uniqueName('T');
      const group = uniqueName('G');
      await target().createTopic(topic, 8);
      const received = new Map<string, number>();
      const onMsgs = (msgs: ReceivedMessage[]) => { for (const m of msgs) received.set(m.uniqKey!, (received.get(m.uniqKey!) ?? 0) + 1); };
      const p = await producer();
      const sent = new Set<string>();
      let producing = true;
      const loop = (async () => {
        let i = 0;
        while (producing) {
          sent.add((await p.send({ topic, body: `m${i++}` })).uniqKey);
          await new Promise((r) => setTimeout(r, 2));
        }
      })();
      const members = [await consumer(group, topic, onMsgs)];
      const everyMember = new Set(members);
      await new Promise((r) => setTimeout(r, 400));
      members.push(await consumer(group, topic, onMsgs));
      await new Promise((r) => setTimeout(r, 400));
      members.push(await consumer(group, topic, onMsgs));
      for (const m of members) everyMember.add(m);
      await new Promise((r) => setTimeout(r, 400));
      await members.shift()!.shutdown();
      await new Promise((r) => setTimeout(r, 400));
      producing = false;
      await loop;
      await waitFor(() => [...sent].every((id) => received.has(id)), { what: 'every sent message received', timeoutMs: 20_000 });
      await waitFor(() => {
        const owners = members.flatMap((c) => c.ownedQueues().filter((q) => q.topic === topic).map((q) => q.queueId)).sort((a, b) => a - b);
        return owners.length === 8 && new Set(owners).size === 8;
      }, { what: 'each queue exactly one owner', timeoutMs: 15_000 });
      const deliveries = [...received.values()].reduce((a, b) => a + b, 0);
      const extra = deliveries - received.size;
      // Redeliveries after a rebalance are allowed. A member counts the ones it had seen itself;
      // a redelivery to another member is visible only to the application (by uniqKey).
      const counted = [...everyMember].reduce((n, c) => n + c.duplicateCount, 0);
      expect(counted).toBeLessThanOrEqual(extra);
      expect(sent.size).toBeGreaterThan(20);
    });
  });

  describe('pull consumer', () => {
    it('assign, poll, commit, seek, pause/resume and the async iterator', async () => {
      const topic = uniqueName('T');
      const group = uniqueName('G');
      await target().createTopic(topic, 2);
      const p = await producer();
      const q0 = (await p.publishQueues(topic))[0]!;
      const to0 = { select: () => q0 };
      for (let i = 0; i < 10; i++) await p.send({ topic, body: `m${i}` }, { selector: to0 });
      const c = new PullConsumer({ nameServer: target().nameSrv, group, consumeFromWhere: 'FIRST_OFFSET', autoCommit: false, pullBatchSize: 4, ...FAST });
      await c.start();
      cleanups.push(() => c.shutdown());
      const queues = await c.queuesOf(topic);
      await c.assign(queues);
      const first = await c.poll(5_000);
      expect(first.map((m) => m.body.toString())).toEqual(['m0', 'm1', 'm2', 'm3']);
      await c.commit();
      expect(await c.committed(q0)).toBe(4);
      await c.seek(q0, 8);
      expect((await c.poll(5_000)).map((m) => m.body.toString())).toEqual(['m8', 'm9']);
      await c.seek(q0, 'earliest');
      expect((await c.poll(5_000))[0]!.body.toString()).toBe('m0');
      await c.seek(q0, 'latest');
      expect(await c.poll(300)).toEqual([]);
      c.pause([q0]);
      await p.send({ topic, body: 'after-pause' }, { selector: to0 });
      expect(await c.poll(500)).toEqual([]);
      c.resume([q0]);
      expect((await c.poll(5_000)).map((m) => m.body.toString())).toEqual(['after-pause']);
      await c.seek(q0, { timestamp: 0 });
      const seen: string[] = [];
      for await (const msgs of c) {
        seen.push(...msgs.map((m) => m.body.toString()));
        if (seen.length >= 11) break;
      }
      expect(seen).toEqual([...Array.from({ length: 10 }, (_, i) => `m${i}`), 'after-pause']);
    });

    it('subscribe spreads queues over the group', async () => {
      const topic = uniqueName('T');
      const group = uniqueName('G');
      await target().createTopic(topic, 4);
      const a = new PullConsumer({ nameServer: target().nameSrv, group, rebalanceIntervalMs: 300, ...FAST });
      const b = new PullConsumer({ nameServer: target().nameSrv, group, rebalanceIntervalMs: 300, ...FAST });
      await a.start();
      cleanups.push(() => a.shutdown());
      await b.start();
      cleanups.push(() => b.shutdown());
      await a.subscribe(topic);
      await b.subscribe(topic);
      await waitFor(() => a.assignment().length === 2 && b.assignment().length === 2, { what: '2/2 split', timeoutMs: 15_000 });
      const all = [...a.assignment(), ...b.assignment()].map((q) => q.queueId).sort();
      expect(all).toEqual([0, 1, 2, 3]);
    });
  });

  describe('interop with ali-ons', () => {
    it('ali-ons producer → SDK consumer', async () => {
      const topic = uniqueName('T');
      await target().createTopic(topic, 2);
      const onsProducer = new ons.Producer({ ...onsClientOptions(target().nameSrv), producerGroup: uniqueName('PG') });
      await onsProducer.ready();
      cleanups.push(() => onsProducer.close());
      const got: ReceivedMessage[] = [];
      await consumer(uniqueName('G'), topic, (msgs) => { got.push(...msgs); }, {}, 'TagA');
      const sent = await onsProducer.send(new ons.Message(topic, 'TagA', Buffer.from('from ali-ons')));
      await onsProducer.send(new ons.Message(topic, 'TagB', Buffer.from('filtered')));
      await waitFor(() => got.length === 1, { what: 'ali-ons message received' });
      await new Promise((r) => setTimeout(r, 300));
      expect(got).toHaveLength(1);
      expect(got[0]!.body.toString()).toBe('from ali-ons');
      expect(got[0]!.msgId).toBe(sent.msgId);
      expect(got[0]!.uniqKey).toBeUndefined();
    });

    it('SDK producer → ali-ons consumer', async () => {
      const topic = uniqueName('T');
      await target().createTopic(topic, 2);
      const got: OnsMessage[] = [];
      const onsConsumer = new ons.Consumer({ ...onsClientOptions(target().nameSrv), consumerGroup: uniqueName('G'), consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
      onsConsumer.on('error', () => undefined);
      onsConsumer.subscribe(topic, 'TagA', async (msg) => { got.push(msg); });
      await onsConsumer.ready();
      cleanups.push(() => onsConsumer.close());
      const p = await producer();
      const sent = await p.send({ topic, body: 'from the SDK', tags: 'TagA', keys: ['a', 'b'] });
      await p.send({ topic, body: 'filtered', tags: 'TagB' });
      await waitFor(() => got.length === 1, { what: 'SDK message received by ali-ons', timeoutMs: 20_000 });
      expect(got[0]!.body.toString()).toBe('from the SDK');
      expect(got[0]!.msgId).toBe(sent.msgId);
      expect(got[0]!.tags).toBe('TagA');
    });
  });
}
