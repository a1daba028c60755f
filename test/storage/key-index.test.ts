import { spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { indexKeysOf } from '../../broker/handlers/put-message.js';
import { decodeRecord } from '../../protocol/message-codec.js';
import { FakeClock } from '../../storage/clock.js';
import { CrashSimFileIO, type CrashMode } from '../../storage/crash-sim-file-io.js';
import { NodeFileIO } from '../../storage/file-io.js';
import {
  KEY_INDEX_DIR,
  KEY_INDEX_ENTRY_SIZE,
  KEY_INDEX_HEADER_SIZE,
  KeyIndex,
  decodeKeyIndexHeader,
  keyHash,
  type KeyIndexConfig,
} from '../../storage/key-index.js';
import type { MessageStore } from '../../storage/message-store.js';
import { AppendStatus } from '../../storage/types.js';
import { tempDir, uniqueName, waitFor } from '../helpers/common.js';
import { createTopic, message, openStore } from './store-fixture.js';

const child = fileURLToPath(new URL('./key-index-child.ts', import.meta.url));
/** A flush interval no test waits for: entries reach the file only through the paths under test. */
const NEVER = 3_600_000;
const silent = pino({ level: 'silent' });

let dir: { path: string; cleanup: () => Promise<void> };
let store: MessageStore | undefined;
let index: KeyIndex | undefined;
beforeEach(async () => {
  dir = await tempDir('ferrymq-keys-');
});
afterEach(async () => {
  await store?.close();
  store = undefined;
  await index?.close();
  index = undefined;
  await dir.cleanup();
});

function indexDir(): string {
  return join(dir.path, KEY_INDEX_DIR);
}

async function indexFiles(): Promise<string[]> {
  return (await readdir(indexDir())).filter((n) => n.endsWith('.kidx')).sort();
}

/** The header of an index file as it is on disk. */
async function headerOnDisk(name: string) {
  const header = decodeKeyIndexHeader(await readFile(join(indexDir(), name)));
  if (typeof header === 'string') throw new Error(header);
  return header;
}

/** Offsets an index opened on its own finds for (topic, key), in lookup order. */
async function lookupOffsets(keys: KeyIndex, topic: string, key: string, begin = 0, end = Number.MAX_SAFE_INTEGER): Promise<number[]> {
  const out: number[] = [];
  await keys.lookup(topic, key, begin, end, async (hit) => {
    out.push(hit.physicalOffset);
    return true;
  });
  return out;
}

function openIndex(config: Partial<KeyIndexConfig> = {}, io = new NodeFileIO()): Promise<KeyIndex> {
  return KeyIndex.open(io, indexDir(), { slotsPerFile: 64, maxEntriesPerFile: 64, ...config }, silent);
}

describe('key index file layout', () => {
  it('writes the documented bytes (golden)', async () => {
    const hashA = keyHash('T', 'a');
    const hashB = keyHash('T', 'b');
    // Pinned: the hash is part of the file format.
    expect([hashA, hashB]).toEqual([1995787445, 760484201]);
    index = await openIndex({ slotsPerFile: 2, maxEntriesPerFile: 3 });
    index.add('T', 'a', 0x1_0000_0010, 1_700_000_000_000);
    index.add('T', 'b', 0x20, 1_700_000_000_005);
    index.add('T', 'a', 0x30, 1_700_000_000_009);
    await index.flush({ durable: true });
    const bytes = await readFile(join(indexDir(), '00000000000000000000.kidx'));
    const header = Buffer.alloc(KEY_INDEX_HEADER_SIZE);
    header.write('4b494458', 0, 'hex'); // magic "KIDX" as u32 LE 0x5844494B
    header.writeUInt32LE(1, 4);
    header.writeUInt32LE(2, 8);
    header.writeUInt32LE(3, 12);
    header.writeBigInt64LE(1_700_000_000_000n, 16);
    header.writeBigInt64LE(1_700_000_000_009n, 24);
    header.writeBigInt64LE(0x20n, 32);
    header.writeBigInt64LE(0x1_0000_0010n, 40);
    header.writeUInt32LE(3, 48);
    header.writeUInt32LE(3, 52);
    // Both hashes are odd: one bucket (slot 1) chains all three entries.
    const slots = Buffer.alloc(8);
    slots.writeUInt32LE(3, 4);
    const entry = (hash: number, phys: number, delta: number, prev: number) => {
      const e = Buffer.alloc(KEY_INDEX_ENTRY_SIZE);
      e.writeInt32LE(hash, 0);
      e.writeUInt32LE(phys % 2 ** 32, 4);
      e.writeUInt32LE(Math.floor(phys / 2 ** 32), 8);
      e.writeInt32LE(delta, 12);
      e.writeUInt32LE(prev, 16);
      return e;
    };
    const expected = Buffer.concat([header, slots, entry(hashA, 0x1_0000_0010, 0, 0), entry(hashB, 0x20, 5, 1), entry(hashA, 0x30, 9, 2)]);
    expect(bytes.toString('hex')).toBe(expected.toString('hex'));
  });

  it('walks a bucket shared by many keys (one slot), newest first, and filters by hash and time', async () => {
    index = await openIndex({ slotsPerFile: 1 });
    for (let i = 0; i < 20; i++) index.add('T', `k${i % 4}`, i * 100, 1_000 + i);
    index.add('Other', 'k1', 5_000, 1_100);
    expect(await lookupOffsets(index, 'T', 'k1')).toEqual([1700, 1300, 900, 500, 100]);
    expect(await lookupOffsets(index, 'T', 'k1', 1_005, 1_013)).toEqual([1300, 900, 500]);
    expect(await lookupOffsets(index, 'Other', 'k1')).toEqual([5_000]);
    expect(await lookupOffsets(index, 'T', 'nope')).toEqual([]);
  });

  it('rolls to a new file when full and finds entries across files, newest file first, also from disk', async () => {
    index = await openIndex({ slotsPerFile: 4, maxEntriesPerFile: 3 });
    for (let i = 0; i < 10; i++) index.add('T', 'k', i, 1_000 + i);
    expect(index.fileCount()).toBe(4);
    expect(await lookupOffsets(index, 'T', 'k')).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    await index.flush({ durable: true });
    const names = await indexFiles();
    expect(names).toHaveLength(4);
    // Every entry is valid, and its slot on disk.
    expect((await Promise.all(names.map(headerOnDisk))).map((h) => [h.entryCount, h.slotEntryCount])).toEqual([
      [3, 3],
      [3, 3],
      [3, 3],
      [1, 1],
    ]);
    await index.close();
    index = await openIndex({ slotsPerFile: 4, maxEntriesPerFile: 3 });
    expect(await lookupOffsets(index, 'T', 'k')).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    // Files found at open stay read-only: new entries go to a new file.
    index.add('T', 'k', 10, 1_010);
    expect(await lookupOffsets(index, 'T', 'k', 1_008)).toEqual([10, 9, 8]);
    await index.flush({ durable: true });
    expect(await indexFiles()).toHaveLength(5);
  });

  it('replays the slots of entries a flush did not get to put in the slot table', async () => {
    index = await openIndex({ slotsPerFile: 2, maxEntriesPerFile: 64 });
    for (let i = 0; i < 6; i++) index.add('T', `k${i % 3}`, i, 1_000 + i);
    await index.flush({ durable: true });
    await index.close();
    index = undefined;
    // As if the flush stopped after its first header: entries valid, slot table still empty.
    const path = join(indexDir(), '00000000000000000000.kidx');
    const bytes = await readFile(path);
    bytes.writeUInt32LE(0, 52);
    bytes.fill(0, KEY_INDEX_HEADER_SIZE, KEY_INDEX_HEADER_SIZE + 8);
    await writeFile(path, bytes);
    index = await openIndex({ slotsPerFile: 2, maxEntriesPerFile: 64 });
    expect((await headerOnDisk('00000000000000000000.kidx')).slotEntryCount).toBe(6);
    expect(await lookupOffsets(index, 'T', 'k0')).toEqual([3, 0]);
    expect(await lookupOffsets(index, 'T', 'k1')).toEqual([4, 1]);
    expect(await lookupOffsets(index, 'T', 'k2')).toEqual([5, 2]);
  });

  it('ignores entries past the valid mark', async () => {
    index = await openIndex({ slotsPerFile: 2, maxEntriesPerFile: 64 });
    for (let i = 0; i < 6; i++) index.add('T', `k${i % 3}`, i, 1_000 + i);
    await index.flush({ durable: true });
    await index.close();
    index = undefined;
    // The header of an earlier flush: three valid entries, their slots not yet on disk.
    const path = join(indexDir(), '00000000000000000000.kidx');
    const bytes = await readFile(path);
    bytes.writeUInt32LE(3, 48);
    bytes.writeUInt32LE(0, 52);
    bytes.fill(0, KEY_INDEX_HEADER_SIZE, KEY_INDEX_HEADER_SIZE + 8);
    await writeFile(path, bytes);
    index = await openIndex({ slotsPerFile: 2, maxEntriesPerFile: 64 });
    expect(await lookupOffsets(index, 'T', 'k0')).toEqual([0]);
    expect(await lookupOffsets(index, 'T', 'k1')).toEqual([1]);
    expect(await lookupOffsets(index, 'T', 'k2')).toEqual([2]);
    index.add('T', 'k1', 10, 2_000);
    expect(await lookupOffsets(index, 'T', 'k1')).toEqual([10, 1]);
  });

  it('keeps keys appended during a durable flush out of its slot pages', async () => {
    let target: KeyIndex | undefined;
    let adding = true;
    let added = 0;
    // Appends land while the flush waits for each of its writes.
    class AddingIO extends NodeFileIO {
      override async writev(...args: Parameters<NodeFileIO['writev']>): Promise<void> {
        if (adding) target!.add('T', `late${added++}`, 1_000 + added, 2_000);
        return super.writev(...args);
      }
    }
    index = target = await openIndex({ slotsPerFile: 2 }, new AddingIO());
    for (let i = 0; i < 3; i++) index.add('T', `k${i}`, i, 1_000);
    await index.flush({ durable: true });
    adding = false;
    const bytes = await readFile(join(indexDir(), '00000000000000000000.kidx'));
    const header = decodeKeyIndexHeader(bytes);
    if (typeof header === 'string') throw new Error(header);
    expect(header.entryCount).toBeLessThan(3 + added);
    const slots = [bytes.readUInt32LE(KEY_INDEX_HEADER_SIZE), bytes.readUInt32LE(KEY_INDEX_HEADER_SIZE + 4)];
    expect(slots.every((v) => v <= header.entryCount)).toBe(true);
    await index.flush({ durable: true });
    expect((await headerOnDisk('00000000000000000000.kidx')).entryCount).toBe(3 + added);
  });

  it('treats a zeroed tail (entries and header never synced) as empty', async () => {
    index = await openIndex();
    index.add('T', 'a', 1, 1_000);
    await index.flush({ durable: true });
    index.add('T', 'b', 2, 1_001);
    await index.flush();
    await index.close();
    index = undefined;
    const path = join(indexDir(), '00000000000000000000.kidx');
    const bytes = await readFile(path);
    bytes.fill(0, KEY_INDEX_HEADER_SIZE + 64 * 4 + KEY_INDEX_ENTRY_SIZE);
    await writeFile(path, bytes);
    index = await openIndex();
    expect(await lookupOffsets(index, 'T', 'a')).toEqual([1]);
    expect(await lookupOffsets(index, 'T', 'b')).toEqual([]);
  });

  it('deletes a file whose header never made it to disk', async () => {
    await new NodeFileIO().mkdir(indexDir());
    await writeFile(join(indexDir(), '00000000000000000000.kidx'), Buffer.alloc(4096));
    index = await openIndex();
    expect(await indexFiles()).toEqual([]);
    index.add('T', 'a', 1, 1_000);
    expect(await lookupOffsets(index, 'T', 'a')).toEqual([1]);
    await index.flush({ durable: true });
    expect((await headerOnDisk('00000000000000000000.kidx')).entryCount).toBe(1);
  });
});

describe('key index written behind the appends', () => {
  it('writes nothing on the append path, yet queryByKey finds a message right after its append', async () => {
    store = await openStore(dir.path, { keysOf: indexKeysOf, config: { keyIndexFlushIntervalMs: NEVER } });
    const topic = createTopic(store);
    const result = await store.append(message(topic, 1, 'hello', { keys: ['order-1'] }));
    expect(result.status).toBe('PUT_OK');
    expect(await indexFiles()).toEqual([]);
    const found = await store.queryByKey(topic, 'order-1', 10);
    expect(found.map((f) => [f.queueId, f.queueOffset])).toEqual([[1, 0]]);
  });

  it('writes new entries on the timer', async () => {
    const clock = new FakeClock();
    store = await openStore(dir.path, { clock, config: { keyIndexFlushIntervalMs: 100 } });
    const topic = createTopic(store);
    const result = await store.append(message(topic, 0, 'a', { keys: ['k1', 'k2'] }));
    if (result.status !== 'PUT_OK') throw new Error(result.reason);
    clock.advance(99);
    await new Promise((resolve) => setImmediate(resolve));
    expect(await indexFiles()).toEqual([]);
    clock.advance(1);
    const entriesAt = KEY_INDEX_HEADER_SIZE + store.config.keyIndexSlotsPerFile * 4;
    const firstFile = async () => readFile(join(indexDir(), (await indexFiles())[0]));
    await waitFor(async () => (await firstFile()).readInt32LE(entriesAt + KEY_INDEX_ENTRY_SIZE) !== 0, { what: 'entries written by the timer' });
    const bytes = await firstFile();
    expect(bytes.readInt32LE(entriesAt)).toBe(keyHash(topic, 'k1'));
    expect(bytes.readInt32LE(entriesAt + KEY_INDEX_ENTRY_SIZE)).toBe(keyHash(topic, 'k2'));
    expect(bytes.readUInt32LE(entriesAt + 4)).toBe(result.physicalOffset);
  });

  it('makes the index durable before a checkpoint and on a clean close; a clean reopen needs no re-indexing', async () => {
    store = await openStore(dir.path, { config: { keyIndexFlushIntervalMs: NEVER } });
    const topic = createTopic(store);
    await store.append(message(topic, 0, 'a', { keys: ['before-checkpoint'] }));
    await store.runCheckpoint();
    expect((await headerOnDisk((await indexFiles())[0])).entryCount).toBe(1);
    await store.append(message(topic, 0, 'b', { keys: ['before-close'] }));
    await store.close();
    expect((await headerOnDisk((await indexFiles())[0])).entryCount).toBe(2);
    // Without keysOf the reopened store could not re-index anything: the entries were written at close.
    store = await openStore(dir.path);
    expect(await store.queryByKey(topic, 'before-close', 10)).toHaveLength(1);
    expect(await store.queryByKey(topic, 'before-checkpoint', 10)).toHaveLength(1);
  });

  it('fails the checkpoint while the index cannot be synced, keeps the entries, and writes them next time', async () => {
    const io = new CrashSimFileIO();
    store = await openStore(dir.path, { fileIO: io, config: { keyIndexFlushIntervalMs: NEVER } });
    const topic = createTopic(store);
    await store.append(message(topic, 0, 'a', { keys: ['kept'] }));
    io.failNextSyncs(1);
    await expect(store.runCheckpoint()).rejects.toThrow();
    expect(await store.queryByKey(topic, 'kept', 10)).toHaveLength(1);
    await store.runCheckpoint();
    expect((await headerOnDisk((await indexFiles())[0])).entryCount).toBe(1);
  });

  it('skips empty keys', async () => {
    store = await openStore(dir.path, { config: { keyIndexFlushIntervalMs: NEVER } });
    const topic = createTopic(store);
    await store.append({ ...message(topic, 0, 'a'), keys: ['', 'ok'] });
    expect(await store.queryByKey(topic, 'ok', 10)).toHaveLength(1);
    expect(await store.queryByKey(topic, '', 10)).toEqual([]);
  });
});

describe('queryByKey over the hash index', () => {
  it('keeps only records that really carry the key (hash collisions) of the topic', async () => {
    store = await openStore(dir.path, { keysOf: indexKeysOf, config: { keyIndexSlotsPerFile: 1 } });
    const topic = createTopic(store);
    const other = createTopic(store);
    const a = await store.append(message(topic, 0, 'a', { keys: ['a'] }));
    const b = await store.append(message(topic, 0, 'b', { keys: ['b'] }));
    await store.append(message(other, 0, 'a-other', { keys: ['a'] }));
    if (a.status !== 'PUT_OK' || b.status !== 'PUT_OK') throw new Error('append failed');
    // An entry with the hash of "a" naming the record of "b": what a 32-bit hash collision looks like.
    (store as unknown as { keyIndex: KeyIndex }).keyIndex.add(topic, 'a', b.physicalOffset, b.storeTimestamp);
    const found = await store.queryByKey(topic, 'a', 10);
    expect(found.map((f) => f.queueOffset)).toEqual([0]);
  });

  it('returns at most maxNum records, newest first, within the time window, across rolled files', async () => {
    const clock = new FakeClock(1_000_000);
    store = await openStore(dir.path, { clock, keysOf: indexKeysOf, config: { keyIndexMaxEntriesPerFile: 3, keyIndexSlotsPerFile: 4 } });
    const topic = createTopic(store);
    const stamps: number[] = [];
    for (let i = 0; i < 10; i++) {
      clock.advance(10);
      const r = await store.append(message(topic, i % 2, `m${i}`, { keys: ['shared', `k${i}`] }));
      if (r.status !== 'PUT_OK') throw new Error('append failed');
      stamps.push(r.storeTimestamp);
    }
    const bodies = (found: { bytes: Buffer }[]) => found.map((f) => decodeRecord(f.bytes, 0).body.toString());
    expect((await store.queryByKey(topic, 'shared', 100)).length).toBe(10);
    const newest = await store.queryByKey(topic, 'shared', 3);
    expect(newest.map((f) => f.queueOffset)).toEqual([4, 4, 3]);
    expect(bodies(newest)).toEqual(['m9', 'm8', 'm7']);
    const window = await store.queryByKey(topic, 'shared', 100, stamps[2], stamps[5]);
    expect(bodies(window)).toEqual(['m5', 'm4', 'm3', 'm2']);
    expect(await store.queryByKey(topic, 'k0', 10)).toHaveLength(1);
    expect(await store.queryByKey(topic, 'shared', 0)).toEqual([]);
  });

  it('retention deletes only sealed index files older than every remaining record', async () => {
    const clock = new FakeClock(1_000_000);
    store = await openStore(dir.path, {
      clock,
      keysOf: indexKeysOf,
      // Timers that never fire: the FakeClock jumps hours, and the test runs each pass itself.
      config: { segmentSize: 1024, fileReservedTimeHours: 1, cleanupIntervalMs: 10 * NEVER, checkpointIntervalMs: 10 * NEVER, keyIndexMaxEntriesPerFile: 4, keyIndexSlotsPerFile: 4 },
    });
    const topic = createTopic(store, 1);
    for (let i = 0; i < 12; i++) await store.append(message(topic, 0, `old-${i}`.padEnd(200, '.'), { keys: [`old${i}`] }));
    clock.advance(2 * 3_600_000);
    for (let i = 0; i < 3; i++) await store.append(message(topic, 0, `new-${i}`.padEnd(900, '.'), { keys: [`new${i}`] }));
    await store.runCheckpoint();
    const before = await indexFiles();
    expect(await store.runCleanup()).toBeGreaterThan(0);
    const after = await indexFiles();
    expect(after.length).toBeLessThan(before.length);
    expect(after.length).toBeGreaterThan(0);
    for (let i = 0; i < 3; i++) expect(await store.queryByKey(topic, `new${i}`, 10)).toHaveLength(1);
    // Keys of records that are still stored are still found.
    for (let i = store.minOffset(topic, 0); i < 12; i++) expect(await store.queryByKey(topic, `old${i}`, 10)).toHaveLength(1);
    const oldest = await store.storeTimestampAt(topic, 0, store.minOffset(topic, 0));
    for (const name of after.slice(0, -1)) expect((await headerOnDisk(name)).endTimestamp).toBeGreaterThanOrEqual(oldest!);
    // The files that went held only keys of deleted records.
    expect(await store.queryByKey(topic, 'old0', 10)).toEqual([]);
  });
});

describe('key index after a crash', () => {
  const cases: [CrashMode, number][] = [
    ['drop', 1],
    ['tear', 2],
    ['tear', 5],
    ['random', 3],
    ['random', 4],
    ['random', 6],
  ];
  it.each(cases)('finds every acknowledged key after a simulated power loss (%s, seed %i)', async (mode, seed) => {
    const io = new CrashSimFileIO();
    const config = { segmentSize: 4096, checkpointIntervalMs: 15, keyIndexFlushIntervalMs: 5, keyIndexSlotsPerFile: 8, keyIndexMaxEntriesPerFile: 40 };
    const crashing = await openStore(dir.path, { fileIO: io, keysOf: indexKeysOf, config });
    const topic = createTopic(crashing, 2);
    const acked: string[] = [];
    let crashed: Promise<void> | undefined;
    const appender = async (worker: number) => {
      for (let i = 0; i < 120 && !crashed; i++) {
        const key = `w${worker}-${i}`;
        const result = await crashing.append(message(topic, worker % 2, key.padEnd(80, '.'), { keys: [key, 'shared'] }));
        if (result.status === AppendStatus.PUT_OK) {
          acked.push(key);
          if (acked.length === 200) crashed = io.crash({ mode, seed });
        }
        if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
      }
    };
    await Promise.all(Array.from({ length: 4 }, (_, w) => appender(w)));
    await crashed;
    await crashing.close();
    expect(acked.length).toBeGreaterThanOrEqual(200);

    store = await openStore(dir.path, { keysOf: indexKeysOf, config });
    for (const key of acked) expect(await store.queryByKey(topic, key, 10), key).toHaveLength(1);
    expect((await store.queryByKey(topic, 'shared', 10_000)).length).toBeGreaterThanOrEqual(acked.length);
  }, 30_000);

  it('re-indexes the keys of records after the checkpoint when the process was killed (SIGKILL)', async () => {
    const topic = uniqueName('K');
    const count = 30;
    const checkpointAfter = 10;
    const proc = spawn(process.execPath, ['--import', 'tsx', child, dir.path, topic, String(count), String(checkpointAfter)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    proc.stderr.on('data', (d) => (err += d));
    await new Promise<void>((resolve, reject) => {
      proc.stdout.on('data', (d: Buffer) => {
        if (d.toString().includes('acked')) resolve();
      });
      proc.on('exit', (code) => reject(new Error(`child exited (${code}) before acknowledging: ${err}`)));
    });
    const exited = new Promise((resolve) => proc.on('exit', resolve));
    proc.kill('SIGKILL');
    await exited;

    // Only the checkpoint made entries valid: the keys of the later appends are not in the files.
    index = await openIndex();
    expect(await lookupOffsets(index, topic, `k${checkpointAfter - 1}`)).toHaveLength(1);
    expect(await lookupOffsets(index, topic, `k${checkpointAfter}`)).toEqual([]);
    expect(await lookupOffsets(index, topic, 'shared')).toHaveLength(checkpointAfter);
    await index.close();
    index = undefined;

    store = await openStore(dir.path, { keysOf: indexKeysOf });
    expect(await store.queryByKey(topic, 'shared', 100)).toHaveLength(count);
    for (let i = 0; i < count; i++) {
      const found = await store.queryByKey(topic, `k${i}`, 10);
      expect(found.map((f) => [f.queueId, f.queueOffset])).toEqual([[i % 2, Math.floor(i / 2)]]);
    }
  }, 30_000);
});
