/**
 * Every storage knob and its default, in one place. `docs/storage.md` documents the same table;
 * callers pass a `Partial<StoreConfig>` and get the rest from `DEFAULT_STORE_CONFIG`.
 */

export type FlushMode = 'SYNC_FLUSH' | 'ASYNC_FLUSH';

export interface StoreConfig {
  /** SYNC_FLUSH acknowledges an append once durable (O_DSYNC write); ASYNC_FLUSH after the write into the page cache (inline on the main thread when the segment's files are open). */
  flushMode: FlushMode;
  /** ASYNC_FLUSH, and SYNC_FLUSH with the journal: how often written log data is fdatasync'ed. */
  flushIntervalMs: number;
  /**
   * SYNC_FLUSH: acknowledge once the batch is durable in one shared journal (one O_DSYNC write per
   * round for all queues) rather than in each queue's log (one O_DSYNC write per queue).
   */
  syncJournal: boolean;
  /** A queue's active segment rolls once it would grow past this many bytes. */
  segmentSize: number;
  /** Largest accepted message body, in bytes (RocketMQ maxMessageSize). */
  maxMessageSize: number;
  /** Largest accepted properties string, in UTF-8 bytes (2-byte length field). */
  maxPropertiesSize: number;
  /** Upper bound on open segment file pairs (.log + .idx); least recently used are closed. */
  maxOpenSegments: number;
  /** Segments whose newest record is older than this are deleted (RocketMQ fileReservedTime). */
  fileReservedTimeHours: number;
  /** Per-queue size cap in bytes; old segments are deleted beyond it. 0 = unlimited. */
  maxQueueBytes: number;
  /** Store-wide size cap in bytes over all queue logs; oldest segments go first. 0 = unlimited. */
  maxTotalBytes: number;
  /** Filesystem used/total ratio above which appends are refused with DISK_FULL. */
  diskMaxUsedRatio: number;
  /** How often the CleanupService applies retention and re-reads disk usage. */
  cleanupIntervalMs: number;
  /** How often synced queue positions are checkpointed (bounds crash-recovery work). */
  checkpointIntervalMs: number;
  /** How often new key-index entries are written to the index file (made durable before each checkpoint). */
  keyIndexFlushIntervalMs: number;
  /** Hash slots per key-index file (4 bytes each, held in memory for the active file). */
  keyIndexSlotsPerFile: number;
  /** Entries per key-index file (20 bytes each, held in memory for the active file); a full file rolls over. */
  keyIndexMaxEntriesPerFile: number;
  /** Upper bound on bytes returned by one read, whatever the caller asks for. */
  readMaxBytes: number;
  /** Upper bound on index entries scanned by one filtered read. */
  readMaxScanEntries: number;
  /** Newest committed bytes per queue kept in memory, so reads of the tail need no file read. 0 = none. */
  tailCacheBytes: number;
  /** Store-wide bound on those bytes over all queues; the oldest go first. 0 = no tail cache. */
  tailCacheTotalBytes: number;
  /** Size of the pooled buffers that pending appends are encoded into. */
  writeChunkSize: number;
  /** A queue's pending appends are cut into write batches of about this size (write/sync pipelining). */
  writeBatchBytes: number;
  /**
   * Bytes a queue may hold staged or being written; an append that would pass it is refused with
   * STORE_BUSY (the broker's SYSTEM_BUSY, which producers retry) instead of queueing in memory
   * while the disk is behind. An append to a queue with nothing pending always goes through.
   */
  maxPendingBytesPerQueue: number;
}

export const DEFAULT_STORE_CONFIG: Readonly<StoreConfig> = Object.freeze({
  flushMode: 'SYNC_FLUSH', // durability first; ASYNC_FLUSH trades the last interval for speed
  flushIntervalMs: 500, // RocketMQ flushIntervalCommitLog
  syncJournal: true, // one durable write per round for the queues that write in it (docs/storage.md); off: O_DSYNC per queue log
  segmentSize: 1024 * 1024 * 1024, // 1 GiB, as a RocketMQ commit-log file
  maxMessageSize: 4 * 1024 * 1024, // 4 MiB body
  maxPropertiesSize: 32767, // the properties length field is a signed short
  maxOpenSegments: 4096, // 8192 descriptors at most, and never more than 3/4 of the open-file limit (see open-file-limit.ts)
  fileReservedTimeHours: 72, // RocketMQ fileReservedTime
  maxQueueBytes: 0, // unlimited
  maxTotalBytes: 0, // unlimited
  diskMaxUsedRatio: 0.9, // refuse appends above 90 % filesystem usage
  cleanupIntervalMs: 10_000,
  checkpointIntervalMs: 1_000,
  keyIndexFlushIntervalMs: 100, // one pwrite of new entries per interval instead of per write batch
  keyIndexSlotsPerFile: 262_144, // 1 MiB of slots: chains of about one entry at a full file
  keyIndexMaxEntriesPerFile: 262_144, // 5 MiB of entries: the active file's image stays about 6 MiB
  readMaxBytes: 4 * 1024 * 1024, // one pull answer at most
  readMaxScanEntries: 4096, // filtered reads stop here and report NO_MATCHED_MESSAGE
  tailCacheBytes: 1024 * 1024, // about 1000 records of 1 KiB: a consumer keeping up with the tail
  tailCacheTotalBytes: 0, // off: pulls of the tail read the page cache inline (docs/storage.md, *Tail cache*)
  writeChunkSize: 64 * 1024, // one write batch per pooled buffer
  writeBatchBytes: 128 * 1024, // about 0.4 ms of write + fdatasync on a typical SSD; two such batches in flight keep 256 appenders busy
  maxPendingBytesPerQueue: 64 * 1024 * 1024, // far above what a disk keeping up holds (a few write batches), far below the memory of the box
});

/** Merges `partial` over the defaults and rejects values that cannot work. */
export function resolveStoreConfig(partial: Partial<StoreConfig> = {}): StoreConfig {
  const config: StoreConfig = { ...DEFAULT_STORE_CONFIG, ...partial };
  if (config.flushMode !== 'SYNC_FLUSH' && config.flushMode !== 'ASYNC_FLUSH') {
    throw new RangeError(`flushMode must be SYNC_FLUSH or ASYNC_FLUSH, got ${String(config.flushMode)}`);
  }
  if (typeof config.syncJournal !== 'boolean') throw new RangeError(`syncJournal must be true or false, got ${String(config.syncJournal)}`);
  const positive: (keyof StoreConfig)[] = [
    'flushIntervalMs',
    'segmentSize',
    'maxMessageSize',
    'maxPropertiesSize',
    'maxOpenSegments',
    'cleanupIntervalMs',
    'checkpointIntervalMs',
    'keyIndexFlushIntervalMs',
    'keyIndexSlotsPerFile',
    'keyIndexMaxEntriesPerFile',
    'readMaxBytes',
    'readMaxScanEntries',
    'writeChunkSize',
    'writeBatchBytes',
    'maxPendingBytesPerQueue',
  ];
  for (const key of positive) {
    const value = config[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new RangeError(`${key} must be a positive number, got ${String(value)}`);
    }
  }
  for (const key of ['maxQueueBytes', 'maxTotalBytes', 'fileReservedTimeHours', 'tailCacheBytes', 'tailCacheTotalBytes'] as const) {
    if (!Number.isFinite(config[key]) || config[key] < 0) throw new RangeError(`${key} must be >= 0, got ${config[key]}`);
  }
  if (!(config.diskMaxUsedRatio > 0 && config.diskMaxUsedRatio <= 1)) {
    throw new RangeError(`diskMaxUsedRatio must be in (0, 1], got ${config.diskMaxUsedRatio}`);
  }
  // The segment header keeps a segment's physical-offset reservation in 32 bits.
  if (config.segmentSize > 2 ** 31) throw new RangeError(`segmentSize cannot exceed 2 GiB, got ${config.segmentSize}`);
  if (config.maxMessageSize > 2 ** 30) throw new RangeError(`maxMessageSize cannot exceed 1 GiB, got ${config.maxMessageSize}`);
  // The tail caches share one ring buffer, allocated at the first commit: a size it cannot have must fail here.
  if (!Number.isInteger(config.tailCacheTotalBytes) || config.tailCacheTotalBytes > 2 ** 30) {
    throw new RangeError(`tailCacheTotalBytes must be a whole number of bytes up to 1 GiB, got ${config.tailCacheTotalBytes}`);
  }
  for (const key of ['keyIndexSlotsPerFile', 'keyIndexMaxEntriesPerFile'] as const) {
    // Entry numbers are 32-bit and a file's image is one ArrayBuffer.
    if (!Number.isInteger(config[key]) || config[key] > 2 ** 26) throw new RangeError(`${key} must be an integer in [1, ${2 ** 26}], got ${config[key]}`);
  }
  if (config.maxPropertiesSize > 32767) throw new RangeError('maxPropertiesSize cannot exceed 32767 (2-byte length field)');
  return config;
}
