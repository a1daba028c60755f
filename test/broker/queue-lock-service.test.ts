import { describe, expect, it } from 'vitest';
import { QueueLockService } from '../../broker/queue-lock-service.js';
import { FakeClock } from '../../storage/clock.js';

const mq = (queueId: number) => ({ topic: 'T', brokerName: 'broker-a', queueId });

describe('QueueLockService', () => {
  it('gives a queue to one client until the lease expires or it is released', async () => {
    const clock = new FakeClock();
    const locks = new QueueLockService(60_000, clock);
    locks.start();
    expect(locks.tryLock('g', 'c1', [mq(0), mq(1)])).toEqual([mq(0), mq(1)]);
    expect(locks.tryLock('g', 'c2', [mq(0), mq(2)])).toEqual([mq(2)]);
    // Another group is independent.
    expect(locks.tryLock('other', 'c2', [mq(0)])).toEqual([mq(0)]);
    clock.advance(30_000);
    expect(locks.tryLock('g', 'c1', [mq(0)])).toEqual([mq(0)]); // renewal
    clock.advance(59_000);
    expect(locks.tryLock('g', 'c2', [mq(0)])).toEqual([]);
    clock.advance(1_001);
    expect(locks.tryLock('g', 'c2', [mq(0)])).toEqual([mq(0)]);
    locks.unlock('g', 'c1', [mq(0), mq(1)]); // c1 no longer holds 0: left alone; 1 released
    expect(locks.holder('g', mq(0))).toBe('c2');
    expect(locks.tryLock('g', 'c3', [mq(1)])).toEqual([mq(1)]);
    await locks.shutdown();
    expect(clock.pendingTimers()).toBe(0);
  });
});
