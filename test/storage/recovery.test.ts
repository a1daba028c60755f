import { readFile, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeRecords } from '../../protocol/message-codec.js';
import { NodeFileIO, type FileHandle } from '../../storage/file-io.js';
import { CLEAN_SHUTDOWN_FILE, type MessageStore } from '../../storage/message-store.js';
import { AppendStatus, GetMessageStatus } from '../../storage/types.js';
import { tempDir } from '../helpers/common.js';
import { TINY_SEGMENT, createTopic, message, openStore } from './store-fixture.js';

let dir: { path: string; cleanup: () => Promise<void> };

beforeEach(async () => {
  dir = await tempDir('ferrymq-recovery-');
});
afterEach(async () => {
  await dir.cleanup();
});

async function fill(store: MessageStore, topic: string, queueId: number, count: number, bodySize = 40, first = 0): Promise<number[]> {
  const physical: number[] = [];
  for (let i = first; i < first + count; i++) {
    const result = await store.append(message(topic, queueId, `${i}:`.padEnd(bodySize, 'x'), { tags: i % 2 ? 'odd' : 'even' }));
    if (result.status !== AppendStatus.PUT_OK) throw new Error(result.reason);
    physical.push(result.physicalOffset);
  }
  return physical;
}

async function bodies(store: MessageStore, topic: string, queueId: number): Promise<string[]> {
  const out: string[] = [];
  let offset = store.minOffset(topic, queueId);
  for (;;) {
    const read = await store.read(topic, queueId, offset, 32, 1 << 20);
    if (read.status !== GetMessageStatus.FOUND) return out;
    out.push(...decodeRecords(Buffer.concat(read.buffers)).map((r) => r.body.toString().split(':')[0]));
    offset = read.nextBeginOffset;
  }
}

function queueDir(topic: string, queueId: number): string {
  return join(dir.path, 'queues', topic, String(queueId));
}

async function segmentFiles(topic: string, queueId: number, ext: 'log' | 'idx'): Promise<string[]> {
  const names = (await readdir(queueDir(topic, queueId))).filter((n) => n.endsWith(`.${ext}`)).sort();
  return names.map((n) => join(queueDir(topic, queueId), n));
}

const range = (n: number) => Array.from({ length: n }, (_, i) => String(i));

describe('segments and reopen', () => {
  it('rolls segments at the configured size, reads across boundaries, and keeps offsets dense after reopen', async () => {
    let store = await openStore(dir.path);
    const topic = createTopic(store);
    const physical = await fill(store, topic, 0, 120);
    const logs = await segmentFiles(topic, 0, 'log');
    expect(logs.length).toBeGreaterThan(3);
    for (const log of logs) expect((await stat(log)).size).toBeLessThanOrEqual(TINY_SEGMENT);
    // The file names are the base offsets of dense, consecutive segments.
    expect(logs[0].endsWith('00000000000000000000.log')).toBe(true);
    expect(await bodies(store, topic, 0)).toEqual(range(120));
    await store.close();

    store = await openStore(dir.path);
    expect(store.maxOffset(topic, 0)).toBe(120);
    expect(await bodies(store, topic, 0)).toEqual(range(120));
    for (const [i, p] of physical.entries()) expect((await store.lookup(p))?.queueOffset).toBe(i);
    const more = await store.append(message(topic, 0, '120:'));
    expect(more.status === 'PUT_OK' && more.queueOffset).toBe(120);
    expect(new Set([...physical, (more as { physicalOffset: number }).physicalOffset]).size).toBe(121);
    await store.close();
  });

  it('a record that exactly fills a segment and the next one starts a new segment', async () => {
    let store = await openStore(dir.path, { config: { segmentSize: 1024 } });
    const topic = createTopic(store);
    await fill(store, topic, 0, 30, 200);
    const logs = await segmentFiles(topic, 0, 'log');
    expect(logs.length).toBeGreaterThan(5);
    // A record bigger than a whole segment still goes in (alone in its own segment).
    const big = await store.append(message(topic, 0, '30:'.padEnd(3000, 'y')));
    expect(big.status).toBe(AppendStatus.PUT_OK);
    expect(await bodies(store, topic, 0)).toEqual(range(31));
    await store.close();
    store = await openStore(dir.path, { config: { segmentSize: 1024 } });
    expect(await bodies(store, topic, 0)).toEqual(range(31));
    await store.close();
  });
});

describe('crash recovery', () => {
  /** Writes `count` records to queue 0, closes cleanly, and returns the topic and the last log file. */
  async function prepare(count: number, options: { checkpointAt?: number; syncJournal?: boolean } = {}) {
    const store = await openStore(dir.path, { config: { syncJournal: options.syncJournal ?? true } });
    const topic = createTopic(store);
    if (options.checkpointAt !== undefined) {
      await fill(store, topic, 0, options.checkpointAt);
      // The checkpoint vouches for synced records only (with the journal, the logs sync per flush round).
      await store.flushNow();
      await store.runCheckpoint();
    }
    await fill(store, topic, 0, count - (options.checkpointAt ?? 0), 40, options.checkpointAt ?? 0);
    if (options.checkpointAt !== undefined) {
      // Simulate a crash: no close, so neither a checkpoint nor the clean marker is written.
      return { topic, store };
    }
    await store.close();
    return { topic, store: undefined };
  }

  it('cuts the last record at every byte offset and recovers the records before it', async () => {
    const { topic } = await prepare(6);
    const [log] = (await segmentFiles(topic, 0, 'log')).slice(-1);
    const original = await readFile(log);
    const idxPath = log.replace(/\.log$/, '.idx');
    const originalIdx = await readFile(idxPath);
    const lastSize = originalIdx.readUInt32BE(originalIdx.length - 32 + 8);
    const lastStart = original.length - lastSize;
    const checkpoint = await readFile(join(dir.path, 'checkpoint'));
    for (let cut = lastStart; cut <= original.length; cut++) {
      await writeFile(log, original.subarray(0, cut));
      await writeFile(idxPath, originalIdx);
      await writeFile(join(dir.path, 'checkpoint'), checkpoint);
      // Alternate: crash (no marker) and "clean" marker with a damaged tail; both must detect it.
      if (cut % 2 === 0) await rm(join(dir.path, CLEAN_SHUTDOWN_FILE), { force: true });
      else await writeFile(join(dir.path, CLEAN_SHUTDOWN_FILE), '');
      const store = await openStore(dir.path);
      const expected = cut === original.length ? 6 : 5;
      expect(store.maxOffset(topic, 0), `cut at ${cut}`).toBe(expected);
      expect(await bodies(store, topic, 0)).toEqual(range(expected));
      expect((await stat(log)).size).toBe(cut === original.length ? original.length : lastStart);
      const next = await store.append(message(topic, 0, `${expected}:`));
      expect(next.status === 'PUT_OK' && next.queueOffset).toBe(expected);
      await store.close();
    }
  }, 60_000);

  it('scans only from the checkpoint after a crash and keeps every synced record', async () => {
    const { topic, store } = await prepare(50, { checkpointAt: 20 });
    const reopened = await openStore(dir.path, { takeOverOwnLock: true });
    expect(reopened.maxOffset(topic, 0)).toBe(50);
    expect(await bodies(reopened, topic, 0)).toEqual(range(50));
    await reopened.close();
    await store!.close().catch(() => undefined);
  });

  /** Opens the store counting the bytes it reads from the queue logs; returns the store, that count, and the log size. */
  async function openCounting(topic: string) {
    let total = 0;
    for (const f of await segmentFiles(topic, 0, 'log')) total += (await stat(f)).size;
    const counter = { bytesRead: 0 };
    const io = new NodeFileIO();
    const counting = Object.assign(Object.create(io) as NodeFileIO, {
      read: (handle: FileHandle, target: Buffer, at: number, length: number, position: number) => {
        if (handle.path.endsWith('.log')) counter.bytesRead += length;
        return io.read(handle, target, at, length, position);
      },
    });
    const store = await openStore(dir.path, { fileIO: counting, takeOverOwnLock: true });
    return { store, bytesRead: counter.bytesRead, total };
  }

  it('reads only the unflushed tail after a crash, not the whole log', async () => {
    const { topic, store: crashed } = await prepare(400, { checkpointAt: 390 });
    const { store, bytesRead, total } = await openCounting(topic);
    expect(store.maxOffset(topic, 0)).toBe(400);
    expect(bytesRead).toBeLessThan(total / 5);
    await store.close();
    await crashed!.close().catch(() => undefined);
  });

  it('opens fast after a clean shutdown: headers, last index entries and the last record only', async () => {
    const { topic } = await prepare(400);
    const { store, bytesRead, total } = await openCounting(topic);
    expect(store.maxOffset(topic, 0)).toBe(400);
    expect(bytesRead).toBeLessThan(total / 20);
    await store.close();
  });

  it('detects a flipped bit in the last record after a clean shutdown and cuts the log there', async () => {
    const { topic } = await prepare(8);
    const [log] = (await segmentFiles(topic, 0, 'log')).slice(-1);
    const bytes = await readFile(log);
    bytes[bytes.length - 30] ^= 0x10; // inside the last record
    await writeFile(log, bytes);
    const store = await openStore(dir.path);
    expect(store.maxOffset(topic, 0)).toBe(7);
    expect(await bodies(store, topic, 0)).toEqual(range(7));
    await store.close();
  });

  it('detects a flipped bit in a record written after the checkpoint', async () => {
    // Without the journal: its replay would write the journaled records back over the damage.
    const { topic, store: crashed } = await prepare(12, { checkpointAt: 4, syncJournal: false });
    const [log] = (await segmentFiles(topic, 0, 'log')).slice(-1);
    const idx = await readFile(log.replace(/\.log$/, '.idx'));
    const bytes = await readFile(log);
    // The index may not hold entries past the checkpoint yet (they live in memory): walk the log.
    const sixth = 32 + decodeRecords(bytes.subarray(32)).slice(0, 6).reduce((sum, r) => sum + r.totalSize, 0);
    for (const at of [sixth + 4, sixth + 20, sixth + 60, sixth + 100]) {
      const copy = Buffer.from(bytes);
      copy[at] ^= 0x01; // magic, queue offset, store time, body/properties: each is caught
      await writeFile(log, copy);
      await writeFile(log.replace(/\.log$/, '.idx'), idx);
      const store = await openStore(dir.path, { takeOverOwnLock: true });
      expect(store.maxOffset(topic, 0), `bit flipped at ${at - sixth}`).toBe(6);
      expect(await bodies(store, topic, 0)).toEqual(range(6));
      await store.close();
      await rm(join(dir.path, CLEAN_SHUTDOWN_FILE));
      await writeFile(join(dir.path, 'checkpoint'), JSON.stringify({ version: 1, queues: [] }));
    }
    await crashed!.close().catch(() => undefined);
  });

  it('drops a zero-filled tail', async () => {
    const { topic } = await prepare(5);
    const [log] = (await segmentFiles(topic, 0, 'log')).slice(-1);
    const size = (await stat(log)).size;
    await truncate(log, size + 3000);
    await rm(join(dir.path, CLEAN_SHUTDOWN_FILE));
    const store = await openStore(dir.path);
    expect(store.maxOffset(topic, 0)).toBe(5);
    expect((await stat(log)).size).toBe(size);
    expect(await bodies(store, topic, 0)).toEqual(range(5));
    await store.close();
  });

  it('rejects a forged TOTALSIZE (huge, or past the end of the file) without allocating it', async () => {
    for (const forged of [0x7fffffff, 'past-eof'] as const) {
      const { topic } = await prepare(4);
      const [log] = (await segmentFiles(topic, 0, 'log')).slice(-1);
      const bytes = await readFile(log);
      const idx = await readFile(log.replace(/\.log$/, '.idx'));
      const lastPos = Number(idx.readBigInt64BE(idx.length - 32));
      bytes.writeInt32BE(forged === 'past-eof' ? bytes.length - lastPos + 100 : forged, lastPos);
      await writeFile(log, bytes);
      // The forged record precedes the checkpoint: only a crash-open without one scans it.
      await writeFile(join(dir.path, 'checkpoint'), JSON.stringify({ version: 1, queues: [] }));
      await rm(join(dir.path, CLEAN_SHUTDOWN_FILE));
      const before = process.memoryUsage().arrayBuffers;
      const store = await openStore(dir.path);
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
      expect(store.maxOffset(topic, 0)).toBe(3);
      expect(await bodies(store, topic, 0)).toEqual(range(3));
      await store.close();
      await rm(join(dir.path, 'queues', topic), { recursive: true });
    }
  });

  it('rebuilds a deleted index equal to the original, for sealed and active segments', async () => {
    const { topic } = await prepare(60);
    const idxFiles = await segmentFiles(topic, 0, 'idx');
    expect(idxFiles.length).toBeGreaterThan(1);
    const originals = await Promise.all(idxFiles.map((f) => readFile(f)));
    for (const f of idxFiles) await rm(f);
    const store = await openStore(dir.path);
    expect(store.maxOffset(topic, 0)).toBe(60);
    await store.close();
    for (const [i, f] of idxFiles.entries()) expect((await readFile(f)).equals(originals[i])).toBe(true);
  });

  it('rebuilds a corrupted index entry when a read finds it does not match the log', async () => {
    const { topic } = await prepare(60);
    const idxFiles = await segmentFiles(topic, 0, 'idx');
    const original = await readFile(idxFiles[0]);
    const damaged = Buffer.from(original);
    damaged.fill(0xab, 64, 96); // entry 2
    await writeFile(idxFiles[0], damaged);
    const store = await openStore(dir.path); // clean open trusts the index...
    expect(await bodies(store, topic, 0)).toEqual(range(60)); // ...and the read repairs it
    await store.close();
    expect((await readFile(idxFiles[0])).equals(original)).toBe(true);
  });

  it('rebuilds index entries after the checkpoint at open after a crash', async () => {
    const { topic } = await prepare(10);
    const [idx] = (await segmentFiles(topic, 0, 'idx')).slice(-1);
    const original = await readFile(idx);
    const damaged = Buffer.from(original);
    damaged.fill(0, damaged.length - 64);
    await writeFile(idx, damaged);
    await writeFile(join(dir.path, 'checkpoint'), JSON.stringify({ version: 1, queues: [] }));
    await rm(join(dir.path, CLEAN_SHUTDOWN_FILE));
    const store = await openStore(dir.path);
    expect(store.maxOffset(topic, 0)).toBe(10);
    await store.close();
    expect((await readFile(idx)).equals(original)).toBe(true);
  });

  it('removes a later segment that would leave a gap, after cutting the earlier one', async () => {
    const { topic } = await prepare(80);
    const logs = await segmentFiles(topic, 0, 'log');
    const victim = logs[logs.length - 3];
    const size = (await stat(victim)).size;
    await truncate(victim, size - 10); // tear the tail of a middle segment
    await writeFile(join(dir.path, 'checkpoint'), JSON.stringify({ version: 1, queues: [] }));
    await rm(join(dir.path, CLEAN_SHUTDOWN_FILE));
    const store = await openStore(dir.path);
    const remaining = await segmentFiles(topic, 0, 'log');
    expect(remaining).toEqual(logs.slice(0, -2));
    const max = store.maxOffset(topic, 0);
    expect(await bodies(store, topic, 0)).toEqual(range(max));
    const next = await store.append(message(topic, 0, `${max}:`));
    expect(next.status === 'PUT_OK' && next.queueOffset).toBe(max);
    await store.close();
    // Recovery is idempotent: a second crash-open changes nothing.
    await rm(join(dir.path, CLEAN_SHUTDOWN_FILE));
    const again = await openStore(dir.path);
    expect(again.maxOffset(topic, 0)).toBe(max + 1);
    await again.close();
  });

  // A sealed segment whose records are all there but whose file goes on past them (zeros left by a
  // file system that kept a size change and not the bytes, or by zero-filled space whose trim was
  // lost): the next segment starts right where its records end, so nothing is missing.
  for (const clean of [false, true]) {
    it(`keeps later segments when a sealed segment's records are followed by zeros (${clean ? 'clean shutdown' : 'after a crash'})`, async () => {
      const { topic } = await prepare(80);
      const logs = await segmentFiles(topic, 0, 'log');
      const sealed = logs[logs.length - 3];
      const size = (await stat(sealed)).size;
      await truncate(sealed, size + 3000);
      if (!clean) {
        await writeFile(join(dir.path, 'checkpoint'), JSON.stringify({ version: 1, queues: [] }));
        await rm(join(dir.path, CLEAN_SHUTDOWN_FILE));
      }
      const store = await openStore(dir.path);
      expect(await segmentFiles(topic, 0, 'log')).toEqual(logs);
      expect(store.maxOffset(topic, 0)).toBe(80);
      expect(await bodies(store, topic, 0)).toEqual(range(80));
      // After a crash the scan cuts what follows the records; a clean open trusts the index and reads no sealed log.
      if (!clean) expect((await stat(sealed)).size).toBe(size);
      const next = await store.append(message(topic, 0, '80:'));
      expect(next.status === 'PUT_OK' && next.queueOffset).toBe(80);
      await store.close();
    });
  }

  it('copes with a garbled checkpoint file by scanning whole queues', async () => {
    const { topic } = await prepare(30);
    await writeFile(join(dir.path, 'checkpoint'), '{"version":1,"queues":[["');
    await rm(join(dir.path, CLEAN_SHUTDOWN_FILE));
    const store = await openStore(dir.path);
    expect(await bodies(store, topic, 0)).toEqual(range(30));
    await store.close();
    expect(JSON.parse(await readFile(join(dir.path, 'checkpoint'), 'utf8')).queues).toHaveLength(1);
  });

  it('copes with a lost checkpoint file', async () => {
    const { topic } = await prepare(30);
    await rm(join(dir.path, 'checkpoint'));
    await rm(join(dir.path, CLEAN_SHUTDOWN_FILE));
    const store = await openStore(dir.path);
    expect(await bodies(store, topic, 0)).toEqual(range(30));
    await store.close();
  });
});
