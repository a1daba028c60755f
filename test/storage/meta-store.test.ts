import { spawnSync } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { META_SCHEMA_VERSION, MetaStore, MetaStoreClosedError } from '../../storage/meta-store.js';
import type { ConsumerOffsetEntry, SubscriptionGroupConfig, TopicConfig } from '../../storage/types.js';
import { tempDir, uniqueName } from '../helpers/common.js';

const repoRoot = resolve(import.meta.dirname, '../..');

let dir: { path: string; cleanup: () => Promise<void> };
let dbPath: string;
const opened: MetaStore[] = [];

function open(opts: Partial<Parameters<typeof MetaStore.open>[1]> = {}): MetaStore {
  const store = MetaStore.open(dbPath, { synchronous: 'NORMAL', ...opts });
  opened.push(store);
  return store;
}

function topic(overrides: Partial<TopicConfig> = {}): TopicConfig {
  return { topicName: uniqueName('topic'), readQueueNums: 4, writeQueueNums: 4, perm: 6, topicSysFlag: 0, order: false, ...overrides };
}

function group(overrides: Partial<SubscriptionGroupConfig> = {}): SubscriptionGroupConfig {
  return {
    groupName: uniqueName('group'),
    consumeEnable: true,
    consumeBroadcastEnable: false,
    retryQueueNums: 1,
    retryMaxTimes: 16,
    brokerId: 0,
    whichBrokerWhenConsumeSlowly: 1,
    consumeMessageOrderly: false,
    ...overrides,
  };
}

/** Runs `body` in a child process that has `meta` (a MetaStore on `path`) in scope. */
async function runChild(path: string, body: string, env: Record<string, string> = {}) {
  const script = join(dir.path, `${uniqueName('child')}.mts`);
  const moduleUrl = pathToFileURL(join(repoRoot, 'storage/meta-store.ts')).href;
  await writeFile(
    script,
    `import { MetaStore } from ${JSON.stringify(moduleUrl)};\n` +
      `const meta = MetaStore.open(${JSON.stringify(path)}, { synchronous: 'FULL' });\n${body}\n`,
  );
  return spawnSync(process.execPath, ['--import', 'tsx', script], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
}

beforeEach(async () => {
  dir = await tempDir('ferrymq-meta-');
  dbPath = join(dir.path, 'meta.db');
});

afterEach(async () => {
  for (const store of opened.splice(0)) store.close();
  await dir.cleanup();
});

describe('MetaStore open and schema', () => {
  it('creates and migrates a new file, with WAL and the requested synchronous level', () => {
    const full = open({ synchronous: 'FULL', busyTimeoutMs: 1234 });
    expect(full.settings()).toEqual({ journalMode: 'wal', synchronous: 'FULL', busyTimeoutMs: 1234, schemaVersion: META_SCHEMA_VERSION });
    full.close();
    const normal = open({ synchronous: 'NORMAL' });
    expect(normal.settings()).toMatchObject({ journalMode: 'wal', synchronous: 'NORMAL', busyTimeoutMs: 5000 });
  });

  it("opens ':memory:' for unit tests", () => {
    const store = MetaStore.open(':memory:', { synchronous: 'FULL' });
    store.setValue('k', 'v');
    expect(store.getValue('k')).toBe('v');
    expect(store.settings()).toMatchObject({ journalMode: 'memory', schemaVersion: META_SCHEMA_VERSION });
    store.close();
  });

  it('migrates an empty (0-byte) file', async () => {
    await writeFile(dbPath, '');
    const store = open();
    expect(store.settings().schemaVersion).toBe(META_SCHEMA_VERSION);
    expect(store.listTopics()).toEqual([]);
  });

  it('reopens an existing file without re-migrating and keeps every table', () => {
    const t = topic({ order: true, perm: 4 });
    const g = group({ consumeBroadcastEnable: true, consumeMessageOrderly: true });
    const first = open();
    first.putTopic(t);
    first.putGroup(g);
    first.putOffsets([{ group: g.groupName, topic: t.topicName, queueId: 3, offset: 42 }]);
    first.putDelayProgress(2, 7);
    first.setValue('physical-offset-reserved', '4096');
    first.close();

    const again = open();
    expect(again.settings().schemaVersion).toBe(META_SCHEMA_VERSION);
    expect(again.getTopic(t.topicName)).toEqual(t);
    expect(again.getGroup(g.groupName)).toEqual(g);
    expect(again.getOffset(g.groupName, t.topicName, 3)).toBe(42);
    expect(again.getDelayProgress(2)).toBe(7);
    expect(again.getValue('physical-offset-reserved')).toBe('4096');
  });

  it('refuses a file written by a newer schema', () => {
    const raw = new Database(dbPath);
    raw.pragma(`user_version = ${META_SCHEMA_VERSION + 1}`);
    raw.close();
    expect(() => open()).toThrow(/schema version \d+ is newer/);
  });

  it('refuses a foreign SQLite database and leaves it untouched', () => {
    const raw = new Database(dbPath);
    raw.exec('CREATE TABLE topics (x TEXT); INSERT INTO topics VALUES (1)');
    raw.close();
    expect(() => open()).toThrow(/not a FerryMQ metadata database/);
    const check = new Database(dbPath);
    expect(check.prepare('SELECT count(*) AS n FROM topics').get()).toEqual({ n: 1 });
    expect(check.pragma('user_version', { simple: true })).toBe(0);
    expect(check.pragma('journal_mode', { simple: true })).toBe('delete');
    check.close();
  });

  it('refuses a file that is not a database and does not modify it', async () => {
    const garbage = Buffer.alloc(8192, 0x5a);
    await writeFile(dbPath, garbage);
    expect(() => open()).toThrow(/cannot open metadata store .*meta\.db/);
    expect(await readFile(dbPath)).toEqual(garbage);
  });

  it('rejects bad options', () => {
    expect(() => open({ busyTimeoutMs: -1 })).toThrow(RangeError);
    expect(() => open({ synchronous: 'OFF' as 'FULL' })).toThrow(/synchronous must be/);
  });

  it('a read-only tool sees what a running writer committed', () => {
    const writer = open({ synchronous: 'FULL' });
    const reader = open({ readonly: true });
    const g = uniqueName('group');
    writer.putOffsets([{ group: g, topic: 't', queueId: 0, offset: 1 }]);
    expect(reader.getOffset(g, 't', 0)).toBe(1);
    writer.transaction(() => {
      writer.putOffsets([{ group: g, topic: 't', queueId: 0, offset: 2 }]);
      expect(reader.getOffset(g, 't', 0)).toBe(1);
    });
    expect(reader.getOffset(g, 't', 0)).toBe(2);
  });

  it('read-only: needs an existing migrated file, reads, refuses writes', () => {
    expect(() => open({ readonly: true })).toThrow(/cannot open metadata store/);
    const writer = open();
    const t = topic();
    writer.putTopic(t);
    writer.close();
    const reader = open({ readonly: true });
    expect(reader.getTopic(t.topicName)).toEqual(t);
    expect(() => reader.putTopic(topic())).toThrow(/read-only/);
    expect(() => reader.setValue('k', 'v')).toThrow(/read-only/);
  });
});

describe('MetaStore topics and groups', () => {
  it('puts, updates, lists in name order and deletes topics', () => {
    const store = open();
    const b = topic({ topicName: `b_${uniqueName()}` });
    const a = topic({ topicName: `a_${uniqueName()}`, order: true, topicSysFlag: 3 });
    store.putTopic(b);
    store.putTopic(a);
    expect(store.listTopics()).toEqual([a, b]);
    const widened = { ...b, readQueueNums: 16, writeQueueNums: 8, perm: 2 };
    store.putTopic(widened);
    expect(store.getTopic(b.topicName)).toEqual(widened);
    store.deleteTopic(a.topicName);
    expect(store.getTopic(a.topicName)).toBeUndefined();
    expect(store.listTopics()).toEqual([widened]);
    store.deleteTopic('never-existed');
  });

  it('puts, updates, lists and deletes subscription groups with every field', () => {
    const store = open();
    const g = group({ retryMaxTimes: 3, brokerId: 1, whichBrokerWhenConsumeSlowly: 2, retryQueueNums: 2 });
    store.putGroup(g);
    expect(store.getGroup(g.groupName)).toEqual(g);
    const disabled = { ...g, consumeEnable: false, consumeBroadcastEnable: true, consumeMessageOrderly: true };
    store.putGroup(disabled);
    expect(store.listGroups()).toEqual([disabled]);
    store.deleteGroup(g.groupName);
    expect(store.getGroup(g.groupName)).toBeUndefined();
  });

  it('rejects invalid configs', () => {
    const store = open();
    expect(() => store.putTopic(topic({ topicName: '' }))).toThrow(TypeError);
    expect(() => store.putTopic(topic({ readQueueNums: -1 }))).toThrow(RangeError);
    expect(() => store.putTopic(topic({ writeQueueNums: 1.5 }))).toThrow(RangeError);
    expect(() => store.putGroup(group({ retryQueueNums: Number.NaN }))).toThrow(RangeError);
    expect(store.listTopics()).toEqual([]);
    expect(store.listGroups()).toEqual([]);
  });
});

describe('MetaStore consumer offsets', () => {
  it('upserts offsets and lists them in (group, topic, queueId) order with filters', () => {
    const store = open();
    const [g1, g2] = ['g1', 'g2'].map((p) => `${p}_${uniqueName()}`) as [string, string];
    const [t1, t2] = ['t1', 't2'].map((p) => `${p}_${uniqueName()}`) as [string, string];
    const entries: ConsumerOffsetEntry[] = [
      { group: g2, topic: t1, queueId: 1, offset: 5 },
      { group: g1, topic: t2, queueId: 0, offset: 6 },
      { group: g1, topic: t1, queueId: 10, offset: 7 },
      { group: g1, topic: t1, queueId: 2, offset: 8 },
      { group: g2, topic: t2, queueId: 0, offset: 9 },
    ];
    store.putOffsets(entries);
    store.putOffsets([{ group: g1, topic: t1, queueId: 2, offset: 80 }]);
    const updated = { group: g1, topic: t1, queueId: 2, offset: 80 };

    expect(store.listOffsets()).toEqual([updated, entries[2], entries[1], entries[0], entries[4]]);
    expect(store.listOffsets({ group: g1 })).toEqual([updated, entries[2], entries[1]]);
    expect(store.listOffsets({ topic: t1 })).toEqual([updated, entries[2], entries[0]]);
    expect(store.listOffsets({ group: g2, topic: t2 })).toEqual([entries[4]]);
    expect(store.getOffset(g1, t1, 2)).toBe(80);
    expect(store.getOffset(g1, t1, 3)).toBeUndefined();
  });

  it('deletes offsets by group, by topic, or both, and refuses an empty filter', () => {
    const store = open();
    const [g1, g2, t1, t2] = ['g1', 'g2', 't1', 't2'].map((p) => `${p}_${uniqueName()}`) as [string, string, string, string];
    const all = [g1, g2].flatMap((g) => [t1, t2].map((t) => ({ group: g, topic: t, queueId: 0, offset: 1 })));
    store.putOffsets(all);
    expect(() => store.deleteOffsets({})).toThrow(/group or a topic/);
    expect(store.listOffsets()).toHaveLength(4);
    store.deleteOffsets({ group: g1, topic: t1 });
    expect(store.listOffsets()).toHaveLength(3);
    store.deleteOffsets({ topic: t2 });
    expect(store.listOffsets()).toEqual([{ group: g2, topic: t1, queueId: 0, offset: 1 }]);
    store.deleteOffsets({ group: g2 });
    expect(store.listOffsets()).toEqual([]);
  });

  it('keeps offsets up to 2^53 - 1 exact, as numbers', () => {
    const store = open();
    const max = Number.MAX_SAFE_INTEGER;
    store.putOffsets([{ group: 'g', topic: 't', queueId: 2 ** 31 - 1, offset: max }]);
    store.close();
    const again = open();
    const value = again.getOffset('g', 't', 2 ** 31 - 1);
    expect(typeof value).toBe('number');
    expect(value).toBe(max);
    expect(again.listOffsets()[0]!.offset).toBe(max);
  });

  it('rejects a bad entry with a clear error and writes none of the batch', () => {
    const store = open();
    const good = { group: 'g', topic: 't', queueId: 0, offset: 1 };
    const bad: Array<[Partial<ConsumerOffsetEntry>, RegExp]> = [
      [{ queueId: -1 }, /entries\[1\]\.queueId must be an integer/],
      [{ queueId: 0.5 }, /queueId/],
      [{ queueId: 2 ** 31 }, /queueId/],
      [{ offset: -1 }, /entries\[1\]\.offset must be an integer in \[0, 9007199254740991\], got -1/],
      [{ offset: 2 ** 53 }, /offset/],
      [{ offset: Number.NaN }, /offset/],
      [{ offset: '5' as unknown as number }, /offset/],
    ];
    for (const [override, message] of bad) {
      expect(() => store.putOffsets([good, { ...good, queueId: 1, ...override }])).toThrow(message);
    }
    expect(() => store.putOffsets([{ ...good, group: '' }])).toThrow(TypeError);
    expect(store.listOffsets()).toEqual([]);
  });
});

describe('MetaStore putOffsetsDurably', () => {
  it('synchronous=FULL: commits without syncing on the calling thread, then resolves once syncFile synced the WAL', async () => {
    let release!: () => void;
    const synced: string[] = [];
    const store = open({
      synchronous: 'FULL',
      syncFile: (path) => {
        synced.push(path);
        return new Promise<void>((resolve) => (release = resolve));
      },
    });
    const levels: string[] = [];
    const put = store.putOffsets.bind(store);
    store.putOffsets = (entries) => {
      levels.push(store.settings().synchronous);
      put(entries);
    };
    let done = false;
    const write = store.putOffsetsDurably([{ group: 'g', topic: 't', queueId: 0, offset: 42 }]).then(() => (done = true));
    // Committed (readable) at once, by a transaction that did not sync; FULL again for every other write.
    expect(store.getOffset('g', 't', 0)).toBe(42);
    expect(levels).toEqual(['NORMAL']);
    expect(store.settings().synchronous).toBe('FULL');
    expect(synced).toEqual([`${dbPath}-wal`]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(done).toBe(false);
    release();
    await write;
    expect(done).toBe(true);
  });

  it('synchronous=FULL: the default syncFile fdatasyncs the WAL, and the offsets are there after a reopen', async () => {
    const store = open({ synchronous: 'FULL' });
    await store.putOffsetsDurably([{ group: 'g', topic: 't', queueId: 1, offset: 7 }]);
    store.close();
    expect(open({ synchronous: 'FULL' }).getOffset('g', 't', 1)).toBe(7);
  });

  it('synchronous=NORMAL: a plain putOffsets, nothing to sync', async () => {
    const synced: string[] = [];
    const store = open({ synchronous: 'NORMAL', syncFile: async (path) => void synced.push(path) });
    await store.putOffsetsDurably([{ group: 'g', topic: 't', queueId: 0, offset: 3 }]);
    expect(store.getOffset('g', 't', 0)).toBe(3);
    expect(synced).toEqual([]);
  });

  it('rejects a bad entry, writing nothing, and restores synchronous=FULL', async () => {
    const store = open({ synchronous: 'FULL', syncFile: async () => undefined });
    await expect(store.putOffsetsDurably([{ group: 'g', topic: 't', queueId: -1, offset: 3 }])).rejects.toThrow(/queueId/);
    expect(store.listOffsets()).toEqual([]);
    expect(store.settings().synchronous).toBe('FULL');
  });
});

describe('MetaStore delay progress and kv', () => {
  it('stores per-level progress and named values', () => {
    const store = open();
    expect(store.getDelayProgress(1)).toBeUndefined();
    store.putDelayProgress(1, 10);
    store.putDelayProgress(1, 11);
    store.putDelayProgress(18, 0);
    expect(store.getDelayProgress(1)).toBe(11);
    expect(store.getDelayProgress(18)).toBe(0);
    expect(() => store.putDelayProgress(2, -1)).toThrow(RangeError);

    expect(store.getValue('missing')).toBeUndefined();
    store.setValue('a', '1');
    store.setValue('a', '2');
    store.setValue('empty', '');
    expect(store.getValue('a')).toBe('2');
    expect(store.getValue('empty')).toBe('');
  });
});

describe('MetaStore migration 2 (key index moved to hash files)', () => {
  it('drops the key_index table of a version-1 file and keeps everything else', () => {
    const t = topic();
    const first = open();
    first.putTopic(t);
    first.close();
    // Rewind the file to version 1 as it was shipped: with the key_index table and a row in it.
    const raw = new Database(dbPath);
    raw.exec(`CREATE TABLE key_index (
      topic TEXT NOT NULL, msg_key TEXT NOT NULL, store_timestamp INTEGER NOT NULL, physical_offset INTEGER NOT NULL,
      PRIMARY KEY (topic, msg_key, store_timestamp, physical_offset)) WITHOUT ROWID;
      CREATE INDEX key_index_by_store_timestamp ON key_index (store_timestamp);
      INSERT INTO key_index VALUES ('t', 'k', 1, 2);`);
    raw.pragma('user_version = 1');
    raw.close();

    const again = open();
    expect(again.settings().schemaVersion).toBe(2);
    expect(again.getTopic(t.topicName)).toEqual(t);
    again.close();
    const check = new Database(dbPath, { readonly: true });
    const names = check.prepare(`SELECT name FROM sqlite_schema WHERE name LIKE 'key_index%'`).all();
    check.close();
    expect(names).toEqual([]);
  });
});

describe('MetaStore transactions and crash safety', () => {
  it('rolls back every write of a transaction that throws', () => {
    const store = open();
    const t = topic();
    expect(() =>
      store.transaction(() => {
        store.putTopic(t);
        store.putOffsets([{ group: 'g', topic: t.topicName, queueId: 0, offset: 5 }]);
        throw new Error('abort');
      }),
    ).toThrow('abort');
    expect(store.getTopic(t.topicName)).toBeUndefined();
    expect(store.listOffsets()).toEqual([]);
  });

  it('a SIGKILL before commit leaves the previous state; committed writes survive', async () => {
    const result = await runChild(
      dbPath,
      `
      meta.putOffsets([{ group: 'g', topic: 't', queueId: 0, offset: 10 }]);
      meta.putTopic({ topicName: 't', readQueueNums: 1, writeQueueNums: 1, perm: 6, topicSysFlag: 0, order: false });
      meta.transaction(() => {
        meta.putOffsets(Array.from({ length: 2000 }, (_, i) => ({ group: 'g', topic: 't', queueId: i, offset: 99 })));
        meta.putTopic({ topicName: 't', readQueueNums: 8, writeQueueNums: 8, perm: 6, topicSysFlag: 0, order: false });
        meta.setValue('k', 'v');
        // More than the page cache holds, so uncommitted pages spill into the WAL file before the kill.
        const pad = 'x'.repeat(100);
        for (let i = 0; i < 150_000; i++) meta.setValue(pad + i, String(i));
        process.kill(process.pid, 'SIGKILL');
      });
      console.log('not reached');
      `,
    );
    expect(result.stderr).toBe('');
    expect(result.signal).toBe('SIGKILL');
    expect(result.stdout).not.toContain('not reached');
    expect((await stat(`${dbPath}-wal`)).size).toBeGreaterThan(4 * 1024 * 1024);

    const store = open();
    expect(store.listOffsets()).toEqual([{ group: 'g', topic: 't', queueId: 0, offset: 10 }]);
    expect(store.getTopic('t')?.readQueueNums).toBe(1);
    expect(store.getValue('k')).toBeUndefined();
    expect(store.getValue(`${'x'.repeat(100)}0`)).toBeUndefined();
  });

  it("crash point 'offset-transaction' kills putOffsets before its commit", async () => {
    const result = await runChild(
      dbPath,
      `
      meta.putOffsets([{ group: 'g', topic: 't', queueId: 0, offset: 1 }]);
      meta.putOffsets([{ group: 'g', topic: 't', queueId: 0, offset: 2 }, { group: 'g', topic: 't', queueId: 1, offset: 2 }]);
      console.log('not reached');
      `,
      // The second transaction is the armed hit.
      { FERRYMQ_CRASH_POINT: 'offset-transaction:2' },
    );
    expect(result.stderr).toBe('');
    expect(result.signal).toBe('SIGKILL');
    expect(result.stdout).not.toContain('not reached');
    expect(open().listOffsets()).toEqual([{ group: 'g', topic: 't', queueId: 0, offset: 1 }]);
  });
});

describe('MetaStore close', () => {
  it('is idempotent, and every later call throws MetaStoreClosedError', () => {
    const store = open();
    store.close();
    store.close();
    const calls: Array<() => unknown> = [
      () => store.getTopic('t'),
      () => store.listTopics(),
      () => store.putTopic(topic()),
      () => store.deleteTopic('t'),
      () => store.getGroup('g'),
      () => store.listGroups(),
      () => store.putGroup(group()),
      () => store.deleteGroup('g'),
      () => store.getOffset('g', 't', 0),
      () => store.listOffsets(),
      () => store.putOffsets([]),
      () => store.deleteOffsets({ group: 'g' }),
      () => store.getDelayProgress(1),
      () => store.putDelayProgress(1, 1),
      () => store.getValue('k'),
      () => store.setValue('k', 'v'),
      () => store.transaction(() => 1),
      () => store.settings(),
    ];
    for (const call of calls) {
      expect(call).toThrow(MetaStoreClosedError);
      expect(call).toThrow(/metadata store .*meta\.db is closed/);
    }
  });
});
