import { describe, expect, it } from 'vitest';
import { averageByCircleStrategy, averageStrategy, configStrategy, consistentHashStrategy, type AllocateStrategy } from '../../client/allocate/index.js';
import type { MessageQueue } from '../../client/message-queue.js';

const queues = (n: number): MessageQueue[] => Array.from({ length: n }, (_, queueId) => ({ topic: 'T', brokerName: 'b', queueId }));
const ids = (c: number): string[] => Array.from({ length: c }, (_, i) => `c${i}`);

function table(strategy: AllocateStrategy, n: number, c: number): number[][] {
  const all = queues(n);
  return ids(c).map((clientId) => strategy.allocate({ group: 'g', clientId, queues: all, clientIds: ids(c) }).map((q) => q.queueId));
}

describe('average allocation', () => {
  it('matches the AVG table for 8 queues and 1..10 consumers', () => {
    expect(table(averageStrategy, 8, 1)).toEqual([[0, 1, 2, 3, 4, 5, 6, 7]]);
    expect(table(averageStrategy, 8, 2)).toEqual([[0, 1, 2, 3], [4, 5, 6, 7]]);
    expect(table(averageStrategy, 8, 3)).toEqual([[0, 1, 2], [3, 4, 5], [6, 7]]);
    expect(table(averageStrategy, 8, 4)).toEqual([[0, 1], [2, 3], [4, 5], [6, 7]]);
    expect(table(averageStrategy, 8, 5)).toEqual([[0, 1], [2, 3], [4, 5], [6], [7]]);
    expect(table(averageStrategy, 8, 6)).toEqual([[0, 1], [2, 3], [4], [5], [6], [7]]);
    expect(table(averageStrategy, 8, 7)).toEqual([[0, 1], [2], [3], [4], [5], [6], [7]]);
    expect(table(averageStrategy, 8, 8)).toEqual([[0], [1], [2], [3], [4], [5], [6], [7]]);
    expect(table(averageStrategy, 8, 10)).toEqual([[0], [1], [2], [3], [4], [5], [6], [7], [], []]);
  });

  it('gives every queue exactly one owner for any 1..12 queues and 1..12 consumers', () => {
    for (let n = 1; n <= 12; n++) {
      for (let c = 1; c <= 12; c++) {
        const owners = table(averageStrategy, n, c).flat().sort((a, b) => a - b);
        expect(owners).toEqual(queues(n).map((q) => q.queueId));
      }
    }
  });

  it('gives nothing to an unknown client id', () => {
    expect(averageStrategy.allocate({ group: 'g', clientId: 'x', queues: queues(4), clientIds: ids(2) })).toEqual([]);
  });
});

describe('average-by-circle allocation', () => {
  it('deals queues round the circle', () => {
    expect(table(averageByCircleStrategy, 8, 3)).toEqual([[0, 3, 6], [1, 4, 7], [2, 5]]);
    expect(table(averageByCircleStrategy, 2, 3)).toEqual([[0], [1], []]);
  });
});

describe('consistent-hash allocation', () => {
  it('gives every queue exactly one owner and is deterministic', () => {
    const strategy = consistentHashStrategy();
    for (const c of [1, 2, 3, 5]) {
      const first = table(strategy, 16, c);
      expect(first.flat().sort((a, b) => a - b)).toEqual(queues(16).map((q) => q.queueId));
      expect(table(strategy, 16, c)).toEqual(first);
    }
  });

  it('moves only the leaving consumer\'s queues when one leaves', () => {
    const strategy = consistentHashStrategy();
    const before = table(strategy, 32, 4);
    const after = table(strategy, 32, 3);
    for (let i = 0; i < 3; i++) for (const q of before[i]!) expect(after[i]).toContain(q);
  });

  it('rejects a bad virtual node count', () => {
    expect(() => consistentHashStrategy(0)).toThrow(RangeError);
  });
});

describe('config allocation', () => {
  it('returns the configured queues that exist in the route', () => {
    const strategy = configStrategy([{ topic: 'T', brokerName: 'b', queueId: 3 }, { topic: 'T', brokerName: 'b', queueId: 9 }, { topic: 'T', brokerName: 'b', queueId: 1 }]);
    expect(strategy.allocate({ group: 'g', clientId: 'c0', queues: queues(4), clientIds: ids(2) }).map((q) => q.queueId)).toEqual([1, 3]);
  });
});
