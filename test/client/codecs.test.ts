import { describe, expect, it } from 'vitest';
import { encodeBatchBody } from '../../client/batch-codec.js';
import { roundRobinSelector, shardingKeySelector } from '../../client/queue-selector.js';
import type { MessageQueue } from '../../client/message-queue.js';

describe('encodeBatchBody (320 body, MessageDecoder.encodeMessages layout)', () => {
  it('writes size, zero magic and crc, flag, body and properties per message', () => {
    const bytes = encodeBatchBody([
      { flag: 7, body: Buffer.from('ab'), properties: 'K\u0001v\u0002' },
      { flag: 0, body: Buffer.alloc(0), properties: '' },
    ]);
    const expected = Buffer.from([
      // entry 0: TOTALSIZE 28, MAGIC 0, BODYCRC 0, FLAG 7, BODYLENGTH 2, "ab", PROPSLENGTH 4, "K\x01v\x02"
      0, 0, 0, 28, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 2, 0x61, 0x62, 0, 4, 0x4b, 1, 0x76, 2,
      // entry 1: TOTALSIZE 22, MAGIC 0, BODYCRC 0, FLAG 0, BODYLENGTH 0, PROPSLENGTH 0
      0, 0, 0, 22, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    expect(bytes).toEqual(expected);
  });

  it('refuses properties longer than a signed 16-bit length', () => {
    expect(() => encodeBatchBody([{ flag: 0, body: Buffer.from('x'), properties: 'p'.repeat(40_000) }])).toThrow(/32767/);
  });
});

describe('queue selectors', () => {
  const queues: MessageQueue[] = Array.from({ length: 4 }, (_, queueId) => ({ topic: 'T', brokerName: 'b', queueId }));

  it('round robin walks the queues from its start', () => {
    const selector = roundRobinSelector(2);
    expect([0, 1, 2, 3, 4].map(() => selector.select(queues, { topic: 'T', body: 'x' }).queueId)).toEqual([2, 3, 0, 1, 2]);
  });

  it('sharding key: Java String.hashCode % n, absolute value (SelectMessageQueueByHash)', () => {
    // "order-1".hashCode() = -1207111310 → % 4 = -2 → 2.
    expect(shardingKeySelector.select(queues, { topic: 'T', body: 'x', shardingKey: 'order-1' }).queueId).toBe(2);
    // "TagA".hashCode() = 2598919 → % 4 = 3.
    expect(shardingKeySelector.select(queues, { topic: 'T', body: 'x', shardingKey: 'TagA' }).queueId).toBe(3);
    expect(() => shardingKeySelector.select(queues, { topic: 'T', body: 'x' })).toThrow(/shardingKey/);
  });
});
