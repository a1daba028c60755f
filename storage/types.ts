/**
 * The public shapes of the storage layer. `MessageStore` is the only door into storage; the broker
 * and tools use nothing else. Statuses are plain string enums: `broker/` maps them to response codes
 * in exactly one place.
 */

export const AppendStatus = {
  PUT_OK: 'PUT_OK',
  /** Topic name failed validation (checked before any filesystem call). */
  TOPIC_INVALID: 'TOPIC_INVALID',
  /** queueId < 0 or >= the topic's queue count. */
  QUEUE_INVALID: 'QUEUE_INVALID',
  BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  PROPERTIES_TOO_LARGE: 'PROPERTIES_TOO_LARGE',
  /** Disk usage above the watermark, or ENOSPC: nothing was written. */
  DISK_FULL: 'DISK_FULL',
  /** Store closing or closed. */
  SERVICE_NOT_AVAILABLE: 'SERVICE_NOT_AVAILABLE',
  /** An I/O error other than ENOSPC; nothing acknowledged was lost. */
  IO_ERROR: 'IO_ERROR',
  /** The queue already holds `maxPendingBytesPerQueue` not yet written (the disk is behind); try again later. */
  STORE_BUSY: 'STORE_BUSY',
} as const;
export type AppendStatus = (typeof AppendStatus)[keyof typeof AppendStatus];

export const GetMessageStatus = {
  FOUND: 'FOUND',
  /** Entries were scanned but none matched the tag filter; nextBeginOffset moved past them. */
  NO_MATCHED_MESSAGE: 'NO_MATCHED_MESSAGE',
  /** offset < minOffset. */
  OFFSET_TOO_SMALL: 'OFFSET_TOO_SMALL',
  /** offset == maxOffset: nothing new yet (the only case a pull is held for). */
  OFFSET_OVERFLOW_ONE: 'OFFSET_OVERFLOW_ONE',
  /** offset > maxOffset. */
  OFFSET_OVERFLOW_BADLY: 'OFFSET_OVERFLOW_BADLY',
  /** The queue has no messages at all (maxOffset == 0) or does not exist yet. */
  NO_MESSAGE_IN_QUEUE: 'NO_MESSAGE_IN_QUEUE',
  /** Topic unknown. */
  NO_MATCHED_LOGIC_QUEUE: 'NO_MATCHED_LOGIC_QUEUE',
} as const;
export type GetMessageStatus = (typeof GetMessageStatus)[keyof typeof GetMessageStatus];

/** What a producer-side caller hands to the store; the store fills in offsets, store time and host. */
export interface MessageToAppend {
  topic: string;
  queueId: number;
  body: Buffer;
  flag: number;
  /** RocketMQ properties string (`k\x01v\x02...`), exactly as it will be stored. */
  properties: string;
  sysFlag: number;
  bornTimestamp: number;
  bornHost: { ip: string; port: number };
  reconsumeTimes: number;
  /**
   * Value stored in the consume index for filtering: Java `String.hashCode` of TAGS for normal
   * topics (0 when untagged), the delivery timestamp for delay-queue records.
   */
  tagsCode: number;
  /** Keys to index for QUERY_MESSAGE (space-split KEYS plus UNIQ_KEY); may be empty. */
  keys: string[];
}

export type AppendResult =
  | {
      status: typeof AppendStatus.PUT_OK;
      queueId: number;
      queueOffset: number;
      physicalOffset: number;
      storeTimestamp: number;
      /** Offset message id: hex(storeHost ip, port, physicalOffset). */
      msgId: string;
    }
  | { status: Exclude<AppendStatus, 'PUT_OK'>; reason: string };

/** Tag filter evaluated on consume-index entries only (no body reads). */
export interface TagFilter {
  /** Accepted tagsCodes; an entry with another code is skipped. */
  tagsCodes: ReadonlySet<number>;
}

export interface ReadResult {
  status: GetMessageStatus;
  /** Contiguous byte ranges of whole stored records, in queue order, ready to write to a socket. */
  buffers: Buffer[];
  messageCount: number;
  nextBeginOffset: number;
  minOffset: number;
  maxOffset: number;
}

/** A record found by physical offset (view by id, consumer send-back). */
export interface RecordLocation {
  topic: string;
  queueId: number;
  queueOffset: number;
  /** The whole stored record. */
  bytes: Buffer;
}

export type AppendListener = (topic: string, queueId: number, maxOffset: number, tagsCode: number) => void;

export interface TopicConfig {
  topicName: string;
  readQueueNums: number;
  writeQueueNums: number;
  /** RocketMQ perm bits: 4 read, 2 write, 1 inherit. */
  perm: number;
  topicSysFlag: number;
  order: boolean;
}

export interface SubscriptionGroupConfig {
  groupName: string;
  consumeEnable: boolean;
  consumeBroadcastEnable: boolean;
  retryQueueNums: number;
  retryMaxTimes: number;
  brokerId: number;
  whichBrokerWhenConsumeSlowly: number;
  consumeMessageOrderly: boolean;
}

export interface ConsumerOffsetEntry {
  group: string;
  topic: string;
  queueId: number;
  offset: number;
}

/** A key to index: the record at `physicalOffset` of `topic` has `key` among its KEYS or UNIQ_KEY. */
export interface KeyIndexEntry {
  topic: string;
  key: string;
  physicalOffset: number;
  storeTimestamp: number;
}

/**
 * Metadata on SQLite (better-sqlite3, WAL). Every call is synchronous (better-sqlite3 is), cheap,
 * and durable when it returns (synchronous=FULL in SYNC_FLUSH mode, NORMAL in ASYNC_FLUSH).
 */
export interface MetaStoreApi {
  // topics
  getTopic(name: string): TopicConfig | undefined;
  listTopics(): TopicConfig[];
  putTopic(config: TopicConfig): void;
  deleteTopic(name: string): void;
  // subscription groups
  getGroup(name: string): SubscriptionGroupConfig | undefined;
  listGroups(): SubscriptionGroupConfig[];
  putGroup(config: SubscriptionGroupConfig): void;
  deleteGroup(name: string): void;
  // consumer offsets, keyed by (group, topic, queueId)
  getOffset(group: string, topic: string, queueId: number): number | undefined;
  /** All offsets, optionally of one group or one topic. */
  listOffsets(filter?: { group?: string; topic?: string }): ConsumerOffsetEntry[];
  /** Writes many offsets in one transaction. */
  putOffsets(entries: readonly ConsumerOffsetEntry[]): void;
  /**
   * `putOffsets` whose wait for the disk is not on the calling thread: the rows are committed at
   * once (visible to reads), and the promise resolves when they are as durable as `putOffsets`
   * makes them (with synchronous=FULL, once the WAL is synced by the threadpool).
   */
  putOffsetsDurably(entries: readonly ConsumerOffsetEntry[]): Promise<void>;
  deleteOffsets(filter: { group?: string; topic?: string }): void;
  // delay-queue progress: per level, the next queue offset of the delay queue to deliver
  getDelayProgress(level: number): number | undefined;
  putDelayProgress(level: number, offset: number): void;
  // small named values (e.g. the physical-offset reservation counter)
  getValue(key: string): string | undefined;
  setValue(key: string, value: string): void;
  close(): void;
}

/**
 * The storage engine's only door. Implemented by `MessageStore` in `storage/message-store.ts`.
 * Queues are created lazily on first append to (topic, queueId) of a known topic.
 */
export interface MessageStoreApi {
  readonly meta: MetaStoreApi;
  /** Resolves once the bytes are readable, and (SYNC_FLUSH) synced to disk. */
  append(message: MessageToAppend): Promise<AppendResult>;
  /** All messages go to one queue (code 320 batches); offsets are consecutive. One flush for all. */
  appendBatch(messages: readonly MessageToAppend[]): Promise<AppendResult[]>;
  read(topic: string, queueId: number, offset: number, maxMessages: number, maxBytes: number, filter?: TagFilter): Promise<ReadResult>;
  /**
   * `read` when it needs no wait for the threadpool (the newest data, in memory or in open files),
   * else undefined: then call `read`.
   */
  readNow(topic: string, queueId: number, offset: number, maxMessages: number, maxBytes: number, filter?: TagFilter): ReadResult | undefined;
  minOffset(topic: string, queueId: number): number;
  /** Next offset to be written (= number of entries ever written). */
  maxOffset(topic: string, queueId: number): number;
  /** Offset of the entry whose store time is closest to `timestamp` (RocketMQ semantics); 0 if empty. */
  searchOffsetByTimestamp(topic: string, queueId: number, timestamp: number): Promise<number>;
  /** Store time of the entry at `offset`, or undefined when it is not stored. */
  storeTimestampAt(topic: string, queueId: number, offset: number): Promise<number | undefined>;
  /** Whole record at a physical offset (view by msgId, send-back). */
  lookup(physicalOffset: number): Promise<RecordLocation | undefined>;
  /** Records whose keys contain `key`. */
  queryByKey(topic: string, key: string, maxNum: number, beginTimestamp?: number, endTimestamp?: number): Promise<RecordLocation[]>;
  /** Called once per appended batch per queue, after the data is readable and the append promises resolved. */
  onAppend(listener: AppendListener): () => void;
  /** Removes the topic's queue logs, offsets and config. */
  deleteTopic(topic: string): Promise<void>;
  /** Sets the host written into STOREHOST of new records (the broker's advertised address). */
  setStoreHost(host: { ip: string; port: number }): void;
  /** Disk and queue statistics for status/admin commands. */
  stats(): { diskUsedRatio: number; appendsRefused: boolean; queueCount: number; totalBytes: number };
  /** Flushes, writes a checkpoint and the clean-shutdown marker. */
  close(): Promise<void>;
}
