/**
 * One queue (topic, queueId): a directory of segments plus the write pipeline that feeds them.
 *
 * Appends are staged synchronously: the record is encoded into the pending batch of the queue's
 * active segment with its queue offset, physical offset and store time already in place, and its
 * CRC computed once. A batch is sealed and its write started as soon as it holds `writeBatchBytes`
 * (or, for a partly filled one, once the appends on their way have staged, a microtask later, when
 * fewer than PARTIAL_WRITES_IN_FLIGHT writes run, else when one of them finishes), so the encoding
 * of the next batch overlaps the disk work of the previous ones. Each write is one
 * `writev` (of several sealed batches when they queued up meanwhile); in SYNC_FLUSH the log is
 * opened O_DSYNC, so it returns once durable (group commit: one write + sync for every append in
 * it). Up to WRITES_IN_FLIGHT writes run at once and batches are committed (made readable,
 * acknowledged) strictly in order. In ASYNC_FLUSH a write only copies into the page cache, so when
 * it needs no wait (segment files open, not a new segment) it is done inline with `writevSync` and
 * its batches commit in the same turn (at most one inline write per queue per event-loop turn; what
 * gathers meanwhile goes out in the next turn's). Index entries of readable
 * batches stay in memory and go to the .idx file in bulk (see `Segment`).
 */
import type { Logger } from 'pino';
import { dirname } from 'node:path';
import type { StoreConfig } from './config.js';
import { crashPoint, crashPointArmed } from './crash-point.js';
import { INDEX_ENTRY_SIZE, decodeIndexEntry, encodeIndexEntry, indexCrc, indexPosition, indexSize, indexTagsCode, type IndexEntry } from './consume-index.js';
import type { DirectorySyncer } from './dir-sync.js';
import { isNoSpaceError, type FileHandle, type FileIO } from './file-io.js';
import type { DurableMark, FlushPolicy, FlushTarget } from './flush-policy.js';
import { scanSegment, type ScanLimits } from './queue-recovery.js';
import { readRecordCrc } from './record-crc.js';
import { SEGMENT_HEADER_SIZE, Segment, encodeSegmentHeader, type SegmentHandleCache } from './segment.js';
import { TailCache, type TailCacheBudget } from './tail-cache.js';
import { encodeFrameHeader } from './sync-journal.js';
import { crc32Combine, crc32Range } from '../protocol/crc32.js';
import { AppendStatus, GetMessageStatus, type KeyIndexEntry, type ReadResult, type TagFilter } from './types.js';
import { ChunkedWriteBuffer, type ChunkPool } from './write-buffer.js';

export interface QueueLogContext {
  readonly io: FileIO;
  readonly handles: SegmentHandleCache;
  /** Buffers for pending log bytes, and smaller ones for pending index entries. */
  readonly pool: ChunkPool;
  readonly indexPool: ChunkPool;
  readonly config: StoreConfig;
  readonly limits: ScanLimits;
  readonly flush: FlushPolicy;
  /** The store-wide bound of the queues' tail caches. */
  readonly tailBudget: TailCacheBudget;
  readonly logger: Logger;
  /** Topic directories whose entry is known durable. */
  readonly durableDirs: Set<string>;
  readonly dirSync: DirectorySyncer;
  /** Reserves physical-offset space for a new segment (durably, before its file exists). */
  reservePhysical(): { physBase: number; physReserve: number };
  segmentAdded(segment: Segment): void;
  segmentRemoved(segment: Segment): void;
  /** A batch became readable (key indexing, listeners). */
  batchCommitted(queue: QueueLog, batch: PendingBatch): void;
}

/** Index bytes held in memory per segment before they are written out (the checkpoint also writes them). */
const INDEX_TAIL_FLUSH_BYTES = 64 * 1024;

/** Write batches of one queue in flight at once (each a writev, durable on return in SYNC_FLUSH). */
const WRITES_IN_FLIGHT = 8;

/**
 * Writes running below which a partly filled batch is sealed and written; with more running it
 * keeps collecting appends until one finishes. Without a limit, appends spread round robin over
 * queues (per-message sends) decay into one-record writes: each finished write releases a few
 * appenders whose next appends land one per queue and went out at once (1.9 records per write
 * measured with 256 appenders over 16 queues; 6.2 with this at 2, 10.4 at 1). One: every SYNC_FLUSH
 * write costs the kernel a fixed ~100 µs or more here whatever its size, so fewer, larger writes win
 * (256 appenders, alternating runs: 16 queues 40.7k/40.2k appends/s against 28.5k/26.8k at 2,
 * 4 queues 99.5k/83.5k against 83.2k/74.2k, 1 queue 141.5k/130.5k against 140.9k/124.7k; latency
 * of 5k appends/s unchanged). ASYNC_FLUSH writes inline and seldom has a write running.
 */
const PARTIAL_WRITES_IN_FLIGHT = 1;

/**
 * Log bytes this close to the end of a queue's active segment are read on the calling thread when
 * the tail cache misses them: they were written moments ago, so the read is a copy out of the page
 * cache (as a RocketMQ broker reads its mapped commit log), and a consumer a few MiB behind the
 * producers no longer pays a threadpool round trip per pull, which kept it behind once it fell
 * behind. Older bytes, which may have left the page cache, go through the threadpool.
 */
const INLINE_READ_WINDOW_BYTES = 64 * 1024 * 1024;
/** The same for consume-index entries: those of the newest records (64k entries, 2 MiB of index). */
const INLINE_READ_WINDOW_ENTRIES = 64 * 1024;

/** What the synchronous read steps answer when the data must come through the threadpool. */
const MUST_WAIT = Symbol('must wait');

/** A read's scan of the consume index: entries from `first` (in the segment), at most `scanLimit`. */
interface ReadPlan {
  first: number;
  scanLimit: number;
  wantMessages: number;
  byteLimit: number;
}

/** Matched records as runs of adjacent ones: [log position, length, first entry, last entry] per run, flat. */
interface MatchedRanges {
  list: number[];
  scanned: number;
  matched: number;
}

/**
 * SYNC_FLUSH keeps the active segment's log zero-filled ahead of small appends: an O_DSYNC write
 * inside the file changes no file size, which here makes a 1 KiB write + sync cost 0.13 instead of
 * 0.19 ms and 55 instead of 85 µs of CPU (bare loop, 2026-12-07). A queue's fill starts small and
 * doubles each time it is used up, so a queue that writes little zero-fills little; writes of
 * `ZERO_FILL_MAX_WRITE` or more pay the size change once per many bytes and are left alone (a fill
 * would only double their disk traffic). The zeros are cut when a segment is sealed and on close.
 */
const ZERO_FILL_MIN_BYTES = 16 * 1024;
const ZERO_FILL_MAX_BYTES = 256 * 1024;
const ZERO_FILL_MAX_WRITE = 32 * 1024;
const ZEROS = Buffer.alloc(ZERO_FILL_MAX_BYTES);

/** SYNC_FLUSH with the journal: larger writes sync their own log (a second copy would double their disk traffic). */
const JOURNAL_MAX_WRITE = 32 * 1024;

/** Most bytes one write takes when sealed batches have queued up behind the writes in flight. */
const MAX_WRITE_BYTES = 1024 * 1024;

/** A write failure that every append of the affected batches reports. */
export class StoreWriteError extends Error {
  constructor(
    readonly status: typeof AppendStatus.DISK_FULL | typeof AppendStatus.IO_ERROR,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StoreWriteError';
  }
}

/** A position in the queue: next offset, file position, and the segment it is in. */
interface WriteMark {
  offset: number;
  position: number;
  segment: Segment | undefined;
}

/** Staged appends for one segment, written together. */
export class PendingBatch {
  readonly log: ChunkedWriteBuffer;
  readonly idx: ChunkedWriteBuffer;
  /** Record bytes staged into it (its segment header not counted). */
  stagedBytes = 0;
  /** Records reserved, and records encoded (equal unless `appendBatch` is encoding). */
  reserved = 0;
  count = 0;
  /** No more records join it; it may be written. */
  sealed = false;
  /** Its write settled: durable (SYNC_FLUSH) or written, or failed. */
  written = false;
  failed = false;
  keys: KeyIndexEntry[] = [];
  lastTagsCode = 0;
  lastStoreTimestamp = 0;
  /** zlib CRC32 of `log`'s bytes, kept only for the SYNC_FLUSH journal (its frames carry one). */
  logCrc = 0;
  /** Holds a pin on the segment's files from its write until it is committed or refused. */
  pinned = false;
  readonly done: Promise<void>;
  resolve!: () => void;
  reject!: (err: Error) => void;

  constructor(
    pools: { pool: ChunkPool; indexPool: ChunkPool },
    readonly segment: Segment,
    /** File position of the batch's first byte. */
    readonly position: number,
    readonly firstOffset: number,
    readonly isNewSegment: boolean,
  ) {
    this.log = new ChunkedWriteBuffer(pools.pool);
    this.idx = new ChunkedWriteBuffer(pools.indexPool);
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // Every append awaits `done`; this only keeps a batch nobody awaits from crashing the process.
    this.done.catch(() => undefined);
  }
}

/** Where a staged record goes: the caller encodes its bytes at `chunk[at]`. */
export interface StagedSlot {
  chunk: Buffer;
  at: number;
  queueOffset: number;
  physicalOffset: number;
}

export class QueueLog implements FlushTarget {
  /** Sorted by base offset; the last one is the active (appended-to) segment. */
  readonly segments: Segment[] = [];
  /** Next queue offset to assign (staged appends included). */
  private nextOffset = 0;
  /** Next file position in the active segment (staged appends included). */
  private nextPosition = SEGMENT_HEADER_SIZE;
  /** Entries readable: the queue's max offset. */
  maxOffset = 0;
  /** Appends encoded but not yet written; only the last one may be unsealed. */
  private staged: PendingBatch[] = [];
  /** Writes started, oldest first: committed in this order once settled. */
  private inFlight: PendingBatch[] = [];
  private writesRunning = 0;
  /** Record bytes staged or being written, not yet committed or refused (see `maxPendingBytesPerQueue`). */
  pendingBytes = 0;
  private sealScheduled = false;
  /**
   * An inline write ran in this event-loop turn: what is sealed or gathers next waits for the
   * `setImmediate` that clears this (`afterInlineTurn`), so a loop of awaited appends cannot run
   * write after write in one chain of microtasks without yielding to I/O and timers.
   */
  private inlineWritten = false;
  /** The first write failure since the pipeline last ran clean; refuses the rest once writes settle. */
  private failure: { err: unknown } | undefined;
  private repairing = false;
  private dirReady = false;
  private dirCreation: Promise<void> | undefined;
  /** A segment whose header write has not completed: writes to it may have to create the file. */
  private creating: Segment | undefined;
  /** End of the last readable batch. */
  private commitMark: WriteMark = { offset: 0, position: SEGMENT_HEADER_SIZE, segment: undefined };
  /** Durable data, for the checkpoint. */
  synced: DurableMark | undefined;
  /** Segments whose index file got entries since the last checkpoint (index files are not fsync'ed per write). */
  readonly indexUnsynced = new Set<Segment>();
  /** The newest committed batches, for reads without file I/O. */
  private readonly tail: TailCache;
  /** Size of this queue's next zero-fill (see ZERO_FILL_MIN_BYTES). */
  private zeroFillBytes = ZERO_FILL_MIN_BYTES;
  /** What `place` returns, refilled by each call (appends are encoded synchronously, one at a time). */
  private readonly slot: StagedSlot = { chunk: Buffer.alloc(0), at: 0, queueOffset: 0, physicalOffset: 0 };

  constructor(
    readonly topic: string,
    readonly queueId: number,
    readonly dir: string,
    private readonly ctx: QueueLogContext,
  ) {
    this.tail = new TailCache(ctx.tailBudget, ctx.config.tailCacheBytes);
  }

  get minOffset(): number {
    return this.segments.length === 0 ? 0 : Math.min(this.segments[0].baseOffset, this.maxOffset);
  }

  get totalBytes(): number {
    let total = 0;
    for (const segment of this.segments) total += segment.sizeBytes;
    return total;
  }

  get idle(): boolean {
    return this.staged.length === 0 && this.inFlight.length === 0 && !this.repairing;
  }

  /** Installs the state found by recovery. */
  restore(segments: Segment[], synced: boolean): void {
    for (const segment of segments) segment.indexFileCount = segment.entryCount;
    this.segments.push(...segments);
    const last = segments[segments.length - 1];
    this.maxOffset = this.nextOffset = last.baseOffset + last.entryCount;
    this.nextPosition = last.logEnd;
    this.commitMark = { offset: this.maxOffset, position: last.logEnd, segment: last };
    if (synced) this.synced = this.committedMark();
    this.dirReady = true;
  }

  committedMark(): DurableMark {
    const { offset, position, segment } = this.commitMark;
    return { offset, position, segmentBase: segment?.baseOffset ?? 0 };
  }

  markSynced(mark: DurableMark): void {
    this.synced = mark;
  }

  /**
   * Makes room for `count` records of `total` bytes, consecutive in one pending batch of the active
   * segment (so they are written, and fail, together), rolling the segment first when they would
   * not fit; the caller then `place`s them, in order, before anything else is staged.
   * Synchronous: offsets are assigned in call order.
   */
  stage(total: number, count: number): PendingBatch {
    let active = this.segments[this.segments.length - 1];
    if (!active || (this.nextPosition > SEGMENT_HEADER_SIZE && this.nextPosition + total > this.ctx.config.segmentSize)) {
      active = this.roll();
    }
    let batch = this.staged[this.staged.length - 1];
    if (!batch || batch.sealed || batch.segment !== active || (batch.count > 0 && batch.log.length + total > this.ctx.config.writeBatchBytes)) {
      if (batch) batch.sealed = true;
      batch = new PendingBatch(this.ctx, active, this.nextPosition, this.nextOffset, false);
      this.staged.push(batch);
    }
    batch.reserved += count;
    batch.stagedBytes += total;
    this.pendingBytes += total;
    // Every batch before the last is sealed (complete): it goes out now, not after the burst.
    if (this.staged.length > 1) this.startWrites();
    return batch;
  }

  /** The next record of `batch` (just `stage`d): its offsets and where to encode it (valid until the next call). */
  place(batch: PendingBatch, size: number): StagedSlot {
    const slot = this.slot;
    slot.chunk = batch.log.reserve(size);
    slot.at = batch.log.reservedAt;
    slot.queueOffset = this.nextOffset;
    slot.physicalOffset = batch.segment.physBase + this.nextPosition;
    this.nextOffset += 1;
    this.nextPosition += size;
    return slot;
  }

  /** Records the index entry of a record just encoded at `position`; starts the batch's write once it is full. */
  recordStaged(batch: PendingBatch, position: number, size: number, tagsCode: number, crc: number, storeTimestamp: number): void {
    const chunk = batch.idx.reserve(INDEX_ENTRY_SIZE);
    encodeIndexEntry(chunk, batch.idx.reservedAt, position, size, tagsCode, crc, storeTimestamp);
    batch.count += 1;
    batch.lastTagsCode = tagsCode;
    batch.lastStoreTimestamp = storeTimestamp;
    if (batch.count === batch.reserved && batch.log.length >= this.ctx.config.writeBatchBytes) {
      batch.sealed = true;
      this.startWrites();
    } else if (!this.sealScheduled && !this.inlineWritten) {
      this.sealScheduled = true;
      // A partly filled batch waits for the appends already on their way (measured faster than setImmediate).
      queueMicrotask(() => this.sealAndWrite());
    }
  }

  private sealAndWrite(): void {
    this.sealScheduled = false;
    // After an inline write of this turn the batch keeps gathering until `afterInlineTurn`.
    if (this.inlineWritten) return;
    if (this.writesRunning < PARTIAL_WRITES_IN_FLIGHT) this.sealLast();
    this.startWrites();
  }

  /** The turn of an inline write has ended: seal and write what gathered meanwhile. */
  private afterInlineTurn(): void {
    this.inlineWritten = false;
    if (this.writesRunning < PARTIAL_WRITES_IN_FLIGHT) this.sealLast();
    this.startWrites();
  }

  /** Seals the last staged batch unless appends are still encoding into it. */
  private sealLast(): void {
    const last = this.staged[this.staged.length - 1];
    if (last && last.count === last.reserved) last.sealed = true;
  }

  /**
   * Starts writes of sealed batches, in order, while fewer than WRITES_IN_FLIGHT run. A group that
   * may be written inline (see `writeInline`) is written and settled before the next is taken.
   */
  private startWrites(): void {
    let inline = false;
    while (!this.failure && !this.repairing && this.writesRunning < WRITES_IN_FLIGHT && this.staged[0]?.sealed) {
      // One inline write per turn; `afterInlineTurn` writes the rest (and what gathers until then) together.
      if (this.inlineWritten && this.canWriteInline(this.staged[0])) break;
      const group = [this.staged.shift()!];
      let bytes = group[0].log.length;
      for (let next = this.staged[0]; next?.sealed && next.segment === group[0].segment && bytes + next.log.length <= MAX_WRITE_BYTES; next = this.staged[0]) {
        group.push(this.staged.shift()!);
        bytes += next.log.length;
      }
      for (const batch of group) this.inFlight.push(batch);
      if (this.writeInline(group)) {
        inline = true;
        this.commitSettled();
        continue;
      }
      this.writesRunning += 1;
      void this.write(group);
    }
    // An inline write that failed: refuse once the writes still running have settled.
    if (inline && this.failure) this.writeSettled();
  }

  /**
   * ASYNC_FLUSH, when nothing needs waiting for (queue directory made, segment not new, its files
   * open): writes the group with one positioned `writevSync` on this thread, so its appends can be
   * acknowledged in this turn without a threadpool round trip (the write only copies into the page
   * cache). The group is settled (written, or failed) when this returns true; it then holds a pin
   * on the segment's files like any write, until committed or refused.
   */
  private writeInline(group: PendingBatch[]): boolean {
    const { io, handles, flush } = this.ctx;
    const first = group[0];
    const segment = first.segment;
    if (!this.canWriteInline(first)) return false;
    const files = handles.acquireOpen(segment);
    if (!files) return false;
    first.pinned = true;
    if (!this.inlineWritten) {
      this.inlineWritten = true;
      setImmediate(() => this.afterInlineTurn());
    }
    try {
      const views = group.length === 1 ? first.log.views() : group.flatMap((batch) => batch.log.views());
      if (crashPointArmed('mid-record-write')) {
        // A process kill keeps the page cache: half of the group is what the file holds.
        const length = views.reduce((n, view) => n + view.length, 0);
        io.writevSync(files.log, [Buffer.concat(views).subarray(0, Math.max(1, Math.floor(length / 2))) as Buffer], first.position);
        crashPoint('mid-record-write');
      }
      io.writevSync(files.log, views, first.position);
      crashPoint('append-before-fsync');
      flush.written(this, segment);
      if (flush.journal) {
        this.writesRunning += 1;
        void this.durableThenSettle(group, views, files.log);
        return true;
      }
    } catch (err) {
      this.writeFailed(group, err);
    }
    for (const batch of group) batch.written = true;
    return true;
  }

  /** SYNC_FLUSH with a journal: the group's log write is done; it settles once durable. */
  private async durableThenSettle(group: PendingBatch[], views: readonly Buffer[], log: FileHandle): Promise<void> {
    try {
      await this.makeDurable(group, views, log);
    } catch (err) {
      this.writeFailed(group, err);
    }
    this.groupSettled(group);
  }

  private writeFailed(group: PendingBatch[], err: unknown): void {
    for (const batch of group) batch.failed = true;
    this.failure ??= { err };
  }

  /** A write of the threadpool (or awaiting durability) is done, written or failed. */
  private groupSettled(group: PendingBatch[]): void {
    for (const batch of group) batch.written = true;
    this.writesRunning -= 1;
    this.writeSettled();
  }

  /**
   * SYNC_FLUSH with a journal: makes the bytes just written to the log for `group` durable, by a
   * frame in the shared journal (with the frames of every queue that writes in this event-loop
   * turn), or for a large write by syncing the log itself.
   */
  private async makeDurable(group: PendingBatch[], views: readonly Buffer[], log: FileHandle): Promise<void> {
    const journal = this.ctx.flush.journal!;
    const first = group[0];
    let bytes = first.log.length;
    for (let i = 1; i < group.length; i++) bytes += group[i].log.length;
    if (bytes >= JOURNAL_MAX_WRITE) return this.ctx.io.datasync(log);
    let crc = first.logCrc;
    for (let i = 1; i < group.length; i++) crc = crc32Combine(crc, group[i].logCrc, group[i].log.length);
    const header = encodeFrameHeader(this.topic, this.queueId, first.segment.baseOffset, first.position, bytes, crc);
    await journal.turnEnd();
    await journal.append(header, views, bytes);
  }

  /** Whether a write starting with `batch` needs no wait: see `writeInline`. */
  private canWriteInline(batch: PendingBatch): boolean {
    return this.ctx.flush.inlineWrites && this.dirReady && !batch.isNewSegment && batch.segment !== this.creating && batch.segment.handles !== undefined;
  }

  private roll(): Segment {
    const previous = this.segments[this.segments.length - 1];
    if (previous) previous.sealedEnd = this.nextPosition;
    const { physBase, physReserve } = this.ctx.reservePhysical();
    const segment = new Segment(this, this.dir, this.nextOffset, physBase, physReserve);
    this.segments.push(segment);
    this.ctx.segmentAdded(segment);
    const last = this.staged[this.staged.length - 1];
    if (last) last.sealed = true;
    const batch = new PendingBatch(this.ctx, segment, 0, this.nextOffset, true);
    const chunk = batch.log.reserve(SEGMENT_HEADER_SIZE);
    encodeSegmentHeader({ baseOffset: segment.baseOffset, physBase, physReserve }, chunk, batch.log.reservedAt);
    if (this.ctx.flush.journal) batch.logCrc = crc32Range(chunk, batch.log.reservedAt, batch.log.reservedAt + SEGMENT_HEADER_SIZE);
    // The first records join the header's batch.
    this.staged.push(batch);
    this.creating = segment;
    this.nextPosition = SEGMENT_HEADER_SIZE;
    return segment;
  }

  /** Consecutive batches of one segment: one writev (durable on return in SYNC_FLUSH), then whatever the flush policy adds. */
  private async write(group: PendingBatch[]): Promise<void> {
    const first = group[0];
    try {
      if (this.ctx.flush.dsyncLogs) await this.beforeDurableWrite(group);
      const { views, log } = await this.writeGroup(group);
      this.ctx.flush.written(this, first.segment);
      if (this.ctx.flush.journal) await this.makeDurable(group, views, log);
      // A new segment's file entry must be durable before anything in it is acknowledged.
      if (first.isNewSegment) await this.ctx.dirSync.sync(this.dir);
    } catch (err) {
      this.writeFailed(group, err);
    }
    this.groupSettled(group);
  }

  /**
   * SYNC_FLUSH: a write never overlaps a zero-fill in progress, and a new segment is only created
   * once the one before has lost its zeros (recovery takes a sealed segment's end of file as the
   * end of its records). Then tops up the zero-filled space ahead.
   */
  private async beforeDurableWrite(group: PendingBatch[]): Promise<void> {
    const first = group[0];
    const segment = first.segment;
    if (first.isNewSegment) {
      const previous = this.segments[this.segments.indexOf(segment) - 1];
      if (previous) await this.trimZeroFill(previous);
      return;
    }
    let end = first.position;
    for (const batch of group) end += batch.log.length;
    while (segment.zeroing && end > segment.zeroingFrom) await segment.zeroing;
    if (end - first.position < ZERO_FILL_MAX_WRITE) this.startZeroFill(segment);
  }

  private startZeroFill(segment: Segment): void {
    if (segment.zeroing || segment !== this.segments[this.segments.length - 1] || segment === this.creating || segment.deleted) return;
    const limit = this.ctx.config.segmentSize;
    const from = Math.max(segment.zeroedEnd, this.nextPosition);
    if (from - this.nextPosition >= this.zeroFillBytes / 2 || from >= limit) return;
    const to = Math.min(limit, from + this.zeroFillBytes);
    this.zeroFillBytes = Math.min(ZERO_FILL_MAX_BYTES, this.zeroFillBytes * 2);
    segment.zeroingFrom = from;
    segment.zeroing = this.zeroFill(segment, from, to).finally(() => (segment.zeroing = undefined));
  }

  /** Zero-fills [from, to) of the log (durable on return: the log is O_DSYNC). A failure only costs speed. */
  private async zeroFill(segment: Segment, from: number, to: number): Promise<void> {
    const { io, handles } = this.ctx;
    try {
      const files = await handles.acquire(segment);
      try {
        await io.writev(files.log, [ZEROS.subarray(0, to - from)], from);
        segment.zeroedEnd = to;
      } finally {
        handles.release(segment);
      }
    } catch (err) {
      this.ctx.logger.debug({ err, path: segment.logPath }, 'zero-fill ahead of the appends failed');
    }
  }

  /** Cuts the zeros past the segment's last record (sealed, or the active one once drained). */
  async trimZeroFill(segment: Segment = this.segments[this.segments.length - 1]): Promise<void> {
    while (segment?.zeroing) await segment.zeroing;
    if (!segment || segment.deleted) return;
    const end = segment.sealedEnd ?? this.nextPosition;
    if (segment.zeroedEnd <= end) return;
    const { io, handles } = this.ctx;
    const files = await handles.acquire(segment);
    try {
      await io.truncate(files.log, end);
      await io.datasync(files.log);
      segment.zeroedEnd = end;
    } finally {
      handles.release(segment);
    }
  }

  /** Writes the group to the log; returns the buffers written and the log's handle. */
  private async writeGroup(group: PendingBatch[]): Promise<{ views: readonly Buffer[]; log: FileHandle }> {
    const { io, handles } = this.ctx;
    const first = group[0];
    const segment = first.segment;
    if (!this.dirReady) await (this.dirCreation ??= this.createDir().finally(() => (this.dirCreation = undefined)));
    const files = await handles.acquire(segment, first.isNewSegment || segment === this.creating);
    // One pin per write, held by its first batch.
    first.pinned = true;
    if (first.isNewSegment) crashPoint('segment-roll');
    const views = group.length === 1 ? first.log.views() : group.flatMap((batch) => batch.log.views());
    if (crashPointArmed('mid-record-write')) {
      const length = views.reduce((n, view) => n + view.length, 0);
      await io.writev(files.log, [Buffer.concat(views).subarray(0, Math.max(1, Math.floor(length / 2))) as Buffer], first.position);
      await io.datasync(files.log);
      crashPoint('mid-record-write');
    }
    await io.writev(files.log, views, first.position);
    if (first.isNewSegment && this.creating === segment) this.creating = undefined;
    crashPoint('append-before-fsync');
    return { views, log: files.log };
  }

  /**
   * Commits the settled batches at the head of the line, in order. After a failure, once every
   * write in flight has settled, the failed batch and every later one are refused and cut back.
   */
  private writeSettled(): void {
    this.commitSettled();
    if (!this.failure) {
      if (this.writesRunning < PARTIAL_WRITES_IN_FLIGHT && !this.inlineWritten) this.sealLast();
      return this.startWrites();
    }
    if (this.repairing || this.inFlight.some((b) => !b.written)) return;
    const { err } = this.failure;
    this.repairing = true;
    const failing = [...this.inFlight.splice(0), ...this.staged.splice(0)];
    void this.abandonFrom(this.commitMark, failing, err).finally(() => {
      this.repairing = false;
      this.failure = undefined;
      this.startWrites();
    });
  }

  /** Commits the settled batches at the head of the line, in order. */
  private commitSettled(): void {
    while (this.inFlight.length > 0 && this.inFlight[0].written && !this.inFlight[0].failed) this.commitBatch(this.inFlight.shift()!);
  }

  private async createDir(): Promise<void> {
    const { io } = this.ctx;
    await io.mkdir(this.dir);
    // Make the queue directory's entry durable, and the topic directory's once per topic.
    const topicDir = dirname(this.dir);
    await this.ctx.dirSync.sync(topicDir);
    if (!this.ctx.durableDirs.has(topicDir)) {
      await this.ctx.dirSync.sync(dirname(topicDir));
      this.ctx.durableDirs.add(topicDir);
    }
    this.dirReady = true;
  }

  private unpin(batch: PendingBatch): void {
    if (batch.pinned) this.ctx.handles.release(batch.segment);
    batch.pinned = false;
    batch.log.release();
    batch.idx.release();
  }

  private commitBatch(batch: PendingBatch): void {
    this.pendingBytes -= batch.stagedBytes;
    const segment = batch.segment;
    segment.entryCount += batch.count;
    segment.logEnd = batch.position + batch.log.length;
    if (batch.lastStoreTimestamp > 0) segment.newestStoreTimestamp = batch.lastStoreTimestamp;
    this.maxOffset = batch.firstOffset + batch.count;
    this.commitMark = { offset: this.maxOffset, position: segment.logEnd, segment };
    if (this.ctx.flush.dsyncLogs) this.synced = this.committedMark();
    const idx = Buffer.concat(batch.idx.views());
    segment.indexTail.push(idx);
    this.tail.add(segment, batch.position, batch.log.views(), batch.log.length, batch.firstOffset - segment.baseOffset, idx);
    if ((segment.entryCount - segment.indexFileCount) * INDEX_ENTRY_SIZE >= INDEX_TAIL_FLUSH_BYTES) {
      this.flushIndexTail(segment).catch((err) => this.ctx.logger.error({ err, path: segment.idxPath }, 'index write failed; entries stay in memory'));
    }
    this.unpin(batch);
    batch.resolve();
    this.ctx.batchCommitted(this, batch);
  }

  /**
   * A write or sync failed: the `failing` batches (the failed one and every later one, whose offsets
   * follow it) are refused, the assigned state goes back to `mark`, segments begun after it are
   * removed, and the files are cut back to it, so nothing half-written survives.
   */
  private async abandonFrom(mark: WriteMark, failing: PendingBatch[], err: unknown): Promise<void> {
    const noSpace = isNoSpaceError(err);
    const error = new StoreWriteError(
      noSpace ? AppendStatus.DISK_FULL : AppendStatus.IO_ERROR,
      noSpace ? 'disk full (ENOSPC) while writing; nothing of this batch was stored' : `write failed: ${(err as Error).message}`,
      { cause: err },
    );
    this.ctx.logger.warn({ err, topic: this.topic, queueId: this.queueId }, 'queue write failed; batches refused');
    for (const batch of failing) {
      this.pendingBytes -= batch.stagedBytes;
      this.unpin(batch);
      batch.reject(error);
    }
    const keep = mark.segment ? this.segments.indexOf(mark.segment) + 1 : 0;
    const dropped = this.segments.splice(keep);
    for (const segment of dropped) {
      segment.deleted = true;
      this.ctx.segmentRemoved(segment);
    }
    this.nextOffset = mark.offset;
    this.nextPosition = mark.position;
    try {
      // A zero-fill still running holds its file open: its fd must not be closed (and reused) under it.
      for (const segment of [...dropped, mark.segment]) while (segment?.zeroing) await segment.zeroing;
      for (const segment of dropped) {
        await this.ctx.handles.close(segment);
        await this.ctx.io.unlink(segment.logPath);
        await this.ctx.io.unlink(segment.idxPath);
      }
      if (mark.segment) {
        const files = await this.ctx.handles.acquire(mark.segment);
        try {
          // The index holds committed entries only (in its file or its tail): nothing to cut there.
          await this.ctx.io.truncate(files.log, mark.position);
          mark.segment.zeroedEnd = Math.min(mark.segment.zeroedEnd, mark.position);
        } finally {
          this.ctx.handles.release(mark.segment);
        }
      }
    } catch (repairErr) {
      this.ctx.logger.error({ err: repairErr, topic: this.topic, queueId: this.queueId }, 'could not cut back a failed write');
    }
  }

  /** The segment holding `offset` (largest base <= offset); offset must be within [min, max). */
  private segmentFor(offset: number): Segment | undefined {
    let low = 0;
    let high = this.segments.length - 1;
    let found: Segment | undefined;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      if (this.segments[mid].baseOffset <= offset) {
        found = this.segments[mid];
        low = mid + 1;
      } else high = mid - 1;
    }
    return found;
  }

  /** RocketMQ's GetMessageStatus mapping (DefaultMessageStore.getMessage) over the consume index. */
  async read(offset: number, maxMessages: number, maxBytes: number, filter?: TagFilter): Promise<ReadResult> {
    const bounds = this.boundsResult(offset);
    if (bounds) return bounds;
    for (let attempt = 0; ; attempt++) {
      const segment = this.segmentFor(offset);
      if (!segment) return this.emptyResult(GetMessageStatus.OFFSET_TOO_SMALL, this.minOffset);
      const found = await this.readFromSegment(segment, offset, maxMessages, maxBytes, filter);
      if (found === 'SEGMENT_GONE') return this.emptyResult(GetMessageStatus.OFFSET_TOO_SMALL, this.minOffset);
      if (found !== 'INDEX_DAMAGED') return found;
      if (attempt > 0) throw new Error(`consume index of ${segment.idxPath} does not match its log after a rebuild`);
      await this.rebuildIndex(segment);
    }
  }

  /**
   * `read` without waiting: the answer when it needs no file I/O beyond the inline reads of the
   * newest data (the tail cache, the in-memory index, open files of the active segment), else
   * undefined and the caller awaits `read`. A consumer keeping up is answered in the turn its pull
   * (or the append that wakes it) arrived in, without a chain of promises per pull.
   */
  readNow(offset: number, maxMessages: number, maxBytes: number, filter?: TagFilter): ReadResult | undefined {
    const bounds = this.boundsResult(offset);
    if (bounds) return bounds;
    const segment = this.segmentFor(offset);
    if (!segment) return this.emptyResult(GetMessageStatus.OFFSET_TOO_SMALL, this.minOffset);
    const files = this.ctx.handles.acquireOpen(segment);
    if (!files) return undefined;
    try {
      if (segment.deleted) return this.emptyResult(GetMessageStatus.OFFSET_TOO_SMALL, this.minOffset);
      const plan = this.planRead(segment, offset, maxMessages, maxBytes, filter);
      const indexBytes = Buffer.allocUnsafe(plan.scanLimit * INDEX_ENTRY_SIZE);
      if (this.indexNow(segment, files.idx, plan.first, indexBytes) !== true) return undefined;
      const ranges = this.matchRanges(segment, indexBytes, plan, filter);
      if (ranges === 'INDEX_DAMAGED') return undefined;
      const buffers: Buffer[] = [];
      for (let r = 0; r < ranges.list.length; r += 4) {
        const data = this.logNow(segment, files.log, ranges.list[r], ranges.list[r + 1]);
        if (data === MUST_WAIT || !this.rangeMatchesIndex(data, indexBytes, ranges.list, r)) return undefined;
        buffers.push(data);
      }
      return this.foundResult(offset, ranges, buffers);
    } finally {
      this.ctx.handles.release(segment);
    }
  }

  /** The answer for an offset outside [minOffset, maxOffset), or undefined for a readable one. */
  private boundsResult(offset: number): ReadResult | undefined {
    const minOffset = this.minOffset;
    const maxOffset = this.maxOffset;
    if (maxOffset === 0) return this.emptyResult(GetMessageStatus.NO_MESSAGE_IN_QUEUE, 0);
    if (offset < minOffset) return this.emptyResult(GetMessageStatus.OFFSET_TOO_SMALL, minOffset);
    if (offset === maxOffset) return this.emptyResult(GetMessageStatus.OFFSET_OVERFLOW_ONE, offset);
    if (offset > maxOffset) return this.emptyResult(GetMessageStatus.OFFSET_OVERFLOW_BADLY, minOffset === 0 ? 0 : maxOffset);
    return undefined;
  }

  private emptyResult(status: GetMessageStatus, nextBeginOffset: number): ReadResult {
    return { status, buffers: [], messageCount: 0, nextBeginOffset, minOffset: this.minOffset, maxOffset: this.maxOffset };
  }

  private foundResult(offset: number, ranges: MatchedRanges, buffers: Buffer[]): ReadResult {
    return {
      status: ranges.matched > 0 ? GetMessageStatus.FOUND : GetMessageStatus.NO_MATCHED_MESSAGE,
      buffers,
      messageCount: ranges.matched,
      nextBeginOffset: offset + ranges.scanned,
      minOffset: this.minOffset,
      maxOffset: this.maxOffset,
    };
  }

  private isActive(segment: Segment): boolean {
    return segment === this.segments[this.segments.length - 1];
  }

  private async readFromSegment(
    segment: Segment,
    offset: number,
    maxMessages: number,
    maxBytes: number,
    filter: TagFilter | undefined,
  ): Promise<ReadResult | 'SEGMENT_GONE' | 'INDEX_DAMAGED'> {
    const { io, handles } = this.ctx;
    const files = await handles.acquire(segment);
    try {
      if (segment.deleted) return 'SEGMENT_GONE';
      const plan = this.planRead(segment, offset, maxMessages, maxBytes, filter);
      const indexBytes = Buffer.allocUnsafe(plan.scanLimit * INDEX_ENTRY_SIZE);
      if (!(await this.readIndex(segment, files.idx, plan.first, indexBytes))) return 'INDEX_DAMAGED';
      const ranges = this.matchRanges(segment, indexBytes, plan, filter);
      if (ranges === 'INDEX_DAMAGED') return ranges;
      const buffers: Buffer[] = [];
      for (let r = 0; r < ranges.list.length; r += 4) {
        const position = ranges.list[r];
        const length = ranges.list[r + 1];
        let data = this.logNow(segment, files.log, position, length);
        if (data === MUST_WAIT) {
          data = Buffer.allocUnsafe(length);
          if ((await io.read(files.log, data, 0, length, position)) < length) return 'INDEX_DAMAGED';
        }
        if (!this.rangeMatchesIndex(data, indexBytes, ranges.list, r)) return 'INDEX_DAMAGED';
        buffers.push(data);
      }
      return this.foundResult(offset, ranges, buffers);
    } finally {
      handles.release(segment);
    }
  }

  /** Which index entries of `segment` a read of `offset` scans, and its limits. */
  private planRead(segment: Segment, offset: number, maxMessages: number, maxBytes: number, filter: TagFilter | undefined): ReadPlan {
    const first = offset - segment.baseOffset;
    const available = segment.entryCount - first;
    const wantMessages = Math.max(1, maxMessages);
    return {
      first,
      wantMessages,
      byteLimit: Math.max(1, Math.min(maxBytes, this.ctx.config.readMaxBytes)),
      scanLimit: Math.max(1, filter ? Math.min(available, this.ctx.config.readMaxScanEntries) : Math.min(available, wantMessages)),
    };
  }

  /** The matched records of the scanned index entries, as runs of adjacent records. */
  private matchRanges(segment: Segment, indexBytes: Buffer, plan: ReadPlan, filter: TagFilter | undefined): MatchedRanges | 'INDEX_DAMAGED' {
    const list: number[] = [];
    let scanned = 0;
    let matched = 0;
    let bytes = 0;
    for (; scanned < plan.scanLimit; scanned++) {
      const at = scanned * INDEX_ENTRY_SIZE;
      const position = indexPosition(indexBytes, at);
      const size = indexSize(indexBytes, at);
      if (position < SEGMENT_HEADER_SIZE || position + size > segment.logEnd) return 'INDEX_DAMAGED';
      if (filter && !filter.tagsCodes.has(indexTagsCode(indexBytes, at))) continue;
      if (matched > 0 && (matched >= plan.wantMessages || bytes + size > plan.byteLimit)) break;
      const last = list.length - 4;
      if (last >= 0 && list[last] + list[last + 1] === position && list[last + 3] === scanned - 1) {
        list[last + 1] += size;
        list[last + 3] = scanned;
      } else list.push(position, size, scanned, scanned);
      matched += 1;
      bytes += size;
    }
    return { list, scanned, matched };
  }

  /** True when the records of run `r` in `data` have the sizes and CRCs their index entries say. */
  private rangeMatchesIndex(data: Buffer, indexBytes: Buffer, list: readonly number[], r: number): boolean {
    let at = 0;
    for (let e = list[r + 2]; e <= list[r + 3]; e++) {
      const size = indexSize(indexBytes, e * INDEX_ENTRY_SIZE);
      if (data.readInt32BE(at) !== size || readRecordCrc(data, at, size) !== indexCrc(indexBytes, e * INDEX_ENTRY_SIZE)) return false;
      at += size;
    }
    return true;
  }

  /** Log bytes [position, position + length) from the tail cache or an inline read, or MUST_WAIT. */
  private logNow(segment: Segment, log: FileHandle, position: number, length: number): Buffer | typeof MUST_WAIT {
    const cached = this.tail.readLog(segment, position, length);
    if (cached) return cached;
    if (!this.isActive(segment) || segment.logEnd - position > INLINE_READ_WINDOW_BYTES) return MUST_WAIT;
    const data = Buffer.allocUnsafe(length);
    // A short read is left to the async path, which reports the damage.
    return this.ctx.io.readSync(log, data, 0, length, position) === length ? data : MUST_WAIT;
  }

  /**
   * Fills `bytes` with index entries [first, ...) of a segment: the part still in memory (the
   * segment's index tail) first, synchronously (a concurrent tail write only moves entries into the
   * file, where they are read next), then the file part from the tail cache or an inline read.
   * MUST_WAIT when the file part has to be read through the threadpool (`readIndexFile`), false when
   * the file is short (a damaged index).
   */
  private indexNow(segment: Segment, idx: FileHandle, first: number, bytes: Buffer): boolean | typeof MUST_WAIT {
    const count = bytes.length / INDEX_ENTRY_SIZE;
    const inFile = Math.max(0, Math.min(count, segment.indexFileCount - first));
    if (inFile < count) segment.copyIndexTail(bytes, inFile * INDEX_ENTRY_SIZE, first + inFile, count - inFile);
    if (inFile === 0 || this.tail.copyIndex(segment, bytes, 0, first, inFile)) return true;
    if (!this.isActive(segment) || segment.entryCount - first > INLINE_READ_WINDOW_ENTRIES) return MUST_WAIT;
    const length = inFile * INDEX_ENTRY_SIZE;
    return this.ctx.io.readSync(idx, bytes, 0, length, first * INDEX_ENTRY_SIZE) === length;
  }

  /** `indexNow`, reading the file part through the threadpool when it must; false for a damaged index. */
  private async readIndex(segment: Segment, idx: FileHandle, first: number, bytes: Buffer): Promise<boolean> {
    const now = this.indexNow(segment, idx, first, bytes);
    if (now !== MUST_WAIT) return now;
    // Computed before the read, as indexNow did: the in-memory part is filled in already.
    const inFile = Math.max(0, Math.min(bytes.length / INDEX_ENTRY_SIZE, segment.indexFileCount - first));
    const length = inFile * INDEX_ENTRY_SIZE;
    return (await this.ctx.io.read(idx, bytes, 0, length, first * INDEX_ENTRY_SIZE)) === length;
  }

  /** Writes a segment's in-memory index entries to its .idx file (one write at a time per segment). */
  async flushIndexTail(segment: Segment): Promise<void> {
    while (segment.indexTailFlush) await segment.indexTailFlush;
    if (segment.indexTail.length === 0 || segment.deleted) return;
    const chunks = segment.indexTail.slice();
    const at = segment.indexFileCount;
    segment.indexTailFlush = (async () => {
      const files = await this.ctx.handles.acquire(segment);
      try {
        await this.ctx.io.writev(files.idx, chunks, at * INDEX_ENTRY_SIZE);
      } finally {
        this.ctx.handles.release(segment);
      }
      // Batches committed meanwhile stay in the tail.
      segment.indexTail.splice(0, chunks.length);
      segment.indexFileCount = at + chunks.reduce((n, c) => n + c.length, 0) / INDEX_ENTRY_SIZE;
      this.indexUnsynced.add(segment);
    })().finally(() => (segment.indexTailFlush = undefined));
    await segment.indexTailFlush;
  }

  /** Writes every segment's in-memory index entries out (before a checkpoint vouches for them). */
  async flushIndexTails(): Promise<void> {
    for (const segment of this.segments) if (segment.indexTail.length > 0) await this.flushIndexTail(segment);
  }

  /** The index entry of a readable offset, or undefined. */
  async entryAt(offset: number): Promise<IndexEntry | undefined> {
    if (offset < this.minOffset || offset >= this.maxOffset) return undefined;
    const segment = this.segmentFor(offset);
    if (!segment) return undefined;
    const files = await this.ctx.handles.acquire(segment);
    try {
      if (segment.deleted) return undefined;
      const bytes = Buffer.allocUnsafe(INDEX_ENTRY_SIZE);
      return (await this.readIndex(segment, files.idx, offset - segment.baseOffset, bytes)) ? decodeIndexEntry(bytes, 0) : undefined;
    } finally {
      this.ctx.handles.release(segment);
    }
  }

  /**
   * RocketMQ's getOffsetInQueueByTime: the offset whose store time is closest to `timestamp`
   * (the earlier one on a tie; an exact match wins); 0 for an empty queue.
   */
  async searchOffsetByTimestamp(timestamp: number): Promise<number> {
    const low0 = this.minOffset;
    const high0 = this.maxOffset;
    if (high0 <= low0) return 0;
    // Lower bound: first offset whose store time is >= timestamp.
    let low = low0;
    let high = high0;
    while (low < high) {
      const mid = Math.floor((low + high) / 2);
      const entry = await this.entryAt(mid);
      if (entry === undefined) return 0;
      if (entry.storeTimestamp < timestamp) low = mid + 1;
      else high = mid;
    }
    if (low >= high0) return high0 - 1;
    if (low === low0) return low;
    const right = await this.entryAt(low);
    const left = await this.entryAt(low - 1);
    if (!right || !left || right.storeTimestamp === timestamp) return low;
    return timestamp - left.storeTimestamp > right.storeTimestamp - timestamp ? low : low - 1;
  }

  /** Reads the whole record at `position` of `segment`; undefined unless it is a readable record start. */
  async readRecordAt(segment: Segment, position: number): Promise<Buffer | undefined> {
    if (position < SEGMENT_HEADER_SIZE || position + 4 > segment.logEnd) return undefined;
    const head = this.tail.readLog(segment, position, 4);
    if (head) {
      const size = head.readInt32BE(0);
      const cached = size > 4 && position + size <= segment.logEnd ? this.tail.readLog(segment, position, size) : undefined;
      if (cached) return cached;
    }
    const files = await this.ctx.handles.acquire(segment);
    try {
      if (segment.deleted) return undefined;
      const head = Buffer.allocUnsafe(4);
      if ((await this.ctx.io.read(files.log, head, 0, 4, position)) < 4) return undefined;
      const size = head.readInt32BE(0);
      if (size <= 4 || position + size > segment.logEnd) return undefined;
      const bytes = Buffer.allocUnsafe(size);
      if ((await this.ctx.io.read(files.log, bytes, 0, size, position)) < size) return undefined;
      return bytes;
    } finally {
      this.ctx.handles.release(segment);
    }
  }

  /**
   * Removes the oldest segment if it is not the active one and no read holds it. The log goes
   * first: an index without its log is an orphan that recovery removes.
   */
  async deleteOldestSegment(): Promise<boolean> {
    if (this.segments.length <= 1) return false;
    const segment = this.segments[0];
    if (segment.pins > 0) return false;
    this.segments.shift();
    segment.deleted = true;
    this.tail.dropThrough(segment);
    this.ctx.segmentRemoved(segment);
    this.indexUnsynced.delete(segment);
    await this.ctx.handles.close(segment);
    await this.ctx.io.unlink(segment.logPath);
    await this.ctx.io.unlink(segment.idxPath);
    return true;
  }

  /** Rewrites a segment's index from its log (entries [0, entryCount)). */
  async rebuildIndex(segment: Segment): Promise<void> {
    this.ctx.logger.warn({ topic: this.topic, queueId: this.queueId, segment: segment.idxPath }, 'rebuilding a damaged consume index');
    const files = await this.ctx.handles.acquire(segment);
    try {
      const scan = await scanSegment(this.ctx.io, files.log, segment, SEGMENT_HEADER_SIZE, segment.baseOffset, segment.logEnd, this.ctx.limits);
      if (scan.entries.length < segment.entryCount) throw new Error(`log ${segment.logPath} holds fewer records than readable`);
      // Only the file part can be damaged; the tail in memory is authoritative.
      const bytes = Buffer.allocUnsafe(segment.indexFileCount * INDEX_ENTRY_SIZE);
      scan.entries.slice(0, segment.indexFileCount).forEach((entry, i) =>
        encodeIndexEntry(bytes, i * INDEX_ENTRY_SIZE, entry.position, entry.size, entry.tagsCode, entry.crc, entry.storeTimestamp),
      );
      await this.ctx.io.writev(files.idx, [bytes], 0);
      await this.ctx.io.datasync(files.idx);
    } finally {
      this.ctx.handles.release(segment);
    }
  }

  /** Frees the tail cache (the queue is being deleted). */
  dropTailCache(): void {
    this.tail.clear();
  }

  /** Waits for every staged append to be written (or refused), and for any zero-fill. */
  async drain(): Promise<void> {
    while (!this.idle) await new Promise((resolve) => setTimeout(resolve, 1));
    for (const segment of this.segments) while (segment.zeroing) await segment.zeroing;
  }
}
