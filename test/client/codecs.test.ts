import { describe, expect, it } from 'vitest';
import { roundRobinSelector, shardingKeySelector } from '../../client/queue-selector.js';
import type { MessageQueue } from '../../client/message-queue.js';

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
