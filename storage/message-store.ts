/**
 * The storage engine's only door (see `MessageStoreApi` in ./types.ts). Layout under `dataDir`:
 *
 *   meta.sqlite                                   MetaStore (topics, groups, offsets, values)
 *   index/<20-digit sequence>.kidx                key index hash files (see ./key-index.ts)
 *   queues/<topic>/<queueId>/<20-digit base>.log  segment: 32-byte header + stored records
 *   queues/<topic>/<queueId>/<20-digit base>.idx  its consume index (32-byte entries)
 *   checkpoint                                    per-queue durable marks (temp → fsync → rename)
 *   clean-shutdown                                present only between a clean close and the next open
 *   lock                                          the holder's pid, host, start time (see ./data-dir-lock.ts)
 *
 * Physical offsets: every segment reserves `segmentSize + maxRecordSize + header` bytes of a store-wide
 * counter (kept in the MetaStore, reserved in blocks before any segment file is created); a record's
 * physical offset is its segment's physBase plus its file position, so it is unique, stays below
 * 2^53, and a sorted array of physBases resolves it back to (topic, queue, position).
 *
 * Key index: committed batches' keys go into the in-memory image of the active key-index file (a
 * query sees them at once); new entries are written out every `keyIndexFlushIntervalMs` and made
 * durable before every checkpoint, never on the acknowledgement path. Crash recovery re-indexes the
 * keys of the records after the checkpoint, so the index stays complete (RocketMQ also builds it
 * behind).
 */
import { crc32 } from 'node:zlib';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { MIN_RECORD_SIZE, RecordPos, checkRecord, decodeRecord, encodeRecord, recordSize, type EncodeFields } from '../protocol/message-codec.js';
import { crc32Combine } from '../protocol/crc32.js';
import { createOffsetMsgId, hexInt64 } from '../protocol/message-id.js';
import { ipv4Bytes } from '../protocol/socket-address.js';
import { CheckpointService, checkpointKey, readCheckpoint, writeCheckpoint } from './checkpoint.js';
import { CleanupService } from './cleanup-service.js';
import { IntervalTask, systemClock, type Clock } from './clock.js';
import { resolveStoreConfig, type StoreConfig } from './config.js';
import { DataDirLock } from './data-dir-lock.js';
import { DirectorySyncer } from './dir-sync.js';
import { NodeFileIO, type FileIO } from './file-io.js';
import { AsyncIntervalFlush, JournaledSyncFlush, SyncGroupCommit, type FlushPolicy } from './flush-policy.js';
import { KEY_INDEX_DIR, KeyIndex } from './key-index.js';
import { MetaStore } from './meta-store.js';
import { openFileLimit, segmentHandleBudget } from './open-file-limit.js';
import { QueueLog, StoreWriteError, type PendingBatch, type QueueLogContext } from './queue-log.js';
import { recoverQueue, tagsCodeOfTags, type KeyReindex, type KeysOf, type ScanLimits, type TagsCodeOf } from './queue-recovery.js';
import { CRC_PROPERTY_OVERHEAD, crcPlaceholderSuffix, stampRecordCrcAroundBody, verifyRecordCrc, wholeRecordBytesCrc, withCrcPlaceholder } from './record-crc.js';
import { SEGMENT_HEADER_SIZE, SegmentHandleCache, type Segment } from './segment.js';
import { SyncJournal, replayJournal } from './sync-journal.js';
import { TailCacheBudget } from './tail-cache.js';
import { TopicCachedMeta } from './topic-cached-meta.js';
import { validateTopicName } from './topic-name.js';
import {
  AppendStatus,
  GetMessageStatus,
  type AppendListener,
  type AppendResult,
  type MessageStoreApi,
  type MessageToAppend,
  type ReadResult,
  type RecordLocation,
  type TagFilter,
} from './types.js';
import { ChunkPool } from './write-buffer.js';

export const CLEAN_SHUTDOWN_FILE = 'clean-shutdown';
export const META_FILE = 'meta.sqlite';
const PHYSICAL_COUNTER_KEY = 'storage.physicalOffsetReserved';
const EMPTY = Buffer.alloc(0);
/** Segments reserved per MetaStore write (one SQLite commit per this many segment rolls). */
const RESERVATION_BLOCK = 64;
/** How often refused appends may trigger a fresh disk-usage reading. */
const DISK_RECHECK_MS = 1000;
/** Pooled buffer size for pending index entries (512 entries). */
const INDEX_CHUNK_SIZE = 16 * 1024;
/** Queue directories recovered concurrently at open. */
const RECOVERY_PARALLELISM = 8;

export interface MessageStoreOptions {
  dataDir: string;
  config?: Partial<StoreConfig>;
  fileIO?: FileIO;
  clock?: Clock;
  storeHost?: { ip: string; port: number };
  logger?: Logger;
  /** Recomputes an index tagsCode when recovery rebuilds an entry; default: hash of TAGS. */
  tagsCodeOf?: TagsCodeOf;
  /**
   * The keys a stored message is indexed under, for re-indexing the records crash recovery scans
   * (the broker passes the rule it builds `MessageToAppend.keys` with). Without it, keys of messages
   * appended less than a checkpoint interval before a crash may be missing from the key index.
   */
  keysOf?: KeysOf;
  /** The process's open-file limit (default: read from /proc/self/limits); caps `maxOpenSegments`. */
  openFileLimit?: number;
  /**
   * Takes over the data directory's lock even from a store of this process that is still open. Only
   * for tests that simulate a crash by abandoning a store without close; never set by the broker.
   */
  takeOverOwnLock?: boolean;
}

type Rejection = Exclude<AppendResult, { status: 'PUT_OK' }>;

/**
 * A message's properties as stored: `properties` then `suffix` (the CRC property, appended as bytes
 * so the joined string is never built), `bytes` in all.
 */
interface PreparedProperties {
  properties: string;
  suffix: Buffer | undefined;
  bytes: number;
}

/**
 * A stored append's result. Its msgId string is built when read: the broker reads it once per
 * answer, and callers that do not need it (the key index keeps offsets) do not pay for it.
 */
class StoredMessage {
  readonly status = AppendStatus.PUT_OK;

  constructor(
    readonly queueId: number,
    readonly queueOffset: number,
    readonly physicalOffset: number,
    readonly storeTimestamp: number,
    /** The store host's half of the msgId. */
    private readonly msgIdPrefix: string,
  ) {}

  /** Offset message id: hex(storeHost ip, port, physicalOffset). */
  get msgId(): string {
    return this.msgIdPrefix + hexInt64(this.physicalOffset);
  }
}

function refuse(status: Rejection['status'], reason: string): Rejection {
  return { status, reason };
}

export class MessageStore implements MessageStoreApi {
  readonly meta: TopicCachedMeta;
  readonly config: StoreConfig;
  private readonly queues = new Map<string, Map<number, QueueLog>>();
  /** Every segment of every queue, sorted by physBase (physical offsets → segment). */
  private readonly physIndex: Segment[] = [];
  private readonly listeners = new Set<AppendListener>();
  /** Queues committed to since the listeners last ran, with their newest batch's tag hash. */
  private readonly committedSinceNotify = new Map<QueueLog, number>();
  private notifyScheduled = false;
  private readonly handles: SegmentHandleCache;
  private readonly flush: FlushPolicy;
  private readonly queueContext: QueueLogContext;
  private readonly checkpoints: CheckpointService;
  private readonly cleanup: CleanupService;
  private readonly keyFlush: IntervalTask;
  private readonly keyReindex: KeyReindex | undefined;
  private readonly propertiesLimit: number;
  private storeHost!: { ip: string; port: number };
  /** The host half of offset msgIds (16 hex digits), fixed per store host. */
  private msgIdPrefix = '';
  private physReserved = 0;
  private physNext = 0;
  private state: 'opening' | 'open' | 'closing' | 'closed' = 'opening';
  /** Topic configs whose name passed `validateTopicName` (a config object is replaced when the topic changes). */
  private readonly validTopics = new WeakSet<object>();
  /** The prepared properties of a single append: staged at once, so one object serves every call. */
  private readonly singleProps: PreparedProperties = { properties: '', suffix: undefined, bytes: 0 };
  /** The record being encoded: refilled per append rather than allocated. */
  private readonly fields: EncodeFields = {
    queueId: 0,
    flag: 0,
    queueOffset: 0,
    physicalOffset: 0,
    sysFlag: 0,
    bornTimestamp: 0,
    bornHost: { ip: '127.0.0.1', port: 0 },
    storeTimestamp: 0,
    storeHost: { ip: '127.0.0.1', port: 0 },
    reconsumeTimes: 0,
    body: Buffer.alloc(0),
    bodyCrc: 0,
    topic: '',
    properties: '',
    propertiesBytes: 0,
    propertiesSuffix: undefined,
  };
  private diskUsedRatio = 0;
  private diskFull = false;
  private lastDiskCheck = 0;
  private diskCheck: Promise<void> | undefined;

  private constructor(
    private readonly dataDir: string,
    config: StoreConfig,
    private readonly io: FileIO,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly lock: DataDirLock,
    meta: MetaStore,
    private readonly keyIndex: KeyIndex,
    storeHost: { ip: string; port: number },
    tagsCodeOf: TagsCodeOf,
    keysOf: KeysOf | undefined,
    journal: SyncJournal | undefined,
  ) {
    this.config = config;
    this.meta = new TopicCachedMeta(meta);
    this.setStoreHost(storeHost);
    this.propertiesLimit = Math.min(config.maxPropertiesSize, 32767 - CRC_PROPERTY_OVERHEAD);
    this.handles = new SegmentHandleCache(io, config.maxOpenSegments, config.flushMode === 'SYNC_FLUSH' && !journal);
    this.flush =
      config.flushMode === 'ASYNC_FLUSH'
        ? new AsyncIntervalFlush(io, this.handles, clock, config.flushIntervalMs, logger)
        : journal
          ? new JournaledSyncFlush(io, this.handles, clock, config.flushIntervalMs, logger, journal)
          : new SyncGroupCommit();
    const limits: ScanLimits = { maxRecordSize: this.maxRecordSize(), tagsCodeOf };
    this.queueContext = {
      io,
      handles: this.handles,
      pool: new ChunkPool(config.writeChunkSize),
      indexPool: new ChunkPool(INDEX_CHUNK_SIZE),
      config,
      limits,
      flush: this.flush,
      tailBudget: new TailCacheBudget(config.tailCacheTotalBytes),
      logger,
      durableDirs: new Set(),
      dirSync: new DirectorySyncer(io),
      reservePhysical: () => this.reservePhysical(),
      segmentAdded: (segment) => this.physIndex.push(segment),
      segmentRemoved: (segment) => this.forgetSegment(segment),
      batchCommitted: (queue, batch) => this.batchCommitted(queue, batch),
    };
    this.checkpoints = new CheckpointService(io, this.handles, dataDir, () => this.allQueues(), clock, config.checkpointIntervalMs, logger, () =>
      keyIndex.flush({ durable: true }),
    );
    this.keyFlush = new IntervalTask(config.keyIndexFlushIntervalMs, () => keyIndex.flush(), clock, (err) =>
      logger.error({ err }, 'key index flush failed; the entries stay in memory'),
    );
    this.keyReindex = keysOf && {
      keysOf,
      add: (entries) => {
        for (const e of entries) keyIndex.add(e.topic, e.key, e.physicalOffset, e.storeTimestamp);
      },
    };
    this.cleanup = new CleanupService(
      {
        queues: () => this.allQueues(),
        refreshDiskUsage: () => this.refreshDiskUsage(),
        segmentsDeleted: () => this.dropStaleKeyIndexFiles(),
      },
      config,
      clock,
      logger,
    );
  }

  static async open(options: MessageStoreOptions): Promise<MessageStore> {
    const configured = resolveStoreConfig(options.config);
    const io = options.fileIO ?? new NodeFileIO();
    const clock = options.clock ?? systemClock;
    const logger = options.logger ?? pino({ level: 'silent' });
    const fileLimit = options.openFileLimit ?? openFileLimit();
    const maxOpenSegments = segmentHandleBudget(configured.maxOpenSegments, fileLimit);
    if (maxOpenSegments < configured.maxOpenSegments) {
      logger.warn(
        { maxOpenSegments: configured.maxOpenSegments, openFileLimit: fileLimit, using: maxOpenSegments },
        'maxOpenSegments is more than the open-file limit allows (two files per segment); raise `ulimit -n` when many queues are written',
      );
    }
    const config: StoreConfig = { ...configured, maxOpenSegments };
    const { dataDir } = options;
    await io.mkdir(dataDir);
    const lock = await DataDirLock.acquire(io, dataDir, logger.child({ component: 'storage' }), { takeOverOwnLock: options.takeOverOwnLock });
    let meta: MetaStore | undefined;
    let keyIndex: KeyIndex | undefined;
    let store: MessageStore | undefined;
    let journal: SyncJournal | undefined;
    try {
      await io.mkdir(join(dataDir, 'queues'));
      meta = MetaStore.open(join(dataDir, META_FILE), { synchronous: config.flushMode === 'SYNC_FLUSH' ? 'FULL' : 'NORMAL' });
      keyIndex = await KeyIndex.open(
        io,
        join(dataDir, KEY_INDEX_DIR),
        { slotsPerFile: config.keyIndexSlotsPerFile, maxEntriesPerFile: config.keyIndexMaxEntriesPerFile },
        logger.child({ component: 'key-index' }),
      );
      // Before the logs are scanned: what a journal holds belongs in them (whatever the mode now).
      const replayed = await replayJournal(io, dataDir, logger.child({ component: 'storage' }));
      if (config.flushMode === 'SYNC_FLUSH' && config.syncJournal) journal = await SyncJournal.open(io, dataDir);
      store = new MessageStore(
        dataDir,
        config,
        io,
        clock,
        logger.child({ component: 'storage' }),
        lock,
        meta,
        keyIndex,
        options.storeHost ?? { ip: '127.0.0.1', port: 10911 },
        options.tagsCodeOf ?? tagsCodeOfTags,
        options.keysOf,
        journal,
      );
      await store.recover(replayed > 0);
      return store;
    } catch (err) {
      await journal?.close().catch(() => undefined);
      await store?.handles.closeAll();
      await keyIndex?.close();
      meta?.close();
      await lock.release().catch(() => undefined);
      throw err;
    }
  }

  /** Largest record the limits allow: fixed fields (IPv6 hosts at most) + body + topic + properties. */
  private maxRecordSize(): number {
    return MIN_RECORD_SIZE + 24 + this.config.maxMessageSize + 127 + 32767;
  }

  /** `replayed`: journal frames were written into the logs, so their tails must be scanned. */
  private async recover(replayed: boolean): Promise<void> {
    const started = Date.now();
    const cleanPath = join(this.dataDir, CLEAN_SHUTDOWN_FILE);
    const marked = (await this.io.stat(cleanPath)) !== undefined;
    const clean = marked && !replayed;
    const marks = await readCheckpoint(this.io, this.dataDir, this.logger);
    const queuesDir = join(this.dataDir, 'queues');
    const work: { topic: string; queueId: number; dir: string }[] = [];
    for (const topic of await this.io.readdir(queuesDir)) {
      if (validateTopicName(topic) !== undefined) {
        this.logger.warn({ topic }, 'ignoring a directory that is not a valid topic name');
        continue;
      }
      for (const name of await this.io.readdir(join(queuesDir, topic))) {
        if (!/^\d{1,9}$/.test(name)) continue;
        work.push({ topic, queueId: Number(name), dir: join(queuesDir, topic, name) });
      }
    }
    const recoveryContext = { io: this.io, logger: this.logger, limits: this.queueContext.limits, keyReindex: this.keyReindex };
    let repaired = 0;
    let next = 0;
    const worker = async () => {
      while (next < work.length) {
        const { topic, queueId, dir } = work[next++];
        const queue = new QueueLog(topic, queueId, dir, this.queueContext);
        const result = await recoverQueue(recoveryContext, queue, dir, marks.get(checkpointKey(topic, queueId)), clean);
        if (!result.intact) repaired += 1;
        if (result.segments.length === 0) continue;
        queue.restore(result.segments, true);
        this.physIndex.push(...result.segments);
        this.queueMap(topic).set(queueId, queue);
      }
    };
    await Promise.all(Array.from({ length: RECOVERY_PARALLELISM }, worker));
    this.physIndex.sort((a, b) => a.physBase - b.physBase);
    // The counter must be past every existing segment even if its last update was lost.
    const stored = Number(this.meta.getValue(PHYSICAL_COUNTER_KEY) ?? 0);
    const last = this.physIndex[this.physIndex.length - 1];
    this.physNext = this.physReserved = Math.max(stored, last ? last.physBase + last.physReserve : 0);
    await writeCheckpoint(
      this.io,
      this.dataDir,
      this.allQueues().map((q) => ({ topic: q.topic, queueId: q.queueId, mark: q.synced })),
    );
    if (marked) {
      await this.io.unlink(cleanPath);
      await this.io.fsyncDir(this.dataDir);
    }
    await this.refreshDiskUsage();
    this.flush.start();
    this.checkpoints.start();
    this.cleanup.start();
    this.keyFlush.start();
    this.state = 'open';
    this.logger.info({ clean, queues: work.length, repaired, ms: Date.now() - started }, 'message store open');
  }

  private queueMap(topic: string): Map<number, QueueLog> {
    let map = this.queues.get(topic);
    if (!map) this.queues.set(topic, (map = new Map()));
    return map;
  }

  private allQueues(): QueueLog[] {
    const out: QueueLog[] = [];
    for (const map of this.queues.values()) for (const queue of map.values()) out.push(queue);
    return out;
  }

  private queue(topic: string, queueId: number): QueueLog | undefined {
    return this.queues.get(topic)?.get(queueId);
  }

  private reservePhysical(): { physBase: number; physReserve: number } {
    const physReserve = this.config.segmentSize + this.maxRecordSize() + SEGMENT_HEADER_SIZE;
    if (this.physNext + physReserve > this.physReserved) {
      const reserved = this.physNext + physReserve * RESERVATION_BLOCK;
      if (reserved > Number.MAX_SAFE_INTEGER) throw new Error('physical offset space exhausted');
      this.meta.setValue(PHYSICAL_COUNTER_KEY, String(reserved));
      this.physReserved = reserved;
    }
    const physBase = this.physNext;
    this.physNext += physReserve;
    return { physBase, physReserve };
  }

  private forgetSegment(segment: Segment): void {
    const i = this.physSegmentIndex(segment.physBase);
    if (i >= 0 && this.physIndex[i] === segment) this.physIndex.splice(i, 1);
  }

  /** Index of the segment with the largest physBase <= `physicalOffset`, or -1. */
  private physSegmentIndex(physicalOffset: number): number {
    let low = 0;
    let high = this.physIndex.length - 1;
    let found = -1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      if (this.physIndex[mid].physBase <= physicalOffset) {
        found = mid;
        low = mid + 1;
      } else high = mid - 1;
    }
    return found;
  }

  private batchCommitted(queue: QueueLog, batch: PendingBatch): void {
    for (const row of batch.keys) this.keyIndex.add(row.topic, row.key, row.physicalOffset, row.storeTimestamp);
    if (this.listeners.size === 0) return;
    this.committedSinceNotify.set(queue, batch.lastTagsCode);
    if (this.notifyScheduled) return;
    this.notifyScheduled = true;
    // After the append promises resolved: the broker answers the producer before waking pulls.
    setImmediate(() => this.notifyListeners());
  }

  /**
   * Tells the listeners about every queue committed to since they last ran, once per queue with its
   * newest max offset: the pulls these wake are then answered in one turn, so a consumer of several
   * queues gets one socket write per turn rather than one per queue.
   */
  private notifyListeners(): void {
    this.notifyScheduled = false;
    const committed = [...this.committedSinceNotify];
    this.committedSinceNotify.clear();
    for (const [queue, tagsCode] of committed) {
      for (const listener of this.listeners) {
        try {
          listener(queue.topic, queue.queueId, queue.maxOffset, tagsCode);
        } catch (err) {
          this.logger.error({ err }, 'append listener threw');
        }
      }
    }
  }

  /** Retention: key-index files whose newest entry is older than the oldest stored record go. */
  private async dropStaleKeyIndexFiles(): Promise<void> {
    let oldest = Number.MAX_SAFE_INTEGER;
    for (const queue of this.allQueues()) {
      const first = await queue.entryAt(queue.minOffset);
      if (first && first.storeTimestamp < oldest) oldest = first.storeTimestamp;
    }
    await this.keyIndex.deleteFilesBefore(oldest);
  }

  private async refreshDiskUsage(): Promise<void> {
    this.diskCheck ??= (async () => {
      try {
        const usage = await this.io.statfs(this.dataDir);
        this.diskUsedRatio = usage.totalBytes > 0 ? 1 - usage.freeBytes / usage.totalBytes : 0;
        const full = this.diskUsedRatio > this.config.diskMaxUsedRatio;
        if (full !== this.diskFull) {
          this.logger.warn({ diskUsedRatio: this.diskUsedRatio, limit: this.config.diskMaxUsedRatio }, full ? 'disk above watermark: refusing appends' : 'disk below watermark: appends resume');
        }
        this.diskFull = full;
      } catch (err) {
        this.logger.error({ err }, 'statfs failed');
      } finally {
        this.lastDiskCheck = this.clock.now();
        this.diskCheck = undefined;
      }
    })();
    return this.diskCheck;
  }

  /** Checks that everything about `message` except the queue is acceptable; returns a refusal or undefined. */
  private validate(message: MessageToAppend): Rejection | undefined {
    if (this.state !== 'open') return refuse(AppendStatus.SERVICE_NOT_AVAILABLE, `message store is ${this.state}`);
    let topic = this.meta.getTopic(message.topic);
    if (!topic || !this.validTopics.has(topic)) {
      const topicProblem = validateTopicName(message.topic);
      if (topicProblem) return refuse(AppendStatus.TOPIC_INVALID, topicProblem);
      topic = this.meta.getTopic(message.topic);
      if (!topic) return refuse(AppendStatus.TOPIC_INVALID, `topic "${message.topic}" does not exist`);
      this.validTopics.add(topic);
    }
    const queueCount = Math.max(topic.readQueueNums, topic.writeQueueNums);
    if (!Number.isInteger(message.queueId) || message.queueId < 0 || message.queueId >= queueCount) {
      return refuse(AppendStatus.QUEUE_INVALID, `queueId ${message.queueId} is outside 0..${queueCount - 1} of topic "${message.topic}"`);
    }
    if (message.body.length > this.config.maxMessageSize) {
      return refuse(AppendStatus.BODY_TOO_LARGE, `body is ${message.body.length} bytes, more than maxMessageSize ${this.config.maxMessageSize}`);
    }
    if (this.diskFull) {
      if (this.clock.now() - this.lastDiskCheck >= DISK_RECHECK_MS) void this.refreshDiskUsage();
      return refuse(
        AppendStatus.DISK_FULL,
        `disk usage ${(this.diskUsedRatio * 100).toFixed(1)}% is above diskMaxUsedRatio ${(this.config.diskMaxUsedRatio * 100).toFixed(1)}%; appends resume once space is freed`,
      );
    }
    if (!Number.isSafeInteger(message.bornTimestamp) || message.bornTimestamp < 0) {
      return refuse(AppendStatus.IO_ERROR, `bornTimestamp is not a valid timestamp: ${message.bornTimestamp}`);
    }
    return undefined;
  }

  /** The queue's log, made (without touching the filesystem yet) on its first append. */
  private queueFor(topic: string, queueId: number): QueueLog {
    const topicMap = this.queueMap(topic);
    let queue = topicMap.get(queueId);
    if (!queue) {
      queue = new QueueLog(topic, queueId, join(this.dataDir, 'queues', topic, String(queueId)), this.queueContext);
      topicMap.set(queueId, queue);
    }
    return queue;
  }

  /**
   * Sets the per-batch fields of the reused encoder record; each `stageRecord` of the batch's records
   * follows, then `doneStaging`.
   */
  private beginStaging(queue: QueueLog): number {
    const storeTimestamp = this.clock.now();
    const fields = this.fields;
    fields.queueId = queue.queueId;
    fields.storeTimestamp = storeTimestamp;
    fields.storeHost = this.storeHost;
    fields.topic = queue.topic;
    return storeTimestamp;
  }

  /** Encodes one validated message as the next record of `batch` (just `stage`d on `queue`). */
  private stageRecord(queue: QueueLog, batch: PendingBatch, message: MessageToAppend, props: PreparedProperties, storeTimestamp: number): AppendResult {
    const topic = queue.topic;
    const fields = this.fields;
    const size = recordSize(message.body.length, topic.length, props.bytes);
    const slot = queue.place(batch, size);
    const { queueOffset, physicalOffset } = slot;
    fields.flag = message.flag;
    fields.queueOffset = queueOffset;
    fields.physicalOffset = physicalOffset;
    fields.sysFlag = message.sysFlag;
    fields.bornTimestamp = message.bornTimestamp;
    fields.bornHost = message.bornHost;
    fields.reconsumeTimes = message.reconsumeTimes;
    fields.body = message.body;
    const rawBodyCrc = crc32(message.body);
    fields.bodyCrc = rawBodyCrc & 0x7fffffff;
    fields.properties = props.properties;
    fields.propertiesBytes = props.bytes - (props.suffix?.length ?? 0);
    fields.propertiesSuffix = props.suffix;
    encodeRecord(fields, slot.chunk, slot.at);
    const crc = stampRecordCrcAroundBody(slot.chunk, slot.at, size, slot.at + RecordPos.BODY, message.body.length, rawBodyCrc);
    if (this.flush.journal) batch.logCrc = crc32Combine(batch.logCrc, wholeRecordBytesCrc(slot.chunk, slot.at, size, crc), size);
    for (const key of message.keys) {
      // An empty key cannot be queried.
      if (key === '') continue;
      batch.keys.push({ topic, key, physicalOffset, storeTimestamp });
    }
    queue.recordStaged(batch, physicalOffset - batch.segment.physBase, size, message.tagsCode, crc, storeTimestamp);
    return new StoredMessage(queue.queueId, queueOffset, physicalOffset, storeTimestamp, this.msgIdPrefix);
  }

  /** Nothing of a message may stay referenced once it is encoded. */
  private doneStaging(): void {
    const fields = this.fields;
    fields.body = EMPTY;
    fields.properties = '';
    fields.propertiesSuffix = undefined;
    fields.bornHost = fields.storeHost;
  }

  /**
   * STORE_BUSY when the queue already holds bytes not yet written and `bytes` more would pass
   * `maxPendingBytesPerQueue` (the disk is behind the producers); undefined otherwise.
   */
  private refuseIfBusy(queue: QueueLog, bytes: number): Rejection | undefined {
    const pending = queue.pendingBytes;
    if (pending === 0 || pending + bytes <= this.config.maxPendingBytesPerQueue) return undefined;
    return refuse(
      AppendStatus.STORE_BUSY,
      `queue ${queue.topic}:${queue.queueId} has ${pending} bytes waiting for the disk; ${bytes} more would pass maxPendingBytesPerQueue ${this.config.maxPendingBytesPerQueue}: try again later`,
    );
  }

  /**
   * The stored properties (CRC property appended) and their UTF-8 size, or a refusal; filled into
   * `into` when given (a single append stages it before anything else runs).
   */
  private preparedProperties(message: MessageToAppend, into: PreparedProperties = { properties: '', suffix: undefined, bytes: 0 }): PreparedProperties | Rejection {
    const given = Buffer.byteLength(message.properties);
    if (given > this.propertiesLimit) {
      return refuse(AppendStatus.PROPERTIES_TOO_LARGE, `properties are ${given} bytes, more than the ${this.propertiesLimit}-byte limit`);
    }
    const suffix = crcPlaceholderSuffix(message.properties);
    if (suffix) {
      into.properties = message.properties;
      into.suffix = suffix;
      into.bytes = given + suffix.length;
    } else {
      // A CRC property carried over from a stored record is replaced.
      into.properties = withCrcPlaceholder(message.properties);
      into.suffix = undefined;
      into.bytes = Buffer.byteLength(into.properties);
    }
    return into;
  }

  /**
   * Not async: the result is one `then` from the batch's promise (an append per message on the send
   * path). Like an async function it never throws: a failure rejects.
   */
  append(message: MessageToAppend): Promise<AppendResult> {
    try {
      return this.appendOne(message);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private appendOne(message: MessageToAppend): Promise<AppendResult> {
    const problem = this.validate(message);
    if (problem) return Promise.resolve(problem);
    const prepared = this.preparedProperties(message, this.singleProps);
    if ('status' in prepared) return Promise.resolve(prepared);
    const queue = this.queueFor(message.topic, message.queueId);
    // Valid topic names are ASCII: characters are bytes.
    const size = recordSize(message.body.length, message.topic.length, prepared.bytes);
    const busy = this.refuseIfBusy(queue, size);
    if (busy) return Promise.resolve(busy);
    const batch = queue.stage(size, 1);
    const result = this.stageRecord(queue, batch, message, prepared, this.beginStaging(queue));
    this.doneStaging();
    prepared.properties = '';
    return batch.done.then(
      () => result,
      (err: unknown) => {
        if (err instanceof StoreWriteError) return refuse(err.status, err.message);
        throw err;
      },
    );
  }

  /** All messages go to one queue as consecutive records, written (and refused) together. */
  async appendBatch(messages: readonly MessageToAppend[]): Promise<AppendResult[]> {
    if (messages.length === 0) return [];
    const prepared: PreparedProperties[] = [];
    let total = 0;
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i];
      let problem = this.validate(message);
      if (!problem && (message.topic !== messages[0].topic || message.queueId !== messages[0].queueId)) {
        problem = refuse(AppendStatus.QUEUE_INVALID, 'all messages of a batch must go to one queue');
      }
      const props = problem ? undefined : this.preparedProperties(message);
      if (props && 'status' in props) problem = props;
      if (problem) {
        const reason = messages.length > 1 ? `message ${i} of the batch: ${problem.reason}` : problem.reason;
        return messages.map(() => refuse(problem.status, reason));
      }
      prepared.push(props as PreparedProperties);
      total += recordSize(message.body.length, message.topic.length, (props as PreparedProperties).bytes);
    }
    // A batch is stored in one segment; like RocketMQ, its size is bounded as a single message's is.
    if (total > this.maxRecordSize()) {
      return messages.map(() =>
        refuse(AppendStatus.BODY_TOO_LARGE, `batch of ${messages.length} records is ${total} bytes, more than the ${this.maxRecordSize()}-byte record limit`),
      );
    }
    const queue = this.queueFor(messages[0].topic, messages[0].queueId);
    const busy = this.refuseIfBusy(queue, total);
    if (busy) return messages.map(() => busy);
    const batch = queue.stage(total, messages.length);
    const storeTimestamp = this.beginStaging(queue);
    const results: AppendResult[] = new Array(messages.length);
    for (let i = 0; i < messages.length; i++) results[i] = this.stageRecord(queue, batch, messages[i], prepared[i], storeTimestamp);
    this.doneStaging();
    try {
      await batch.done;
      return results;
    } catch (err) {
      if (err instanceof StoreWriteError) return messages.map(() => refuse(err.status, err.message));
      throw err;
    }
  }

  async read(topic: string, queueId: number, offset: number, maxMessages: number, maxBytes: number, filter?: TagFilter): Promise<ReadResult> {
    const queue = this.queueToRead(topic, queueId);
    return queue instanceof QueueLog ? queue.read(offset, maxMessages, maxBytes, filter) : queue;
  }

  /** `read` when it can answer without waiting for the threadpool (see `QueueLog.readNow`), else undefined. */
  readNow(topic: string, queueId: number, offset: number, maxMessages: number, maxBytes: number, filter?: TagFilter): ReadResult | undefined {
    const queue = this.queueToRead(topic, queueId);
    return queue instanceof QueueLog ? queue.readNow(offset, maxMessages, maxBytes, filter) : queue;
  }

  /** The queue a read goes to, or the answer when there is none. */
  private queueToRead(topic: string, queueId: number): QueueLog | ReadResult {
    const empty = (status: GetMessageStatus): ReadResult => ({
      status,
      buffers: [],
      messageCount: 0,
      nextBeginOffset: 0,
      minOffset: 0,
      maxOffset: 0,
    });
    if (validateTopicName(topic) !== undefined || !this.meta.getTopic(topic)) return empty(GetMessageStatus.NO_MATCHED_LOGIC_QUEUE);
    return this.queue(topic, queueId) ?? empty(GetMessageStatus.NO_MESSAGE_IN_QUEUE);
  }

  minOffset(topic: string, queueId: number): number {
    return this.queue(topic, queueId)?.minOffset ?? 0;
  }

  maxOffset(topic: string, queueId: number): number {
    return this.queue(topic, queueId)?.maxOffset ?? 0;
  }

  async searchOffsetByTimestamp(topic: string, queueId: number, timestamp: number): Promise<number> {
    return (await this.queue(topic, queueId)?.searchOffsetByTimestamp(timestamp)) ?? 0;
  }

  async storeTimestampAt(topic: string, queueId: number, offset: number): Promise<number | undefined> {
    return (await this.queue(topic, queueId)?.entryAt(offset))?.storeTimestamp;
  }

  async lookup(physicalOffset: number): Promise<RecordLocation | undefined> {
    if (!Number.isSafeInteger(physicalOffset) || physicalOffset < 0) return undefined;
    const i = this.physSegmentIndex(physicalOffset);
    if (i < 0) return undefined;
    const segment = this.physIndex[i];
    const position = physicalOffset - segment.physBase;
    if (position >= segment.physReserve) return undefined;
    const queue = segment.owner as QueueLog;
    const bytes = await queue.readRecordAt(segment, position);
    if (!bytes || !checkRecord(bytes, 0, bytes.length, this.queueContext.limits.maxRecordSize).ok) return undefined;
    if (!verifyRecordCrc(bytes, 0, bytes.length)) return undefined;
    const record = decodeRecord(bytes, 0);
    if (record.physicalOffset !== physicalOffset) return undefined;
    return { topic: queue.topic, queueId: queue.queueId, queueOffset: record.queueOffset, bytes };
  }

  async queryByKey(topic: string, key: string, maxNum: number, beginTimestamp = 0, endTimestamp = Number.MAX_SAFE_INTEGER): Promise<RecordLocation[]> {
    if (!(maxNum > 0) || key === '') return [];
    const found: { location: RecordLocation; storeTimestamp: number; physicalOffset: number }[] = [];
    const seen = new Set<number>();
    const keysOf = this.keyReindex?.keysOf;
    await this.keyIndex.lookup(topic, key, beginTimestamp, endTimestamp, async ({ physicalOffset, storeTimestamp }) => {
      // Re-indexing after a crash may have added an entry twice.
      if (seen.has(physicalOffset)) return true;
      seen.add(physicalOffset);
      const location = await this.lookup(physicalOffset);
      // The index holds 32-bit hashes: collisions are told apart by the record itself.
      if (location && location.topic === topic && (!keysOf || keysOf(decodeRecord(location.bytes, 0).propertyMap).includes(key))) {
        found.push({ location, storeTimestamp, physicalOffset });
      }
      return found.length < maxNum;
    });
    found.sort((a, b) => b.storeTimestamp - a.storeTimestamp || b.physicalOffset - a.physicalOffset);
    return found.map((f) => f.location);
  }

  onAppend(listener: AppendListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async deleteTopic(topic: string): Promise<void> {
    if (validateTopicName(topic) !== undefined) return;
    // Refuse new appends first, then let in-flight ones finish before removing the files.
    this.meta.deleteTopic(topic);
    this.meta.deleteOffsets({ topic });
    const queues = this.queues.get(topic);
    this.queues.delete(topic);
    this.queueContext.durableDirs.delete(join(this.dataDir, 'queues', topic));
    for (const queue of queues?.values() ?? []) {
      await queue.drain();
      queue.dropTailCache();
      for (const segment of queue.segments) {
        segment.deleted = true;
        this.forgetSegment(segment);
        await this.handles.close(segment);
      }
    }
    // Its frames must not outlive its files: a topic made again under the name would get them.
    if (this.flush.journal) await this.flush.flushNow();
    await this.io.removeDir(join(this.dataDir, 'queues', topic));
    await this.io.fsyncDir(join(this.dataDir, 'queues'));
  }

  setStoreHost(host: { ip: string; port: number }): void {
    // Records carry IPv4 hosts only (the codec writes 127.0.0.1 for anything else); msgIds must match.
    const ip = ipv4Bytes(host.ip) ? host.ip : '127.0.0.1';
    this.msgIdPrefix = createOffsetMsgId(ip, host.port, 0).slice(0, 16);
    this.storeHost = { ip, port: host.port };
  }

  stats(): { diskUsedRatio: number; appendsRefused: boolean; queueCount: number; totalBytes: number } {
    const queues = this.allQueues();
    return {
      diskUsedRatio: this.diskUsedRatio,
      appendsRefused: this.diskFull,
      queueCount: queues.length,
      totalBytes: queues.reduce((sum, q) => sum + q.totalBytes, 0),
    };
  }

  /** Open segment file pairs (bounded by maxOpenSegments). */
  openSegmentCount(): number {
    return this.handles.openCount;
  }

  /** Runs one retention/disk-usage pass now (admin tools and tests). */
  runCleanup(): Promise<number> {
    return this.cleanup.runOnce();
  }

  /** Runs a flush round now: syncs what is written (ASYNC_FLUSH, or SYNC_FLUSH with the journal). */
  flushNow(): Promise<void> {
    return this.flush.flushNow();
  }

  /** Writes a checkpoint now, of what the flush rounds so far synced (tests and the crash kit). */
  runCheckpoint(): Promise<void> {
    return this.checkpoints.runOnce(true);
  }

  async close(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'closing';
    try {
      const ownsDir = await this.lock.isHeld().catch(() => false);
      await Promise.all(this.allQueues().map((q) => q.drain()));
      await this.cleanup.shutdown();
      await this.keyFlush.shutdown();
      await this.flush.shutdown();
      await this.checkpoints.shutdown();
      // A store abandoned and taken over (tests simulating a crash) must not vouch for the new owner's files.
      if (!ownsDir) throw new Error(`the lock of ${this.dataDir} is not ours any more; no checkpoint or clean-shutdown marker written`);
      // Every log is synced: the journal holds nothing needed.
      await this.flush.journal?.close();
      // The clean open takes the end of each log file as the end of its records.
      await Promise.all(this.allQueues().map((q) => q.trimZeroFill()));
      // Also makes the key index durable: a clean open scans nothing to re-index.
      await this.checkpoints.runOnce(true);
      await this.handles.closeAll();
      await this.keyIndex.close();
      const marker = await this.io.open(join(this.dataDir, CLEAN_SHUTDOWN_FILE), 'create');
      await this.io.datasync(marker);
      await this.io.close(marker);
      await this.io.fsyncDir(this.dataDir);
    } catch (err) {
      this.logger.error({ err }, 'message store did not close cleanly; the next open recovers');
    } finally {
      await this.handles.closeAll().catch(() => undefined);
      await this.keyIndex.close().catch(() => undefined);
      this.meta.close();
      await this.lock.release().catch((err) => this.logger.error({ err }, 'could not remove the data directory lock; the next open takes it over'));
      this.state = 'closed';
    }
  }
}
