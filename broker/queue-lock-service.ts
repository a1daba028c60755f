/**
 * Orderly-consumption queue locks (LOCK_BATCH_MQ 41 / UNLOCK_BATCH_MQ 42), as RocketMQ's
 * RebalanceLockManager: a lock on (group, topic, brokerName, queueId) is held by one clientId for a
 * lease; the holder renews it by locking again, and an expired lease can be taken by anyone.
 * Leases live in memory only: after a restart clients simply lock again.
 */
import type { MessageQueue } from '../protocol/bodies.js';
import { IntervalTask, systemClock, type Clock } from '../storage/clock.js';

interface Lease {
  clientId: string;
  expiresAt: number;
}

export class QueueLockService {
  private readonly leases = new Map<string, Lease>();
  // Expired leases are harmless (checked on use); the sweep only bounds memory.
  private readonly sweep: IntervalTask;

  constructor(
    private readonly leaseMs: number,
    private readonly clock: Clock = systemClock,
  ) {
    this.sweep = new IntervalTask(leaseMs, () => this.dropExpired(), clock);
  }

  start(): void {
    this.sweep.start();
  }

  /** Stops the sweep and forgets every lease; the promise settles once a sweep in progress is over. */
  async shutdown(): Promise<void> {
    const stopped = this.sweep.shutdown();
    this.leases.clear();
    await stopped;
  }

  /** Locks (or renews) every queue that is free, expired or already ours; returns those now held by `clientId`. */
  tryLock(group: string, clientId: string, queues: readonly MessageQueue[]): MessageQueue[] {
    const now = this.clock.now();
    const locked: MessageQueue[] = [];
    for (const mq of queues) {
      const key = lockKey(group, mq);
      const lease = this.leases.get(key);
      if (lease && lease.clientId !== clientId && lease.expiresAt > now) continue;
      this.leases.set(key, { clientId, expiresAt: now + this.leaseMs });
      locked.push(mq);
    }
    return locked;
  }

  /** Releases the queues `clientId` holds; locks held by others are left alone. */
  unlock(group: string, clientId: string, queues: readonly MessageQueue[]): void {
    for (const mq of queues) {
      const key = lockKey(group, mq);
      if (this.leases.get(key)?.clientId === clientId) this.leases.delete(key);
    }
  }

  /** The live holder of a queue, if any (admin views). */
  holder(group: string, mq: MessageQueue): string | undefined {
    const lease = this.leases.get(lockKey(group, mq));
    return lease && lease.expiresAt > this.clock.now() ? lease.clientId : undefined;
  }

  /** Drops every lock of a topic (topic deletion). */
  dropTopic(topic: string): void {
    for (const key of this.leases.keys()) if (key.split('\u0000')[1] === topic) this.leases.delete(key);
  }

  private dropExpired(): void {
    const now = this.clock.now();
    for (const [key, lease] of this.leases) if (lease.expiresAt <= now) this.leases.delete(key);
  }
}

function lockKey(group: string, mq: MessageQueue): string {
  return `${group}\u0000${mq.topic}\u0000${mq.brokerName}\u0000${mq.queueId}`;
}
