import { callListener, type ConsumeHost, type ReceivedProcessQueue } from './consume-types.js';
import { TaskCancelledError } from './task-pool.js';
import { deliveryId, type ReceivedMessage } from './message.js';
import type { MessageQueue } from './message-queue.js';

export interface OrderlyOptions {
  /** Pause of a queue after a failed batch before the same batch is retried. Default 1000. */
  suspendCurrentQueueTimeMs: number;
  /** A lock not renewed for this long is treated as lost (the broker's lease is 60 s). Default 30000. */
  lockMaxLiveMs: number;
}

/**
 * Orderly consumption: per queue, one batch at a time, in offset order; queues run in parallel on
 * the shared pool. In clustering mode a queue is consumed only while this client holds its broker
 * lock. A failed batch is put back in front and the queue pauses briefly: nothing is skipped.
 * After `maxReconsumeTimes` local attempts a message goes to the dead-letter queue (send-back with
 * delay level -1, or a re-publish that the broker routes to the DLQ).
 */
export class OrderlyConsumeService {
  /** The drain loop currently running per queue (at most one: that is the ordering guarantee). */
  private readonly draining = new Map<ReceivedProcessQueue, Promise<void>>();
  private readonly timers = new Set<unknown>();
  private stopped = false;

  constructor(
    private readonly host: ConsumeHost,
    private readonly options: OrderlyOptions,
  ) {}

  /** New messages (or a lock) arrived for this queue: consume if not already doing so. */
  submit(pq: ReceivedProcessQueue, queue: MessageQueue): void {
    if (this.stopped || this.draining.has(pq)) return;
    const run = this.drain(pq, queue).finally(() => this.draining.delete(pq));
    this.draining.set(pq, run);
  }

  /** Waits until the queue's current batch (if any) has finished; used before unlocking a queue. */
  async idle(pq: ReceivedProcessQueue): Promise<void> {
    await this.draining.get(pq);
  }

  /** Stops scheduling work; running batches finish (see `allIdle`). */
  shutdown(): void {
    this.stopped = true;
    for (const timer of this.timers) this.host.clock.clearTimeout(timer);
    this.timers.clear();
  }

  async allIdle(): Promise<void> {
    await Promise.allSettled([...this.draining.values()]);
  }

  isLockValid(pq: ReceivedProcessQueue): boolean {
    if (this.host.messageModel === 'BROADCASTING') return true;
    return pq.locked && this.host.clock.now() - pq.lastLockTimestamp < this.options.lockMaxLiveMs;
  }

  private later(pq: ReceivedProcessQueue, queue: MessageQueue, delayMs: number): void {
    if (this.stopped) return;
    const timer = this.host.clock.setTimeout(() => {
      this.timers.delete(timer);
      if (!pq.dropped) this.submit(pq, queue);
    }, delayMs);
    this.timers.add(timer);
  }

  private async drain(pq: ReceivedProcessQueue, queue: MessageQueue): Promise<void> {
    while (!this.stopped && !pq.dropped) {
      // Without a valid lock another consumer may own the queue; the lock service re-submits when it gets it.
      if (!this.isLockValid(pq)) return;
      const wait = pq.suspendedUntil - this.host.clock.now();
      if (wait > 0) {
        this.later(pq, queue, wait);
        return;
      }
      const batch = pq.take(this.host.batchSize);
      if (batch.length === 0) return;
      for (const msg of batch) this.host.duplicates.record(deliveryId(msg));
      let ok: boolean;
      try {
        ok = await this.host.pool.run(() => callListener(this.host, batch, queue));
      } catch (error) {
        if (!(error instanceof TaskCancelledError)) throw error;
        pq.returnTaken();
        return;
      }
      if (pq.dropped) return;
      if (ok) {
        this.host.counters.consumed += batch.length;
        this.host.offsetStore.update(queue, pq.commitTaken(), false);
        continue;
      }
      this.host.counters.failed += batch.length;
      if (await this.giveUpOn(batch)) {
        this.host.offsetStore.update(queue, pq.commitTaken(), false);
        continue;
      }
      pq.returnTaken();
      pq.suspendedUntil = this.host.clock.now() + this.options.suspendCurrentQueueTimeMs;
    }
  }

  /**
   * Decides what a failed batch does next. Messages below the max are retried locally
   * (reconsumeTimes + 1). Messages at the max go to the DLQ (broadcasting drops them: it never sends back).
   * Returns true when the whole batch is settled (all sent to the DLQ) and can be committed.
   */
  private async giveUpOn(batch: ReceivedMessage[]): Promise<boolean> {
    let retryLocally = false;
    for (const msg of batch) {
      if (msg.reconsumeTimes >= this.host.maxReconsumeTimes) {
        if (this.host.messageModel === 'BROADCASTING') {
          this.host.logger.warn({ msgId: msg.msgId }, 'broadcasting: message dropped after maxReconsumeTimes local attempts');
          continue;
        }
        if (await this.host.sendBack(msg, -1)) {
          this.host.counters.sentBack++;
          continue;
        }
      }
      retryLocally = true;
      msg.reconsumeTimes++;
    }
    return !retryLocally;
  }
}
