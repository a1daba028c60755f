/**
 * When an append may be acknowledged. Both policies share the per-queue write pipeline (pending
 * appends cut into write batches, several writes in flight, committed in order); they differ in how
 * a write becomes durable before the acknowledgement.
 */
import type { FlushMode } from './config.js';
import { IntervalTask, type Clock } from './clock.js';
import type { FileIO } from './file-io.js';
import type { Logger } from 'pino';
import type { Segment, SegmentHandleCache } from './segment.js';
import type { SyncJournal } from './sync-journal.js';

/** What a policy needs from a queue: its written position, and where to record what is durable. */
export interface FlushTarget {
  /** Offset/segment/position just past the last written (readable) record. */
  committedMark(): DurableMark;
  /** Records that everything up to `mark` is on disk. */
  markSynced(mark: DurableMark): void;
}

export interface DurableMark {
  offset: number;
  segmentBase: number;
  position: number;
}

export interface FlushPolicy {
  readonly mode: FlushMode;
  /** Segment logs are opened O_DSYNC: a write is durable when it returns. */
  readonly dsyncLogs: boolean;
  /**
   * A log write only copies into the page cache, so a queue may write on the main thread
   * (`FileIO.writevSync`) and acknowledge in the same turn: cheaper than a threadpool round trip.
   */
  readonly inlineWrites: boolean;
  /** SYNC_FLUSH with a journal: a written batch is acknowledged once its frame in the journal is durable. */
  readonly journal?: SyncJournal;
  /** The log bytes of a batch were written to `segment`; from then on it may be acknowledged. */
  written(target: FlushTarget, segment: Segment): void;
  start(): void;
  /** Syncs what was written before the call (nothing to do when writes are durable on return). */
  flushNow(): Promise<void>;
  /** Syncs everything still unsynced. */
  shutdown(): Promise<void>;
}

/**
 * SYNC_FLUSH: group commit through O_DSYNC. Each write batch (many appends) is one `writev` that
 * returns once durable (write + fdatasync in one threadpool job), and several run at once; nothing
 * is left to do after it.
 */
export class SyncGroupCommit implements FlushPolicy {
  readonly mode = 'SYNC_FLUSH' as const;
  readonly dsyncLogs = true;
  /** An O_DSYNC write waits for the disk: it stays on the threadpool. */
  readonly inlineWrites = false;

  written(): void {}

  start(): void {}

  async flushNow(): Promise<void> {}

  async shutdown(): Promise<void> {}
}

/** Queues synced concurrently by one ASYNC_FLUSH round (each pins one segment's files). */
const FLUSH_PARALLELISM = 16;

/**
 * ASYNC_FLUSH: acknowledge after the write (into the page cache, on the main thread when the
 * segment's files are open: see `inlineWrites`); fdatasync every touched segment each interval and
 * on shutdown.
 */
export class AsyncIntervalFlush implements FlushPolicy {
  readonly mode: FlushMode = 'ASYNC_FLUSH';
  readonly dsyncLogs = false;
  readonly inlineWrites = true;
  private readonly unsynced = new Map<FlushTarget, Set<Segment>>();
  private readonly loop: IntervalTask;

  constructor(
    private readonly io: FileIO,
    private readonly handles: SegmentHandleCache,
    clock: Clock,
    intervalMs: number,
    logger: Logger,
  ) {
    this.loop = new IntervalTask(intervalMs, () => this.flushNow(), clock, (err) => logger.error({ err }, 'interval flush failed'));
  }

  written(target: FlushTarget, segment: Segment): void {
    let segments = this.unsynced.get(target);
    if (!segments) this.unsynced.set(target, (segments = new Set()));
    segments.add(segment);
  }

  start(): void {
    this.loop.start();
  }

  /** Waits for a timed round in progress, then syncs what is left. */
  async shutdown(): Promise<void> {
    await this.loop.shutdown();
    await this.flushNow();
  }

  /**
   * Syncs every segment written since the last round, a few queues at a time: each sync pins its
   * segment's files, so syncing thousands of queues at once would open thousands of handles past
   * `maxOpenSegments`. Every queue is attempted; the first failure is thrown at the end.
   */
  async flushNow(): Promise<void> {
    // Each queue's mark is read now, with the snapshot of its segments: a batch committed by now was
    // written (and its segment noted) before, so the syncs below cover it. Read when a worker gets
    // to the queue (after other queues' syncs), it could include a batch of a segment rolled since,
    // which this round does not sync, and the checkpoint would vouch for unsynced bytes.
    const work = [...this.unsynced].map(([target, segments]) => ({ target, segments, mark: target.committedMark() }));
    this.unsynced.clear();
    let next = 0;
    let failure: { err: unknown } | undefined;
    const worker = async () => {
      while (next < work.length) {
        const { target, segments, mark } = work[next++];
        try {
          await this.syncTarget(target, segments, mark);
        } catch (err) {
          failure ??= { err };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(FLUSH_PARALLELISM, work.length) }, worker));
    if (failure) throw failure.err;
  }

  private async syncTarget(target: FlushTarget, segments: Set<Segment>, mark: DurableMark): Promise<void> {
    try {
      for (const segment of segments) {
        if (segment.deleted) continue;
        const handles = await this.handles.acquire(segment);
        try {
          await this.io.datasync(handles.log);
        } finally {
          this.handles.release(segment);
        }
      }
    } catch (err) {
      // Still unsynced: the next round retries, and the checkpoint does not move past it.
      for (const segment of segments) this.written(target, segment);
      throw err;
    }
    target.markSynced(mark);
  }
}

/**
 * SYNC_FLUSH through the journal (see sync-journal.ts): logs are written and synced as in
 * ASYNC_FLUSH, and each written batch is acknowledged once its journal frame is durable. A flush
 * round first starts a new journal file; once it has synced every log written before that, the
 * older journal files cover nothing unsynced and are deleted. The store closes the journal after
 * the last round, once it knows the data directory is still its own.
 */
export class JournaledSyncFlush extends AsyncIntervalFlush {
  override readonly mode: FlushMode = 'SYNC_FLUSH';

  constructor(
    io: FileIO,
    handles: SegmentHandleCache,
    clock: Clock,
    intervalMs: number,
    logger: Logger,
    readonly journal: SyncJournal,
  ) {
    super(io, handles, clock, intervalMs, logger);
  }

  /** Rounds run one after another: a round may only delete journal files that its own syncs covered. */
  private round: Promise<void> = Promise.resolve();

  override flushNow(): Promise<void> {
    const round = this.round.then(() => this.journaledRound());
    this.round = round.catch(() => undefined);
    return round;
  }

  private async journaledRound(): Promise<void> {
    // Every frame in `covered` or older was handed over after its log write, so before the
    // snapshot of written segments that `super.flushNow` takes right after.
    const covered = await this.journal.rotate();
    await super.flushNow();
    await this.journal.release(covered);
  }
}
