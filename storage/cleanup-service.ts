/**
 * Retention and disk safety on a timer (RocketMQ's CleanCommitLogService). Each run:
 * - re-reads the filesystem usage (above `diskMaxUsedRatio` the store refuses appends);
 * - deletes whole segments whose newest record is older than `fileReservedTimeHours`;
 * - deletes the oldest segments of a queue above `maxQueueBytes`, then store-wide above
 *   `maxTotalBytes`, oldest first.
 * The active segment of a queue is never deleted; a queue's min offset moves with its first segment.
 */
import type { Logger } from 'pino';
import { IntervalTask, type Clock } from './clock.js';
import type { StoreConfig } from './config.js';
import type { QueueLog } from './queue-log.js';

export interface CleanupTarget {
  queues(): Iterable<QueueLog>;
  /** Re-reads disk usage and updates the append watermark. */
  refreshDiskUsage(): Promise<void>;
  /** After segments were deleted: drops the key-index files older than every remaining record. */
  segmentsDeleted(): Promise<void>;
}

export class CleanupService {
  private readonly loop: IntervalTask;
  private running: Promise<number> | undefined;

  constructor(
    private readonly target: CleanupTarget,
    private readonly config: Pick<StoreConfig, 'fileReservedTimeHours' | 'maxQueueBytes' | 'maxTotalBytes' | 'cleanupIntervalMs'>,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.loop = new IntervalTask(config.cleanupIntervalMs, () => this.runOnce(), clock, (err) => logger.error({ err }, 'cleanup failed'));
  }

  start(): void {
    this.loop.start();
  }

  /** Stops the timer and waits for a pass in progress, timed or not. */
  async shutdown(): Promise<void> {
    await this.loop.shutdown();
    await this.running;
  }

  /** One cleanup pass; returns the number of segments deleted. Concurrent calls share one pass. */
  runOnce(): Promise<number> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(): Promise<number> {
    await this.target.refreshDiskUsage();
    const queues = [...this.target.queues()];
    let deleted = 0;
    if (this.config.fileReservedTimeHours > 0) {
      const cutoff = this.clock.now() - this.config.fileReservedTimeHours * 3_600_000;
      for (const queue of queues) {
        while (queue.segments.length > 1 && queue.segments[0].newestStoreTimestamp < cutoff) {
          if (!(await queue.deleteOldestSegment())) break;
          deleted += 1;
        }
      }
    }
    if (this.config.maxQueueBytes > 0) {
      for (const queue of queues) {
        while (queue.totalBytes > this.config.maxQueueBytes) {
          if (!(await queue.deleteOldestSegment())) break;
          deleted += 1;
        }
      }
    }
    if (this.config.maxTotalBytes > 0) {
      let total = queues.reduce((sum, q) => sum + q.totalBytes, 0);
      while (total > this.config.maxTotalBytes) {
        // The queue whose oldest deletable segment holds the oldest data goes first.
        let victim: QueueLog | undefined;
        for (const queue of queues) {
          if (queue.segments.length <= 1 || queue.segments[0].pins > 0) continue;
          if (!victim || queue.segments[0].newestStoreTimestamp < victim.segments[0].newestStoreTimestamp) victim = queue;
        }
        if (!victim) break;
        const size = victim.segments[0].sizeBytes;
        if (!(await victim.deleteOldestSegment())) break;
        total -= size;
        deleted += 1;
      }
    }
    if (deleted > 0) {
      this.logger.info({ deleted }, 'retention deleted segments');
      await this.target.segmentsDeleted();
      await this.target.refreshDiskUsage();
    }
    return deleted;
  }
}
