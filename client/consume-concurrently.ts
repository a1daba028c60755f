import { callListener, type ConsumeHost, type ReceivedProcessQueue } from './consume-types.js';
import { deliveryId, type ReceivedMessage } from './message.js';
import type { MessageQueue } from './message-queue.js';

/** Delay before a batch whose send-back failed is handed to the listener again, locally. */
const LOCAL_RETRY_DELAY_MS = 5_000;

/**
 * Concurrent consumption: pulled messages are cut into batches of `consumeMessageBatchMaxSize`
 * and run on the shared pool (`consumeThreadMax` listener calls at once). After a batch, the
 * queue's committable offset (lowest message still held) moves forward; a failed batch is sent
 * back for retry in clustering mode and only logged in broadcasting mode.
 */
export class ConcurrentConsumeService {
  private readonly timers = new Set<unknown>();

  constructor(private readonly host: ConsumeHost) {}

  submit(pq: ReceivedProcessQueue, queue: MessageQueue, messages: readonly ReceivedMessage[]): void {
    for (let i = 0; i < messages.length; i += this.host.batchSize) {
      const batch = messages.slice(i, i + this.host.batchSize);
      this.host.pool.submit(() => this.consume(pq, queue, batch));
    }
  }

  /** Cancels pending local retries. */
  shutdown(): void {
    for (const timer of this.timers) this.host.clock.clearTimeout(timer);
    this.timers.clear();
  }

  private async consume(pq: ReceivedProcessQueue, queue: MessageQueue, batch: ReceivedMessage[]): Promise<void> {
    if (pq.dropped) return;
    for (const msg of batch) this.host.duplicates.record(deliveryId(msg));
    const ok = await callListener(this.host, batch, queue);
    // A queue lost during the call belongs to another consumer now, which will redeliver; commit nothing.
    if (pq.dropped) return;
    let done = batch;
    if (ok) {
      this.host.counters.consumed += batch.length;
    } else {
      this.host.counters.failed += batch.length;
      if (this.host.messageModel === 'BROADCASTING') {
        this.host.logger.warn({ queue, count: batch.length }, 'broadcasting: failed messages are not retried');
      } else {
        const keptLocally: ReceivedMessage[] = [];
        for (const msg of batch) {
          if (await this.host.sendBack(msg, 0)) this.host.counters.sentBack++;
          else keptLocally.push(msg);
        }
        if (keptLocally.length > 0) {
          done = batch.filter((m) => !keptLocally.includes(m));
          this.retryLocally(pq, queue, keptLocally);
        }
      }
    }
    const offset = pq.remove(done);
    if (offset >= 0) this.host.offsetStore.update(queue, offset, true);
  }

  /** Both send-back paths failed: keep the messages (the offset cannot pass them) and try again later. */
  private retryLocally(pq: ReceivedProcessQueue, queue: MessageQueue, messages: ReceivedMessage[]): void {
    for (const msg of messages) msg.reconsumeTimes++;
    const timer = this.host.clock.setTimeout(() => {
      this.timers.delete(timer);
      if (!pq.dropped) this.submit(pq, queue, messages);
    }, LOCAL_RETRY_DELAY_MS);
    this.timers.add(timer);
  }
}
