import { describe, expect, it } from 'vitest';
import { FakeClock, type Clock } from '../../storage/clock.js';
import { ConcurrentConsumeService } from '../../client/consume-concurrently.js';
import { OrderlyConsumeService } from '../../client/consume-orderly.js';
import { ConsumeStatus, type ConsumeHost, type MessageListener } from '../../client/consume-types.js';
import { DuplicateCounter } from '../../client/duplicate-counter.js';
import { defaultLogger } from '../../client/logger.js';
import type { ReceivedMessage } from '../../client/message.js';
import { BrokerOffsetStore } from '../../client/offset-store.js';
import { ProcessQueue } from '../../client/process-queue.js';
import { TaskPool } from '../../client/task-pool.js';
import { waitFor } from '../helpers/common.js';

const queue = { topic: 'T', brokerName: 'b', queueId: 0 };

function message(queueOffset: number): ReceivedMessage {
  return {
    topic: 'T', tags: undefined, keys: [], body: Buffer.from(`m${queueOffset}`), properties: {}, msgId: `id${queueOffset}`, uniqKey: `u${queueOffset}`,
    originMessageId: undefined, queue, queueOffset, commitLogOffset: queueOffset, reconsumeTimes: 0, bornTimestamp: 0, storeTimestamp: 0, flag: 0, sysFlag: 0,
  };
}

function host(listener: MessageListener, sendBack: ConsumeHost['sendBack'], clock: Clock, extra: Partial<ConsumeHost> = {}) {
  const store = new BrokerOffsetStore('g', { queryOffset: async () => undefined, updateOffset: async () => {} });
  const h: ConsumeHost = {
    group: 'g', messageModel: 'CLUSTERING', listener, batchSize: 2, maxReconsumeTimes: 16, offsetStore: store, pool: new TaskPool(4),
    logger: defaultLogger(), clock, duplicates: new DuplicateCounter(100), counters: { consumed: 0, failed: 0, sentBack: 0 }, sendBack, ...extra,
  };
  return h;
}

describe('ConcurrentConsumeService', () => {
  it('cuts batches of consumeMessageBatchMaxSize and commits the lowest unconsumed offset', async () => {
    const clock = new FakeClock();
    const sizes: number[] = [];
    const h = host((msgs) => { sizes.push(msgs.length); }, async () => true, clock);
    const service = new ConcurrentConsumeService(h);
    const pq = new ProcessQueue<ReceivedMessage>();
    const msgs = [0, 1, 2, 3, 4].map(message);
    pq.add(msgs);
    service.submit(pq, queue, msgs);
    await h.pool.drain(false);
    expect(sizes).toEqual([2, 2, 1]);
    expect(await h.offsetStore.read(queue)).toBe(5);
    expect(h.counters.consumed).toBe(5);
  });

  it('keeps a message whose send-back failed (the offset stays on it) and retries it locally later', async () => {
    const clock = new FakeClock();
    const calls: Array<[number, number]> = [];
    const h = host((msgs) => {
      calls.push([msgs[0]!.queueOffset, msgs[0]!.reconsumeTimes]);
      return msgs[0]!.queueOffset === 0 && msgs[0]!.reconsumeTimes === 0 ? ConsumeStatus.RECONSUME_LATER : ConsumeStatus.SUCCESS;
    }, async () => false, clock, { batchSize: 1 });
    const service = new ConcurrentConsumeService(h);
    const pq = new ProcessQueue<ReceivedMessage>();
    const msgs = [0, 1].map(message);
    pq.add(msgs);
    service.submit(pq, queue, msgs);
    await h.pool.drain(false);
    expect(await h.offsetStore.read(queue)).toBe(0);
    clock.advance(5_000);
    await waitFor(() => calls.length === 3);
    await h.pool.drain(false);
    expect(calls).toEqual([[0, 0], [1, 0], [0, 1]]);
    expect(await h.offsetStore.read(queue)).toBe(2);
  });

  it('commits nothing for a queue dropped while its batch ran', async () => {
    const clock = new FakeClock();
    const pq = new ProcessQueue<ReceivedMessage>();
    const h = host(() => { pq.dropped = true; }, async () => true, clock);
    const service = new ConcurrentConsumeService(h);
    const msgs = [message(0)];
    pq.add(msgs);
    service.submit(pq, queue, msgs);
    await h.pool.drain(false);
    expect(await h.offsetStore.read(queue)).toBe(-1);
  });
});

describe('OrderlyConsumeService', () => {
  it('suspends the queue after a failure and redelivers the same batch first', async () => {
    const clock = new FakeClock();
    const seen: string[] = [];
    let failures = 1;
    const h = host((msgs) => {
      seen.push(msgs.map((m) => m.queueOffset).join(','));
      return failures-- > 0 ? ConsumeStatus.RECONSUME_LATER : ConsumeStatus.SUCCESS;
    }, async () => true, clock, { messageModel: 'BROADCASTING' });
    const service = new OrderlyConsumeService(h, { suspendCurrentQueueTimeMs: 1_000, lockMaxLiveMs: 30_000 });
    const pq = new ProcessQueue<ReceivedMessage>();
    pq.add([0, 1, 2].map(message));
    service.submit(pq, queue);
    await service.idle(pq);
    expect(seen).toEqual(['0,1']);
    expect(await h.offsetStore.read(queue)).toBe(-1);
    clock.advance(1_000);
    await waitFor(() => seen.length === 3);
    await service.idle(pq);
    expect(seen).toEqual(['0,1', '0,1', '2']);
    expect(await h.offsetStore.read(queue)).toBe(3);
  });

  it('does not consume a clustering queue without a valid lock', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const h = host(() => { calls++; }, async () => true, clock);
    const service = new OrderlyConsumeService(h, { suspendCurrentQueueTimeMs: 1_000, lockMaxLiveMs: 30_000 });
    const pq = new ProcessQueue<ReceivedMessage>();
    pq.add([message(0)]);
    service.submit(pq, queue);
    await service.idle(pq);
    expect(calls).toBe(0);
    pq.locked = true;
    pq.lastLockTimestamp = clock.now();
    clock.advance(30_001);
    service.submit(pq, queue);
    await service.idle(pq);
    expect(calls).toBe(0);
    pq.lastLockTimestamp = clock.now();
    service.submit(pq, queue);
    await service.idle(pq);
    expect(calls).toBe(1);
  });
});
