/**
 * Broker metadata on SQLite (better-sqlite3, WAL journal).
 *
 * Schema (version 2, `PRAGMA user_version`):
 *
 *   topics               name PK | read_queue_nums | write_queue_nums | perm | topic_sys_flag | ordered
 *   subscription_groups  group_name PK | consume_enable | consume_broadcast_enable | retry_queue_nums
 *                        | retry_max_times | broker_id | which_broker_when_consume_slowly
 *                        | consume_message_orderly
 *   consumer_offsets     consumer_group, topic, queue_id (PK) | committed_offset | updated_at (ms)
 *                        + index (topic) for per-topic listing and deletion
 *   delay_progress       level PK | next_offset
 *   kv                   key PK | value
 *
 * Version 1 also had a key_index table; version 2 drops it (the key index lives in hash files,
 * see ./key-index.ts).
 *
 * Every write is one transaction: a crash leaves the state before or after it, never between.
 * Durability: synchronous=FULL syncs the WAL on every commit (survives power loss, used with
 * SYNC_FLUSH); NORMAL survives a process crash but may lose the last commits on power loss.
 * Integers are stored as SQLite INTEGER and read back as JS numbers, so every offset and
 * timestamp is checked to be a safe integer on the way in.
 */
import { open as openFile } from 'node:fs/promises';
import Database from 'better-sqlite3';

import { crashPoint } from './crash-point.js';
import type {
  ConsumerOffsetEntry,
  MetaStoreApi,
  SubscriptionGroupConfig,
  TopicConfig,
} from './types.js';

export interface MetaStoreOptions {
  /** FULL when the message store runs SYNC_FLUSH, NORMAL for ASYNC_FLUSH. */
  synchronous: 'FULL' | 'NORMAL';
  /** Open an existing, migrated file for reading only (tools); writes throw. */
  readonly?: boolean;
  /** How long a statement waits for another connection's lock before failing. Default 5000. */
  busyTimeoutMs?: number;
  /** Source of `updated_at` for offsets. Default `Date.now`. */
  now?: () => number;
  /** Syncs a file off the event loop (`putOffsetsDurably`); default: open, fdatasync, close through the threadpool. */
  syncFile?: (path: string) => Promise<void>;
}

async function fdatasyncFile(path: string): Promise<void> {
  const handle = await openFile(path, 'r');
  try {
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

export const META_STORE_DEFAULTS = {
  busyTimeoutMs: 5000,
} as const;

/** Thrown by every call on a closed store. */
export class MetaStoreClosedError extends Error {
  constructor(path: string) {
    super(`metadata store ${path} is closed`);
    this.name = 'MetaStoreClosedError';
  }
}

/** Ordered migrations: entry i brings `user_version` from i to i + 1. Never edit a shipped entry. */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE topics (
    name             TEXT PRIMARY KEY,
    read_queue_nums  INTEGER NOT NULL,
    write_queue_nums INTEGER NOT NULL,
    perm             INTEGER NOT NULL,
    topic_sys_flag   INTEGER NOT NULL,
    ordered          INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE subscription_groups (
    group_name                       TEXT PRIMARY KEY,
    consume_enable                   INTEGER NOT NULL,
    consume_broadcast_enable         INTEGER NOT NULL,
    retry_queue_nums                 INTEGER NOT NULL,
    retry_max_times                  INTEGER NOT NULL,
    broker_id                        INTEGER NOT NULL,
    which_broker_when_consume_slowly INTEGER NOT NULL,
    consume_message_orderly          INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE consumer_offsets (
    consumer_group   TEXT    NOT NULL,
    topic            TEXT    NOT NULL,
    queue_id         INTEGER NOT NULL,
    committed_offset INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    PRIMARY KEY (consumer_group, topic, queue_id)
  ) WITHOUT ROWID;
  CREATE INDEX consumer_offsets_by_topic ON consumer_offsets (topic);
  CREATE TABLE delay_progress (
    level       INTEGER PRIMARY KEY,
    next_offset INTEGER NOT NULL
  );
  CREATE TABLE key_index (
    topic           TEXT    NOT NULL,
    msg_key         TEXT    NOT NULL,
    store_timestamp INTEGER NOT NULL,
    physical_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, msg_key, store_timestamp, physical_offset)
  ) WITHOUT ROWID;
  CREATE INDEX key_index_by_store_timestamp ON key_index (store_timestamp);
  CREATE TABLE kv (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
  `
  DROP TABLE key_index;
  `,
];

export const META_SCHEMA_VERSION = MIGRATIONS.length;

/** RocketMQ queue ids are Java ints. */
const MAX_QUEUE_ID = 2 ** 31 - 1;

interface TopicRow {
  topicName: string;
  readQueueNums: number;
  writeQueueNums: number;
  perm: number;
  topicSysFlag: number;
  ordered: number;
}

interface GroupRow {
  groupName: string;
  consumeEnable: number;
  consumeBroadcastEnable: number;
  retryQueueNums: number;
  retryMaxTimes: number;
  brokerId: number;
  whichBrokerWhenConsumeSlowly: number;
  consumeMessageOrderly: number;
}

const TOPIC_COLUMNS = `name AS topicName, read_queue_nums AS readQueueNums, write_queue_nums AS writeQueueNums,
  perm, topic_sys_flag AS topicSysFlag, ordered`;
const GROUP_COLUMNS = `group_name AS groupName, consume_enable AS consumeEnable,
  consume_broadcast_enable AS consumeBroadcastEnable, retry_queue_nums AS retryQueueNums,
  retry_max_times AS retryMaxTimes, broker_id AS brokerId,
  which_broker_when_consume_slowly AS whichBrokerWhenConsumeSlowly,
  consume_message_orderly AS consumeMessageOrderly`;
const OFFSET_COLUMNS = `consumer_group AS "group", topic, queue_id AS queueId, committed_offset AS "offset"`;

export class MetaStore implements MetaStoreApi {
  private closed = false;
  private readonly stmts: ReturnType<typeof prepareStatements>;
  private readonly runPutOffsets: (entries: readonly ConsumerOffsetEntry[], updatedAt: number) => void;
  /** Set when commits sync the WAL (synchronous=FULL on a file): `putOffsetsDurably` commits without it and syncs through the threadpool. */
  private readonly deferredSync: { walPath: string } | undefined;

  private constructor(
    private readonly db: Database.Database,
    readonly path: string,
    readonly readOnly: boolean,
    private readonly now: () => number,
    private readonly syncFile: (path: string) => Promise<void>,
  ) {
    this.stmts = prepareStatements(db);
    const full = !readOnly && path !== ':memory:' && (db.pragma('synchronous', { simple: true }) as number) >= 2;
    this.deferredSync = full ? { walPath: `${path}-wal` } : undefined;
    const { upsertOffset } = this.stmts;
    this.runPutOffsets = db.transaction((entries: readonly ConsumerOffsetEntry[], updatedAt: number) => {
      for (const e of entries) upsertOffset.run(e.group, e.topic, e.queueId, e.offset, updatedAt);
      // The crash kit kills the process here: every row written, nothing committed.
      crashPoint('offset-transaction');
    });
  }

  /**
   * Opens (creating and migrating when writable) the metadata database at `path`.
   * Throws when the file is not a FerryMQ metadata database or was written by a newer schema.
   */
  static open(path: string, opts: MetaStoreOptions): MetaStore {
    const readonly = opts.readonly ?? false;
    const busyTimeoutMs = opts.busyTimeoutMs ?? META_STORE_DEFAULTS.busyTimeoutMs;
    if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
      throw new RangeError(`busyTimeoutMs must be a non-negative integer, got ${busyTimeoutMs}`);
    }
    if (opts.synchronous !== 'FULL' && opts.synchronous !== 'NORMAL') {
      throw new RangeError(`synchronous must be 'FULL' or 'NORMAL', got ${String(opts.synchronous)}`);
    }
    let db: Database.Database | undefined;
    try {
      db = new Database(path, { readonly, fileMustExist: readonly, timeout: busyTimeoutMs });
      // Check whose file this is before changing anything in it (the journal mode is persistent).
      const version = schemaVersionToMigrateFrom(db, readonly);
      if (!readonly) {
        const mode = db.pragma('journal_mode = WAL', { simple: true });
        // ':memory:' (unit tests) has no file to journal and stays in 'memory' mode.
        if (mode !== 'wal' && !(path === ':memory:' && mode === 'memory')) {
          throw new Error(`could not switch to WAL journal mode (got ${String(mode)})`);
        }
      }
      db.pragma(`synchronous = ${opts.synchronous}`);
      if (version !== undefined) migrate(db, version);
      return new MetaStore(db, path, readonly, opts.now ?? Date.now, opts.syncFile ?? fdatasyncFile);
    } catch (err) {
      db?.close();
      const reason = err instanceof Error ? err.message : String(err);
      throw new Error(`cannot open metadata store ${path}: ${reason}`, { cause: err });
    }
  }

  // ---- topics

  getTopic(name: string): TopicConfig | undefined {
    this.assertOpen();
    const row = this.stmts.getTopic.get(name);
    return row && toTopic(row);
  }

  listTopics(): TopicConfig[] {
    this.assertOpen();
    return this.stmts.listTopics.all().map(toTopic);
  }

  putTopic(config: TopicConfig): void {
    this.assertWritable();
    requireName('topicName', config.topicName);
    requireQueueId('readQueueNums', config.readQueueNums);
    requireQueueId('writeQueueNums', config.writeQueueNums);
    requireInt32('perm', config.perm);
    requireInt32('topicSysFlag', config.topicSysFlag);
    this.stmts.upsertTopic.run(
      config.topicName,
      config.readQueueNums,
      config.writeQueueNums,
      config.perm,
      config.topicSysFlag,
      config.order ? 1 : 0,
    );
  }

  deleteTopic(name: string): void {
    this.assertWritable();
    this.stmts.deleteTopic.run(name);
  }

  // ---- subscription groups

  getGroup(name: string): SubscriptionGroupConfig | undefined {
    this.assertOpen();
    const row = this.stmts.getGroup.get(name);
    return row && toGroup(row);
  }

  listGroups(): SubscriptionGroupConfig[] {
    this.assertOpen();
    return this.stmts.listGroups.all().map(toGroup);
  }

  putGroup(config: SubscriptionGroupConfig): void {
    this.assertWritable();
    requireName('groupName', config.groupName);
    requireQueueId('retryQueueNums', config.retryQueueNums);
    requireInt32('retryMaxTimes', config.retryMaxTimes);
    requireInt32('brokerId', config.brokerId);
    requireInt32('whichBrokerWhenConsumeSlowly', config.whichBrokerWhenConsumeSlowly);
    this.stmts.upsertGroup.run(
      config.groupName,
      config.consumeEnable ? 1 : 0,
      config.consumeBroadcastEnable ? 1 : 0,
      config.retryQueueNums,
      config.retryMaxTimes,
      config.brokerId,
      config.whichBrokerWhenConsumeSlowly,
      config.consumeMessageOrderly ? 1 : 0,
    );
  }

  deleteGroup(name: string): void {
    this.assertWritable();
    this.stmts.deleteGroup.run(name);
  }

  // ---- consumer offsets

  getOffset(group: string, topic: string, queueId: number): number | undefined {
    this.assertOpen();
    return this.stmts.getOffset.get(group, topic, queueId)?.offset;
  }

  listOffsets(filter: { group?: string; topic?: string } = {}): ConsumerOffsetEntry[] {
    this.assertOpen();
    const { group, topic } = filter;
    if (group !== undefined && topic !== undefined) return this.stmts.listOffsetsOfGroupTopic.all(group, topic);
    if (group !== undefined) return this.stmts.listOffsetsOfGroup.all(group);
    if (topic !== undefined) return this.stmts.listOffsetsOfTopic.all(topic);
    return this.stmts.listAllOffsets.all();
  }

  putOffsets(entries: readonly ConsumerOffsetEntry[]): void {
    this.assertWritable();
    // Copy while validating: the transaction writes exactly what was checked.
    const checked = entries.map((e, i) => {
      checkOffsetEntry(e, `entries[${i}]`);
      return { group: e.group, topic: e.topic, queueId: e.queueId, offset: e.offset };
    });
    if (checked.length === 0) return;
    this.runPutOffsets(checked, this.now());
  }

  /**
   * With synchronous=FULL a commit runs fsync on the WAL on this (the event loop's) thread: 0.5-10
   * ms on the bench box, once per consumer commit, with every request waiting meanwhile. Here the
   * transaction commits with synchronous=NORMAL (the same WAL frames, not yet synced) and the WAL
   * is then synced through the threadpool; the promise resolves after that, so a caller that
   * waits for it has the durability of a FULL commit. A later FULL commit, or a checkpoint, syncs
   * these frames too.
   */
  putOffsetsDurably(entries: readonly ConsumerOffsetEntry[]): Promise<void> {
    const sync = this.deferredSync;
    if (!sync) {
      try {
        this.putOffsets(entries);
        return Promise.resolve();
      } catch (err) {
        return Promise.reject(err as Error);
      }
    }
    try {
      this.assertWritable();
      // Not a reused prepared statement: SQLite applies `synchronous` when the pragma is compiled.
      this.db.exec('PRAGMA synchronous = NORMAL');
      try {
        this.putOffsets(entries);
      } finally {
        this.db.exec('PRAGMA synchronous = FULL');
      }
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return this.syncFile(sync.walPath);
  }

  deleteOffsets(filter: { group?: string; topic?: string }): void {
    this.assertWritable();
    const { group, topic } = filter;
    if (group !== undefined && topic !== undefined) this.stmts.deleteOffsetsOfGroupTopic.run(group, topic);
    else if (group !== undefined) this.stmts.deleteOffsetsOfGroup.run(group);
    else if (topic !== undefined) this.stmts.deleteOffsetsOfTopic.run(topic);
    // An empty filter would wipe every offset: refuse it rather than guess.
    else throw new TypeError('deleteOffsets needs a group or a topic');
  }

  // ---- delay progress

  getDelayProgress(level: number): number | undefined {
    this.assertOpen();
    return this.stmts.getDelayProgress.get(level)?.nextOffset;
  }

  putDelayProgress(level: number, offset: number): void {
    this.assertWritable();
    requireInt32('level', level);
    requireOffset('offset', offset);
    this.stmts.upsertDelayProgress.run(level, offset);
  }

  // ---- small named values

  getValue(key: string): string | undefined {
    this.assertOpen();
    return this.stmts.getValue.get(key)?.value;
  }

  setValue(key: string, value: string): void {
    this.assertWritable();
    requireName('key', key);
    if (typeof value !== 'string') throw new TypeError(`value must be a string, got ${typeof value}`);
    this.stmts.upsertValue.run(key, value);
  }

  /**
   * Runs `fn` in one transaction, so several writes (e.g. a topic's config and its offsets)
   * commit or vanish together. Calls nest (inner ones become savepoints).
   */
  transaction<T>(fn: () => T): T {
    this.assertWritable();
    return this.db.transaction(fn)();
  }

  /** The connection's effective settings, for status output and tests. */
  settings(): { journalMode: string; synchronous: 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA'; busyTimeoutMs: number; schemaVersion: number } {
    this.assertOpen();
    const level = this.db.pragma('synchronous', { simple: true }) as number;
    return {
      journalMode: this.db.pragma('journal_mode', { simple: true }) as string,
      synchronous: (['OFF', 'NORMAL', 'FULL', 'EXTRA'] as const)[level]!,
      busyTimeoutMs: this.db.pragma('busy_timeout', { simple: true }) as number,
      schemaVersion: this.db.pragma('user_version', { simple: true }) as number,
    };
  }

  /** Idempotent. Checkpoints the WAL into the main file when this is the last connection. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new MetaStoreClosedError(this.path);
  }

  private assertWritable(): void {
    this.assertOpen();
    if (this.readOnly) throw new Error(`metadata store ${this.path} is open read-only`);
  }
}

/** The version to migrate from, or undefined when the schema is current. Throws for foreign or newer files. */
function schemaVersionToMigrateFrom(db: Database.Database, readonly: boolean): number | undefined {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > META_SCHEMA_VERSION) {
    throw new Error(`schema version ${version} is newer than this FerryMQ supports (${META_SCHEMA_VERSION})`);
  }
  if (version === META_SCHEMA_VERSION) return undefined;
  if (readonly) {
    throw new Error(`schema version ${version} needs migration to ${META_SCHEMA_VERSION}; open it writable once first`);
  }
  // A non-empty file with user_version 0 is someone else's database: do not write into it.
  const tables = db.prepare(`SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table'`).get() as { n: number };
  if (version === 0 && tables.n > 0) {
    throw new Error('not a FerryMQ metadata database (tables present but no schema version)');
  }
  return version;
}

function migrate(db: Database.Database, fromVersion: number): void {
  db.transaction(() => {
    for (let v = fromVersion; v < META_SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v]!);
    db.pragma(`user_version = ${META_SCHEMA_VERSION}`);
  }).immediate();
}

function prepareStatements(db: Database.Database) {
  return {
    getTopic: db.prepare<[string], TopicRow>(`SELECT ${TOPIC_COLUMNS} FROM topics WHERE name = ?`),
    listTopics: db.prepare<[], TopicRow>(`SELECT ${TOPIC_COLUMNS} FROM topics ORDER BY name`),
    upsertTopic: db.prepare<[string, number, number, number, number, number]>(
      `INSERT INTO topics (name, read_queue_nums, write_queue_nums, perm, topic_sys_flag, ordered)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET read_queue_nums = excluded.read_queue_nums,
         write_queue_nums = excluded.write_queue_nums, perm = excluded.perm,
         topic_sys_flag = excluded.topic_sys_flag, ordered = excluded.ordered`,
    ),
    deleteTopic: db.prepare<[string]>(`DELETE FROM topics WHERE name = ?`),

    getGroup: db.prepare<[string], GroupRow>(`SELECT ${GROUP_COLUMNS} FROM subscription_groups WHERE group_name = ?`),
    listGroups: db.prepare<[], GroupRow>(`SELECT ${GROUP_COLUMNS} FROM subscription_groups ORDER BY group_name`),
    upsertGroup: db.prepare<[string, number, number, number, number, number, number, number]>(
      `INSERT INTO subscription_groups (group_name, consume_enable, consume_broadcast_enable, retry_queue_nums,
         retry_max_times, broker_id, which_broker_when_consume_slowly, consume_message_orderly)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (group_name) DO UPDATE SET consume_enable = excluded.consume_enable,
         consume_broadcast_enable = excluded.consume_broadcast_enable, retry_queue_nums = excluded.retry_queue_nums,
         retry_max_times = excluded.retry_max_times, broker_id = excluded.broker_id,
         which_broker_when_consume_slowly = excluded.which_broker_when_consume_slowly,
         consume_message_orderly = excluded.consume_message_orderly`,
    ),
    deleteGroup: db.prepare<[string]>(`DELETE FROM subscription_groups WHERE group_name = ?`),

    getOffset: db.prepare<[string, string, number], { offset: number }>(
      `SELECT committed_offset AS "offset" FROM consumer_offsets WHERE consumer_group = ? AND topic = ? AND queue_id = ?`,
    ),
    listAllOffsets: db.prepare<[], ConsumerOffsetEntry>(
      `SELECT ${OFFSET_COLUMNS} FROM consumer_offsets ORDER BY consumer_group, topic, queue_id`,
    ),
    listOffsetsOfGroup: db.prepare<[string], ConsumerOffsetEntry>(
      `SELECT ${OFFSET_COLUMNS} FROM consumer_offsets WHERE consumer_group = ? ORDER BY topic, queue_id`,
    ),
    listOffsetsOfTopic: db.prepare<[string], ConsumerOffsetEntry>(
      `SELECT ${OFFSET_COLUMNS} FROM consumer_offsets WHERE topic = ? ORDER BY consumer_group, queue_id`,
    ),
    listOffsetsOfGroupTopic: db.prepare<[string, string], ConsumerOffsetEntry>(
      `SELECT ${OFFSET_COLUMNS} FROM consumer_offsets WHERE consumer_group = ? AND topic = ? ORDER BY queue_id`,
    ),
    upsertOffset: db.prepare<[string, string, number, number, number]>(
      `INSERT INTO consumer_offsets (consumer_group, topic, queue_id, committed_offset, updated_at)
       VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (consumer_group, topic, queue_id) DO UPDATE SET
         committed_offset = excluded.committed_offset, updated_at = excluded.updated_at`,
    ),
    deleteOffsetsOfGroup: db.prepare<[string]>(`DELETE FROM consumer_offsets WHERE consumer_group = ?`),
    deleteOffsetsOfTopic: db.prepare<[string]>(`DELETE FROM consumer_offsets WHERE topic = ?`),
    deleteOffsetsOfGroupTopic: db.prepare<[string, string]>(
      `DELETE FROM consumer_offsets WHERE consumer_group = ? AND topic = ?`,
    ),

    getDelayProgress: db.prepare<[number], { nextOffset: number }>(
      `SELECT next_offset AS nextOffset FROM delay_progress WHERE level = ?`,
    ),
    upsertDelayProgress: db.prepare<[number, number]>(
      `INSERT INTO delay_progress (level, next_offset) VALUES (?, ?)
       ON CONFLICT (level) DO UPDATE SET next_offset = excluded.next_offset`,
    ),

    getValue: db.prepare<[string], { value: string }>(`SELECT value FROM kv WHERE key = ?`),
    upsertValue: db.prepare<[string, string]>(
      `INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    ),
  };
}

function toTopic(row: TopicRow): TopicConfig {
  return {
    topicName: row.topicName,
    readQueueNums: row.readQueueNums,
    writeQueueNums: row.writeQueueNums,
    perm: row.perm,
    topicSysFlag: row.topicSysFlag,
    order: row.ordered !== 0,
  };
}

function toGroup(row: GroupRow): SubscriptionGroupConfig {
  return {
    groupName: row.groupName,
    consumeEnable: row.consumeEnable !== 0,
    consumeBroadcastEnable: row.consumeBroadcastEnable !== 0,
    retryQueueNums: row.retryQueueNums,
    retryMaxTimes: row.retryMaxTimes,
    brokerId: row.brokerId,
    whichBrokerWhenConsumeSlowly: row.whichBrokerWhenConsumeSlowly,
    consumeMessageOrderly: row.consumeMessageOrderly !== 0,
  };
}

/** Throws a TypeError/RangeError naming `where` unless the entry can be stored as is. */
export function checkOffsetEntry(entry: ConsumerOffsetEntry, where = 'entry'): void {
  requireName(`${where}.group`, entry.group);
  requireName(`${where}.topic`, entry.topic);
  requireQueueId(`${where}.queueId`, entry.queueId);
  requireOffset(`${where}.offset`, entry.offset);
}

function requireName(what: string, value: unknown): void {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`${what} must be a non-empty string, got ${JSON.stringify(value)}`);
  }
}

function requireIntIn(what: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${what} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
}

/** Offsets, timestamps and counts: non-negative and exact as a JS number. */
function requireOffset(what: string, value: unknown): void {
  requireIntIn(what, value, 0, Number.MAX_SAFE_INTEGER);
}

/** Queue ids and queue counts. */
function requireQueueId(what: string, value: unknown): void {
  requireIntIn(what, value, 0, MAX_QUEUE_ID);
}

function requireInt32(what: string, value: unknown): void {
  requireIntIn(what, value, -(2 ** 31), 2 ** 31 - 1);
}
