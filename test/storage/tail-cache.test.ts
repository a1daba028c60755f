import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NodeFileIO, type FileHandle } from '../../storage/file-io.js';
import { Segment } from '../../storage/segment.js';
import { INDEX_ENTRY_SIZE } from '../../storage/consume-index.js';
import { TailCache, TailCacheBudget } from '../../storage/tail-cache.js';
import { AppendStatus, GetMessageStatus } from '../../storage/types.js';
import { tempDir } from '../helpers/common.js';
import { createTopic, message, openStore } from './store-fixture.js';

/** Counts reads of segment logs (through the threadpool and inline), to prove the tail is served from memory. */
class CountingFileIO extends NodeFileIO {
  logReads = 0;
  inlineLogReads = 0;
  inlineIndexReads = 0;
  indexReads = 0;
  override read(handle: FileHandle, target: Buffer, targetOffset: number, length: number, position: number): Promise<number> {
    if (handle.path.endsWith('.log')) this.logReads += 1;
    if (handle.path.endsWith('.idx')) this.indexReads += 1;
    return super.read(handle, target, targetOffset, length, position);
  }
  override readSync(handle: FileHandle, target: Buffer, targetOffset: number, length: number, position: number): number {
    if (handle.path.endsWith('.log')) this.inlineLogReads += 1;
    if (handle.path.endsWith('.idx')) this.inlineIndexReads += 1;
    return super.readSync(handle, target, targetOffset, length, position);
  }
}

let dir: { path: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  dir = await tempDir('ferrymq-tail-');
});
afterEach(async () => {
  await dir.cleanup();
});

const owner = { topic: 'T', queueId: 0 };
const views = (text: string) => [Buffer.from(text)];
const idx = (count: number) => Buffer.alloc(count * 32, count);

describe('TailCache', () => {
  it('serves ranges inside one entry and across adjacent entries, as copies', () => {
    const cache = new TailCache(new TailCacheBudget(1 << 20), 1 << 20);
    const segment = new Segment(owner, '/nowhere', 0, 0, 1 << 20);
    cache.add(segment, 32, views('abcdef'), 6, 0, idx(2));
    cache.add(segment, 38, views('ghij'), 4, 2, idx(1));
    expect(cache.readLog(segment, 33, 3)?.toString()).toBe('bcd');
    expect(cache.readLog(segment, 36, 4)?.toString()).toBe('efgh');
    expect(cache.readLog(segment, 38, 5)).toBeUndefined(); // runs past the newest byte
    expect(cache.readLog(segment, 20, 4)).toBeUndefined(); // before the oldest byte
    const target = Buffer.alloc(96);
    expect(cache.copyIndex(segment, target, 0, 0, 3)).toBe(true);
    expect([target[0], target[32], target[64]]).toEqual([2, 2, 1]);
    expect(cache.copyIndex(segment, target, 0, 2, 2)).toBe(false);
  });

  it('drops the oldest entries as the shared ring wraps, and what it returned before keeps its bytes', () => {
    const budget = new TailCacheBudget(300);
    const cache = new TailCache(budget, 300);
    const segment = new Segment(owner, '/a', 0, 0, 1 << 20);
    // 100 ring bytes an entry (68 of log, 32 of index): three fill the ring.
    for (let i = 0; i < 3; i++) cache.add(segment, 32 + i * 68, [Buffer.alloc(68, 0x41 + i)], 68, i, idx(1));
    const first = cache.readLog(segment, 32, 68)!;
    expect(first.equals(Buffer.alloc(68, 0x41))).toBe(true);
    cache.add(segment, 32 + 3 * 68, [Buffer.alloc(68, 0x44)], 68, 3, idx(1));
    expect(cache.readLog(segment, 32, 1)).toBeUndefined();
    expect(first.equals(Buffer.alloc(68, 0x41))).toBe(true);
    expect(cache.readLog(segment, 32 + 68, 3 * 68)?.toString()).toBe('B'.repeat(68) + 'C'.repeat(68) + 'D'.repeat(68));
    expect(budget.entries).toBe(3);
  });

  it('gives back exactly the bytes cached, over many queues, sizes and wraps of the ring', () => {
    let seed = 7;
    const random = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const budget = new TailCacheBudget(4096);
    const queues = Array.from({ length: 5 }, (_, q) => ({
      cache: new TailCache(budget, 1500),
      segment: new Segment({ topic: 'T', queueId: q }, `/q${q}`, 0, 0, 1 << 30),
      log: [] as number[],
      index: [] as number[],
      batches: [] as { position: number; length: number }[],
    }));
    let hits = 0;
    for (let round = 0; round < 3000; round++) {
      const q = queues[random(queues.length)]!;
      const length = 1 + random(400);
      const count = 1 + random(3);
      const log = Buffer.from(Array.from({ length }, () => random(256)));
      const index = Buffer.from(Array.from({ length: count * INDEX_ENTRY_SIZE }, () => random(256)));
      const position = 32 + q.log.length;
      const firstEntry = q.index.length / INDEX_ENTRY_SIZE;
      // Split the log bytes over one or two views, as a write of several chunks gives them.
      const cut = random(length);
      q.cache.add(q.segment, position, cut > 0 ? [log.subarray(0, cut), log.subarray(cut)] : [log], length, firstEntry, index);
      q.log.push(...log);
      q.index.push(...index);
      q.batches.push({ position, length });
      expect(budget.bytes).toBeLessThanOrEqual(4096);
      // The newest batch is always there when it fits the queue's bound.
      expect(q.cache.readLog(q.segment, position, length)?.equals(log)).toBe(true);
      for (const other of queues) {
        if (other.log.length === 0) continue;
        // Every byte of the recent batches still cached is right (a ring slot reused too early shows here).
        for (const batch of other.batches.slice(-20)) {
          const read = other.cache.readLog(other.segment, batch.position, batch.length);
          if (read) {
            hits += 1;
            expect(read.equals(Buffer.from(other.log.slice(batch.position - 32, batch.position - 32 + batch.length)))).toBe(true);
          }
        }
        const recent = Math.max(0, other.log.length - 1500);
        const from = recent + random(other.log.length - recent);
        const size = 1 + random(Math.min(600, other.log.length - from));
        const read = other.cache.readLog(other.segment, 32 + from, size);
        if (read) {
          hits += 1;
          expect(read.equals(Buffer.from(other.log.slice(from, from + size)))).toBe(true);
        }
        const entries = other.index.length / INDEX_ENTRY_SIZE;
        const first = random(entries);
        const n = 1 + random(Math.min(5, entries - first));
        const target = Buffer.alloc(n * INDEX_ENTRY_SIZE);
        if (other.cache.copyIndex(other.segment, target, 0, first, n)) {
          expect(target.equals(Buffer.from(other.index.slice(first * INDEX_ENTRY_SIZE, (first + n) * INDEX_ENTRY_SIZE)))).toBe(true);
        }
      }
    }
    // The random reads found cached bytes often enough to mean something.
    expect(hits).toBeGreaterThan(30_000);
  });

  it('keeps each queue under its bound and all queues under the store-wide one, oldest first', () => {
    const budget = new TailCacheBudget(300);
    const a = new TailCache(budget, 200);
    const b = new TailCache(budget, 200);
    const sa = new Segment(owner, '/a', 0, 0, 1 << 20);
    const sb = new Segment(owner, '/b', 0, 1 << 20, 1 << 20);
    for (let i = 0; i < 4; i++) a.add(sa, 32 + i * 68, [Buffer.alloc(68, i)], 68, i, idx(1));
    // 100 bytes an entry: the queue keeps its newest two.
    expect(a.readLog(sa, 32, 1)).toBeUndefined();
    expect(a.readLog(sa, 32 + 2 * 68, 136)?.length).toBe(136);
    b.add(sb, 32, [Buffer.alloc(68)], 68, 0, idx(1));
    b.add(sb, 100, [Buffer.alloc(68)], 68, 1, idx(1));
    // Four entries would be 400 bytes: the store-wide oldest (queue a's) went.
    expect(budget.bytes).toBeLessThanOrEqual(300);
    expect(a.readLog(sa, 32 + 2 * 68, 1)).toBeUndefined();
    expect(a.readLog(sa, 32 + 3 * 68, 68)?.length).toBe(68);
    expect(b.readLog(sb, 32, 136)?.length).toBe(136);
    a.clear();
    b.dropThrough(sb);
    expect(budget.bytes).toBe(0);
    expect(budget.entries).toBe(0);
  });

  it('lets go of entries a queue drops under its own bound, even while the store-wide bound is never reached', () => {
    // Regression: the store-wide order used to keep every entry ever cached until the store-wide
    // bound evicted it, so a queue staying under its own bound leaked all its dropped batches.
    const budget = new TailCacheBudget(1 << 30);
    const cache = new TailCache(budget, 1000);
    const segment = new Segment(owner, '/a', 0, 0, 1 << 30);
    for (let i = 0; i < 10_000; i++) cache.add(segment, 32 + i * 68, [Buffer.alloc(68)], 68, i, idx(1));
    expect(budget.entries).toBe(10); // 100 bytes an entry under a 1000-byte queue bound
    expect(budget.bytes).toBe(1000);
  });
});

describe('tail reads', () => {
  it('returns the same bytes and statuses from memory as from the files, and reads no log file for the tail', async () => {
    const io = new CountingFileIO();
    const store = await openStore(dir.path, { fileIO: io, config: { segmentSize: 64 * 1024, tailCacheTotalBytes: 4 * 1024 * 1024 } });
    const topic = createTopic(store, 1);
    const bodies = Array.from({ length: 300 }, (_, i) => `m${i}-`.padEnd(20 + ((i * 37) % 500), 'x'));
    for (let i = 0; i < bodies.length; i += 10) {
      const results = await Promise.all(bodies.slice(i, i + 10).map((b) => store.append(message(topic, 0, b, { tags: i % 20 ? 'A' : 'B' }))));
      expect(results.every((r) => r.status === AppendStatus.PUT_OK)).toBe(true);
    }
    const windows: [number, number, number][] = [
      [0, 32, 1 << 20],
      [17, 5, 1 << 20],
      [250, 100, 1 << 20],
      [299, 1, 100],
      [300, 1, 1 << 20],
      [400, 1, 1 << 20],
    ];
    const readAll = async (s: typeof store) =>
      Promise.all(
        windows.map(async ([offset, max, bytes]) => {
          const r = await s.read(topic, 0, offset, max, bytes);
          return { ...r, buffers: Buffer.concat(r.buffers).toString('hex') };
        }),
      );
    io.logReads = 0;
    const tail = await store.read(topic, 0, 280, 20, 1 << 20);
    expect(tail.status).toBe(GetMessageStatus.FOUND);
    expect(tail.messageCount).toBe(20);
    expect(io.logReads + io.inlineLogReads).toBe(0);
    const fromMemory = await readAll(store);
    const filtered = await store.read(topic, 0, 200, 32, 1 << 20, { tagsCodes: new Set([66]) });
    // Without waiting: the same answers, statuses included, and no threadpool read.
    const reads = io.logReads + io.indexReads;
    const now = windows.map(([offset, max, bytes]) => store.readNow(topic, 0, offset, max, bytes));
    expect(now.map((r) => r && { ...r, buffers: Buffer.concat(r.buffers).toString('hex') })).toEqual(fromMemory);
    expect(store.readNow(topic, 0, 200, 32, 1 << 20, { tagsCodes: new Set([66]) })).toEqual(filtered);
    expect(io.logReads + io.indexReads).toBe(reads);
    await store.close();
    const reopened = await openStore(dir.path, { config: { segmentSize: 64 * 1024, tailCacheBytes: 0 } });
    expect(await readAll(reopened)).toEqual(fromMemory);
    expect(await reopened.read(topic, 0, 200, 32, 1 << 20, { tagsCodes: new Set([66]) })).toEqual(filtered);
    await reopened.close();
  });
});

describe('reads past the tail cache', () => {
  it("read the active segment's recent bytes on the calling thread and older segments through the threadpool, the same bytes either way", async () => {
    const io = new CountingFileIO();
    const config = { segmentSize: 64 * 1024, tailCacheBytes: 0, tailCacheTotalBytes: 0 };
    const store = await openStore(dir.path, { fileIO: io, config });
    const topic = createTopic(store, 1);
    const body = Buffer.alloc(1000, 7);
    for (let i = 0; i < 100; i++) expect((await store.append(message(topic, 0, body))).status).toBe(AppendStatus.PUT_OK);
    // 100 records of ~1.1 KiB over 64 KiB segments: the first records are in a rolled segment.
    const counts = () => ({ log: io.logReads, inlineLog: io.inlineLogReads });
    const before = counts();
    const old = await store.read(topic, 0, 0, 4, 1 << 20);
    expect(old.messageCount).toBe(4);
    expect(counts()).toEqual({ log: before.log + 1, inlineLog: before.inlineLog });
    const recent = await store.read(topic, 0, 96, 4, 1 << 20);
    expect(recent.messageCount).toBe(4);
    expect(counts()).toEqual({ log: before.log + 1, inlineLog: before.inlineLog + 1 });
    // Without waiting: the recent bytes by the same inline read; the rolled segment's would need the threadpool.
    expect(store.readNow(topic, 0, 96, 4, 1 << 20)).toEqual(recent);
    expect(store.readNow(topic, 0, 0, 4, 1 << 20)).toBeUndefined();
    expect(counts()).toEqual({ log: before.log + 1, inlineLog: before.inlineLog + 2 });
    await store.close();
    const reopened = await openStore(dir.path, { config });
    for (const [offset, result] of [[0, old], [96, recent]] as const) {
      expect(Buffer.concat((await reopened.read(topic, 0, offset, 4, 1 << 20)).buffers)).toEqual(Buffer.concat(result.buffers));
    }
    await reopened.close();
  });
});

describe('Segment index tail', () => {
  it('copies any range of the in-memory index entries, found from either end of thousands of chunks', () => {
    const segment = new Segment(owner, '/nowhere', 0, 0, 1 << 20);
    // Entries 0..99 are in the file; 100.. come in chunks of 1, 2 or 3 entries, as committed batches.
    segment.indexFileCount = 100;
    let next = 100;
    for (let c = 0; c < 3000; c++) {
      const n = 1 + (c % 3);
      const chunk = Buffer.alloc(n * 32);
      for (let k = 0; k < n; k++) chunk.writeUInt32BE(next + k, k * 32);
      segment.indexTail.push(chunk);
      next += n;
    }
    segment.entryCount = next;
    for (const [from, count] of [[100, 1], [100, 7], [101, 5], [3000, 40], [next - 1, 1], [next - 5, 5], [next - 6000, 6000], [5000, 1]]) {
      const out = Buffer.alloc(count * 32 + 8, 0xee);
      segment.copyIndexTail(out, 8, from, count);
      expect(out.subarray(0, 8).every((b) => b === 0xee)).toBe(true);
      for (let k = 0; k < count; k++) expect(out.readUInt32BE(8 + k * 32), `entry ${from + k}`).toBe(from + k);
    }
  });
});
