/**
 * SYNC_FLUSH without the journal (`syncJournal: false`) keeps the active segment's log zero-filled
 * ahead of the appends (an O_DSYNC write then changes no file size). The zeros never cover a record, and they are cut when a segment is sealed
 * and on close, so recovery still finds every sealed segment ending at its last record.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CrashSimFileIO } from '../../storage/crash-sim-file-io.js';
import { NodeFileIO, type FileHandle } from '../../storage/file-io.js';
import { AppendStatus } from '../../storage/types.js';
import { tempDir } from '../helpers/common.js';
import { Gate, createTopic, message, openStore, readBodies } from './store-fixture.js';

let dir: { path: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  dir = await tempDir('ferrymq-zero-fill-');
});
afterEach(async () => {
  await dir.cleanup();
});


/** Log files of queue 0 with their sizes, oldest first. */
async function logSizes(topic: string): Promise<number[]> {
  const queueDir = join(dir.path, 'queues', topic, '0');
  const names = (await readdir(queueDir)).filter((n) => n.endsWith('.log')).sort();
  return Promise.all(names.map(async (n) => (await stat(join(queueDir, n))).size));
}

/** Where the records of a log file end: the sum of their sizes after the 32-byte header. */
async function recordsEnd(topic: string, index: number): Promise<number> {
  const queueDir = join(dir.path, 'queues', topic, '0');
  const name = (await readdir(queueDir)).filter((n) => n.endsWith('.log')).sort()[index]!;
  const bytes = await readFile(join(queueDir, name));
  let at = 32;
  while (at + 4 <= bytes.length && bytes.readInt32BE(at) > 0) at += bytes.readInt32BE(at);
  return at;
}

/** Holds zero-fill writes (one all-zero buffer) at a gate. */
class GatedZeroFillIO extends NodeFileIO {
  zeroFills = 0;
  readonly gate = new Gate();

  override async writev(handle: FileHandle, buffers: readonly Buffer[], position: number): Promise<void> {
    if (handle.path.endsWith('.log') && buffers.length === 1 && buffers[0].every((b) => b === 0)) {
      this.zeroFills += 1;
      await this.gate.pass();
    }
    return super.writev(handle, buffers, position);
  }
}

describe('SYNC_FLUSH zero-fill ahead of the appends', () => {
  it('keeps the active log allocated past its records, and cuts the zeros on close', async () => {
    const store = await openStore(dir.path, { config: { segmentSize: 1 << 20, syncJournal: false } });
    const topic = createTopic(store, 1);
    for (let i = 0; i < 20; i++) expect((await store.append(message(topic, 0, `m${i}`))).status).toBe(AppendStatus.PUT_OK);
    const [size] = await logSizes(topic);
    const end = await recordsEnd(topic, 0);
    expect(size).toBeGreaterThan(end);
    await store.close();
    expect(await logSizes(topic)).toEqual([end]);
    // The clean open finds the records where the file ends; appends go on after them.
    const reopened = await openStore(dir.path, { config: { segmentSize: 1 << 20, syncJournal: false } });
    expect((await reopened.append(message(topic, 0, 'after'))).status === AppendStatus.PUT_OK).toBe(true);
    expect(await readBodies(reopened, topic)).toEqual([...Array.from({ length: 20 }, (_, i) => `m${i}`), 'after']);
    await reopened.close();
  });

  it('lets an append into the range being zero-filled wait for the fill, so zeros never cover a record', async () => {
    const io = new GatedZeroFillIO();
    const store = await openStore(dir.path, { fileIO: io, config: { segmentSize: 1 << 20, syncJournal: false } });
    const topic = createTopic(store, 1);
    await store.append(message(topic, 0, 'first'));
    io.gate.hold();
    // Starts the fill just past this record; the next appends land inside it.
    await store.append(message(topic, 0, 'starts-fill'));
    expect(io.zeroFills).toBe(1);
    const waiting = Promise.all(Array.from({ length: 5 }, (_, i) => store.append(message(topic, 0, `inside${i}`))));
    await new Promise((resolve) => setTimeout(resolve, 20));
    io.gate.release();
    expect((await waiting).every((r) => r.status === AppendStatus.PUT_OK)).toBe(true);
    await store.close();
    const reopened = await openStore(dir.path, { config: { segmentSize: 1 << 20, syncJournal: false } });
    expect(await readBodies(reopened, topic)).toEqual(['first', 'starts-fill', 'inside0', 'inside1', 'inside2', 'inside3', 'inside4']);
    await reopened.close();
  });

  it('seals a segment without its zeros, so a power loss after many rolls keeps every acknowledged append', async () => {
    const io = new CrashSimFileIO();
    const store = await openStore(dir.path, { fileIO: io, config: { segmentSize: 2048, syncJournal: false } });
    const topic = createTopic(store, 1);
    const acked: string[] = [];
    for (let i = 0; i < 120; i++) {
      const body = `r${i}`.padEnd(60 + (i % 50), '.');
      if ((await store.append(message(topic, 0, body))).status === AppendStatus.PUT_OK) acked.push(body);
    }
    const sizes = await logSizes(topic);
    expect(sizes.length).toBeGreaterThan(4);
    for (let i = 0; i < sizes.length - 1; i++) expect(sizes[i], `sealed segment ${i}`).toBe(await recordsEnd(topic, i));
    expect(sizes[sizes.length - 1]).toBeGreaterThan(await recordsEnd(topic, sizes.length - 1));
    await io.crash({ mode: 'drop' });
    await store.close();
    const reopened = await openStore(dir.path, { config: { segmentSize: 2048, syncJournal: false } });
    expect(await readBodies(reopened, topic)).toEqual(acked);
    await reopened.close();
  });
});
