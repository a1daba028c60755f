/**
 * The write pipeline: several writes per queue in flight, finishing in any order, committed in
 * order; a failed write in the middle refuses itself and everything after it, and only that.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeRecords } from '../../protocol/message-codec.js';
import { NodeFileIO, type FileHandle } from '../../storage/file-io.js';
import type { MessageStore } from '../../storage/message-store.js';
import { AppendStatus, GetMessageStatus, type AppendResult } from '../../storage/types.js';
import { tempDir } from '../helpers/common.js';
import { Gate, createTopic, message, openStore } from './store-fixture.js';

/** SYNC_FLUSH zero-fills the log ahead of the appends: one all-zero buffer, not an append's write. */
function isZeroFill(buffers: readonly Buffer[]): boolean {
  return buffers.length === 1 && buffers[0].every((b) => b === 0);
}

/** Log writes finish after a seeded random delay (so later ones often finish first); one can be made to fail. */
class ShuffledFileIO extends NodeFileIO {
  logWrites = 0;
  failWrite: number | undefined;
  private seed = 7;

  override async writev(handle: FileHandle, buffers: readonly Buffer[], position: number): Promise<void> {
    if (!handle.path.endsWith('.log') || isZeroFill(buffers)) return super.writev(handle, buffers, position);
    const n = ++this.logWrites;
    this.seed = (this.seed * 1103515245 + 12345) % 2 ** 31;
    await new Promise((resolve) => setTimeout(resolve, this.seed % 15));
    if (n === this.failWrite) throw Object.assign(new Error('EIO: injected'), { code: 'EIO' });
    return super.writev(handle, buffers, position);
  }

  /** Inline writes (ASYNC_FLUSH) cannot be delayed; they count and fail the same way. */
  override writevSync(handle: FileHandle, buffers: readonly Buffer[], position: number): void {
    if (handle.path.endsWith('.log') && ++this.logWrites === this.failWrite) throw Object.assign(new Error('EIO: injected'), { code: 'EIO' });
    super.writevSync(handle, buffers, position);
  }
}

/** Log writes wait at a gate the test opens; counts them. */
class GatedFileIO extends NodeFileIO {
  logWrites = 0;
  private gate: Promise<void> = Promise.resolve();
  private openGate: () => void = () => undefined;

  hold(): void {
    this.gate = new Promise((resolve) => (this.openGate = resolve));
  }

  release(): void {
    this.openGate();
    this.gate = Promise.resolve();
  }

  override async writev(handle: FileHandle, buffers: readonly Buffer[], position: number): Promise<void> {
    if (!handle.path.endsWith('.log') || isZeroFill(buffers)) return super.writev(handle, buffers, position);
    this.logWrites += 1;
    await this.gate;
    return super.writev(handle, buffers, position);
  }

  /** Inline writes (ASYNC_FLUSH) cannot wait at the gate; they are counted. */
  override writevSync(handle: FileHandle, buffers: readonly Buffer[], position: number): void {
    if (handle.path.endsWith('.log')) this.logWrites += 1;
    super.writevSync(handle, buffers, position);
  }
}

/** Counts log writes by kind (threadpool `writev` or inline `writevSync`); can hold directory fsyncs at a gate, or fail them. */
class InlineCountingFileIO extends NodeFileIO {
  asyncLogWrites = 0;
  inlineLogWrites = 0;
  failDirSync = false;
  readonly dirGate = new Gate();

  override writev(handle: FileHandle, buffers: readonly Buffer[], position: number): Promise<void> {
    if (handle.path.endsWith('.log')) this.asyncLogWrites += 1;
    return super.writev(handle, buffers, position);
  }

  override writevSync(handle: FileHandle, buffers: readonly Buffer[], position: number): void {
    if (handle.path.endsWith('.log')) this.inlineLogWrites += 1;
    super.writevSync(handle, buffers, position);
  }

  override async fsyncDir(path: string): Promise<void> {
    await this.dirGate.pass();
    if (this.failDirSync) throw Object.assign(new Error('EIO: injected directory fsync failure'), { code: 'EIO' });
    return super.fsyncDir(path);
  }
}

let dir: { path: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  dir = await tempDir('ferrymq-pipeline-');
});
afterEach(async () => {
  await dir.cleanup();
});

async function readAll(store: MessageStore, topic: string): Promise<string[]> {
  const out: string[] = [];
  let offset = 0;
  for (;;) {
    const read = await store.read(topic, 0, offset, 64, 1 << 20);
    if (read.status !== GetMessageStatus.FOUND) return out;
    out.push(...decodeRecords(Buffer.concat(read.buffers)).map((r) => r.body.toString()));
    offset = read.nextBeginOffset;
  }
}

describe('write pipeline', () => {
  // The threadpool write pipeline of SYNC_FLUSH's O_DSYNC logs (with the journal, writes are inline).
  it('commits writes that finish out of order in offset order', async () => {
    const io = new ShuffledFileIO();
    const store = await openStore(dir.path, { fileIO: io, config: { writeBatchBytes: 1024, segmentSize: 64 * 1024, syncJournal: false } });
    const topic = createTopic(store, 1);
    const resolvedAt: number[] = [];
    const maxSeen: number[] = [];
    const results = await Promise.all(
      Array.from({ length: 300 }, async (_, i) => {
        const result = await store.append(message(topic, 0, `m${i}`.padEnd(200, '.')));
        if (result.status === AppendStatus.PUT_OK) resolvedAt.push(result.queueOffset);
        maxSeen.push(store.maxOffset(topic, 0));
        return result;
      }),
    );
    expect(io.logWrites).toBeGreaterThanOrEqual(8);
    expect(results.map((r) => (r as Extract<AppendResult, { status: 'PUT_OK' }>).queueOffset)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    // Acknowledged in offset order, and each only once everything before it was readable.
    expect(resolvedAt).toEqual([...resolvedAt].sort((a, b) => a - b));
    resolvedAt.forEach((offset, k) => expect(maxSeen[k]).toBeGreaterThan(offset));
    expect((await readAll(store, topic)).map((b) => b.replace(/\.+$/, ''))).toEqual(Array.from({ length: 300 }, (_, i) => `m${i}`));
    await store.close();
  });

  it.each([
    ['SYNC_FLUSH', true],
    ['SYNC_FLUSH', false],
    ['ASYNC_FLUSH', false],
  ] as const)('refuses a failed write and every later one, commits the earlier ones, then goes on (%s, journal %s)', async (flushMode, syncJournal) => {
    const io = new ShuffledFileIO();
    const store = await openStore(dir.path, { fileIO: io, config: { writeBatchBytes: 1024, segmentSize: 64 * 1024, flushMode, syncJournal } });
    const topic = createTopic(store, 1);
    expect((await store.append(message(topic, 0, 'first'))).status).toBe(AppendStatus.PUT_OK);
    // Inline (ASYNC_FLUSH, journal): the first full batch is written at once, the rest together in the next turn.
    io.failWrite = io.logWrites + (flushMode === 'SYNC_FLUSH' && !syncJournal ? 3 : 2);
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => store.append(message(topic, 0, `b${i}`.padEnd(200, '.')))));
    const statuses = results.map((r) => r.status);
    const firstRefused = statuses.indexOf(AppendStatus.IO_ERROR);
    expect(firstRefused).toBeGreaterThan(0);
    expect(statuses.slice(0, firstRefused).every((s) => s === AppendStatus.PUT_OK)).toBe(true);
    expect(statuses.slice(firstRefused).every((s) => s === AppendStatus.IO_ERROR)).toBe(true);
    expect(store.maxOffset(topic, 0)).toBe(1 + firstRefused);
    const after = await store.append(message(topic, 0, 'after'));
    expect(after.status === AppendStatus.PUT_OK && after.queueOffset).toBe(1 + firstRefused);
    const expected = ['first', ...Array.from({ length: firstRefused }, (_, i) => `b${i}`), 'after'];
    expect((await readAll(store, topic)).map((b) => b.replace(/\.+$/, ''))).toEqual(expected);
    await store.close();
    const reopened = await openStore(dir.path, { config: { segmentSize: 64 * 1024 } });
    expect((await readAll(reopened, topic)).map((b) => b.replace(/\.+$/, ''))).toEqual(expected);
    await reopened.close();
  });

  it('starts a partly filled batch only while no write of the queue runs; later appends gather behind it', async () => {
    const io = new GatedFileIO();
    const store = await openStore(dir.path, { fileIO: io, config: { syncJournal: false } });
    const topic = createTopic(store, 1);
    expect((await store.append(message(topic, 0, 'first'))).status).toBe(AppendStatus.PUT_OK);
    const before = io.logWrites;
    io.hold();
    const pending: Promise<AppendResult>[] = [];
    // Each append in its own macrotask: without the limit, each would be a write of its own.
    for (let i = 0; i < 6; i++) {
      pending.push(store.append(message(topic, 0, `m${i}`)));
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(io.logWrites - before).toBe(1);
    io.release();
    const results = await Promise.all(pending);
    expect(results.map((r) => r.status === AppendStatus.PUT_OK && r.queueOffset)).toEqual([1, 2, 3, 4, 5, 6]);
    // m1..m5 went out together once the first write finished.
    expect(io.logWrites - before).toBe(2);
    expect((await readAll(store, topic)).slice(1)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
    await store.close();
  });
});

describe('pending bytes per queue', () => {
  it('refuses appends with STORE_BUSY while a queue holds maxPendingBytesPerQueue not yet written, and takes them again once the disk caught up', async () => {
    const io = new GatedFileIO();
    const store = await openStore(dir.path, { fileIO: io, config: { maxPendingBytesPerQueue: 4096, syncJournal: false } });
    const topic = createTopic(store, 2);
    expect((await store.append(message(topic, 0, 'first'))).status).toBe(AppendStatus.PUT_OK);
    io.hold();
    const body = 'x'.repeat(1000);
    const pending: Promise<AppendResult>[] = [];
    for (let i = 0; i < 3; i++) pending.push(store.append(message(topic, 0, body)));
    // About 3.3 KiB is waiting for the disk: one more record would pass 4 KiB, a batch too.
    const busy = await store.append(message(topic, 0, body));
    expect(busy.status).toBe(AppendStatus.STORE_BUSY);
    expect((busy as { reason: string }).reason).toMatch(/maxPendingBytesPerQueue 4096/);
    expect((await store.appendBatch([message(topic, 0, 'a'), message(topic, 0, body)])).map((r) => r.status)).toEqual([
      AppendStatus.STORE_BUSY,
      AppendStatus.STORE_BUSY,
    ]);
    // The bound is per queue: another queue of the topic is not held back by this one.
    const other = store.append(message(topic, 1, body));
    io.release();
    expect((await Promise.all(pending)).map((r) => r.status === AppendStatus.PUT_OK && r.queueOffset)).toEqual([1, 2, 3]);
    expect((await other).status).toBe(AppendStatus.PUT_OK);
    // Committed: nothing is pending any more, so appends go through again, even one larger than the bound.
    expect((await store.append(message(topic, 0, 'y'.repeat(6000)))).status).toBe(AppendStatus.PUT_OK);
    expect(store.maxOffset(topic, 0)).toBe(5);
    await store.close();
  });
});

describe('write pipeline, ASYNC_FLUSH inline writes', () => {
  const config = { flushMode: 'ASYNC_FLUSH' as const, segmentSize: 4096 };
  const immediate = () => new Promise((resolve) => setImmediate(resolve));

  it('writes an append to an open segment on the calling thread and resolves it before any I/O callback', async () => {
    const io = new InlineCountingFileIO();
    const store = await openStore(dir.path, { fileIO: io, config });
    const topic = createTopic(store, 1);
    // A new segment's first write stays on the threadpool (the file is created, the directory synced).
    expect((await store.append(message(topic, 0, 'first'))).status).toBe(AppendStatus.PUT_OK);
    expect(io.asyncLogWrites).toBe(1);
    await immediate();
    const inlineBefore = io.inlineLogWrites;
    let immediateRan = false;
    setImmediate(() => (immediateRan = true));
    const result = await store.append(message(topic, 0, 'second'));
    expect(result.status === AppendStatus.PUT_OK && result.queueOffset).toBe(1);
    expect(immediateRan).toBe(false);
    expect(io.inlineLogWrites).toBe(inlineBefore + 1);
    expect(io.asyncLogWrites).toBe(1);
    await immediate();
    // Appends of one turn still share one write.
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.append(message(topic, 0, `b${i}`))));
    expect(results.map((r) => r.status === AppendStatus.PUT_OK && r.queueOffset)).toEqual(Array.from({ length: 10 }, (_, i) => 2 + i));
    expect(io.inlineLogWrites).toBe(inlineBefore + 2);
    expect(io.asyncLogWrites).toBe(1);
    expect(await readAll(store, topic)).toEqual(['first', 'second', ...Array.from({ length: 10 }, (_, i) => `b${i}`)]);
    await store.close();
  });

  it('yields to the event loop between inline writes of a loop of awaited appends', async () => {
    const io = new InlineCountingFileIO();
    const store = await openStore(dir.path, { fileIO: io, config });
    const topic = createTopic(store, 1);
    await store.append(message(topic, 0, 'first'));
    await immediate();
    let immediates = 0;
    const ticker = () => {
      immediates += 1;
      if (immediates < 1000) setImmediate(ticker);
    };
    setImmediate(ticker);
    const before = io.inlineLogWrites;
    for (let i = 0; i < 10; i++) expect((await store.append(message(topic, 0, `l${i}`))).status).toBe(AppendStatus.PUT_OK);
    expect(io.inlineLogWrites - before).toBe(10);
    expect(immediates).toBeGreaterThanOrEqual(9);
    await store.close();
  });

  it('commits inline writes behind a write still in flight in order, and refuses them with it when it fails', async () => {
    const io = new InlineCountingFileIO();
    // Each record fills its batch, so it is written at once even while a write runs.
    const cfg = { ...config, segmentSize: 2048, writeBatchBytes: 100 };
    const store = await openStore(dir.path, { fileIO: io, config: cfg });
    const topic = createTopic(store, 1);
    const body = (name: string) => name.padEnd(100, '.');
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const expected = ['first'];
    expect((await store.append(message(topic, 0, body('first')))).status).toBe(AppendStatus.PUT_OK);
    for (const failing of [false, true]) {
      let max = store.maxOffset(topic, 0);
      // One append at a time, directory fsyncs held, until one rolls: its write goes to the threadpool, then waits for the fsync.
      let pending: Promise<AppendResult>;
      for (;;) {
        const writes = io.asyncLogWrites;
        io.dirGate.hold();
        pending = store.append(message(topic, 0, body(`r${max}`)));
        await sleep(20);
        if (io.asyncLogWrites > writes) break;
        io.dirGate.release();
        expect((await pending).status).toBe(AppendStatus.PUT_OK);
        expected.push(`r${max}`);
        max += 1;
      }
      io.failDirSync = failing;
      const inlineBefore = io.inlineLogWrites;
      const acked: number[] = [];
      const later = [0, 1, 2].map(async (k) => {
        await sleep(k * 5);
        const r = await store.append(message(topic, 0, body(`late${k}`)));
        if (r.status === AppendStatus.PUT_OK) acked.push(r.queueOffset);
        return r;
      });
      await sleep(40);
      // Written inline into the new segment, but not acknowledged before the append ahead of them.
      expect(io.inlineLogWrites).toBeGreaterThan(inlineBefore);
      expect(acked).toEqual([]);
      expect(store.maxOffset(topic, 0)).toBe(max);
      io.dirGate.release();
      const results = [await pending, ...(await Promise.all(later))];
      io.failDirSync = false;
      if (failing) {
        expect(results.map((r) => r.status)).toEqual(Array(4).fill(AppendStatus.IO_ERROR));
        expect(store.maxOffset(topic, 0)).toBe(max);
      } else {
        expect(results.map((r) => r.status === AppendStatus.PUT_OK && r.queueOffset)).toEqual([max, max + 1, max + 2, max + 3]);
        expect(acked).toEqual([max + 1, max + 2, max + 3]);
        expected.push(`r${max}`, 'late0', 'late1', 'late2');
      }
    }
    // Usable again; the files hold exactly what was acknowledged.
    expect((await store.append(message(topic, 0, body('after')))).status).toBe(AppendStatus.PUT_OK);
    expected.push('after');
    expect((await readAll(store, topic)).map((b) => b.replace(/\.+$/, ''))).toEqual(expected);
    await store.close();
    const reopened = await openStore(dir.path, { config: cfg });
    expect((await readAll(reopened, topic)).map((b) => b.replace(/\.+$/, ''))).toEqual(expected);
    await reopened.close();
  });
});
