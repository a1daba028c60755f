/**
 * The SYNC_FLUSH journal: frame codec, group commit across queues, files recycled once the logs are
 * synced, replay after a power loss (idempotent, never resurrecting deleted topics or refused
 * writes).
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import zlib from 'node:zlib';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CrashSimFileIO } from '../../storage/crash-sim-file-io.js';
import { NodeFileIO, type FileHandle } from '../../storage/file-io.js';
import type { MessageStore } from '../../storage/message-store.js';
import { JOURNAL_DIR, decodeFrames, encodeFrameHeader, generationSeed, replayJournal, sealFrameHeader } from '../../storage/sync-journal.js';
import { AppendStatus } from '../../storage/types.js';
import { tempDir, waitFor } from '../helpers/common.js';
import { Gate, createTopic, message, openStore, readBodies } from './store-fixture.js';

/** A store in SYNC_FLUSH with the journal on; stores reopened after a crash leave it off, as replay does not depend on it. */
function openJournaled(dataDir: string, options: Parameters<typeof openStore>[1] = {}): Promise<MessageStore> {
  return openStore(dataDir, { ...options, config: { syncJournal: true, ...options.config } });
}

let dir: { path: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  dir = await tempDir('ferrymq-journal-');
});
afterEach(async () => {
  await dir.cleanup();
});


async function journalFiles(): Promise<string[]> {
  return (await readdir(join(dir.path, JOURNAL_DIR)).catch(() => [] as string[])).filter((n) => n.endsWith('.jnl')).sort();
}

/** A frame for the journal file of generation 1 (unless another is given). */
function frame(topic: string, queueId: number, segmentBase: number, position: number, payload: Buffer, generation = 1): Buffer {
  const header = encodeFrameHeader(topic, queueId, segmentBase, position, payload.length, zlib.crc32(payload));
  sealFrameHeader(header, generationSeed(generation));
  return Buffer.concat([header, payload]);
}

/** The generation of a journal file name. */
function generationOf(name: string): number {
  return Number(name.slice(0, 20));
}

describe('journal frame codec', () => {
  it('encodes the documented layout (golden bytes) and decodes it back', () => {
    const payload = Buffer.from('abc');
    const bytes = frame('T', 2, 0x1_0000_0005, 300, payload);
    // The header CRC starts from the CRC of the generation (1) as 8 big-endian bytes.
    const headerCrc = zlib.crc32(bytes.subarray(0, 38), zlib.crc32(Buffer.from('0000000000000001', 'hex'))).toString(16).padStart(8, '0');
    expect(bytes.toString('hex')).toBe(
      '464a524e' + // magic
        '0000002d' + // frame size 45: 37 fixed, 1 topic byte, 4 header CRC, 3 payload
        '00000002' + // queueId
        '0000000100000005' + // segment base
        '000000000000012c' + // position 300
        '00000003' + // payload size
        zlib.crc32(payload).toString(16).padStart(8, '0') +
        '01' + // topic length
        '54' + // "T"
        headerCrc +
        '616263',
    );
    expect(decodeFrames(bytes, 1)).toEqual({ frames: [{ topic: 'T', queueId: 2, segmentBase: 0x1_0000_0005, position: 300, payload }], validBytes: bytes.length });
  });

  it('stops at a frame written for another generation of the file (a recycled file\'s old frames)', () => {
    const fresh = frame('T', 0, 0, 32, Buffer.from('new'), 7);
    const stale = frame('T', 0, 0, 35, Buffer.from('old'), 5);
    expect(decodeFrames(Buffer.concat([fresh, stale]), 7)).toEqual({ frames: [expect.objectContaining({ payload: Buffer.from('new') })], validBytes: fresh.length });
    expect(decodeFrames(stale, 7).frames).toEqual([]);
  });

  it('decodes whole frames only: a file cut at every byte, a zero-filled tail, a flipped bit', () => {
    const one = frame('TopicA', 0, 0, 32, Buffer.alloc(100, 1));
    const two = frame('TopicB', 7, 4096, 4128, Buffer.alloc(60, 2));
    const file = Buffer.concat([one, two]);
    for (let cut = 0; cut <= file.length; cut++) {
      const { frames, validBytes } = decodeFrames(file.subarray(0, cut), 1);
      const expected = cut >= file.length ? 2 : cut >= one.length ? 1 : 0;
      expect(frames.length, `cut at ${cut}`).toBe(expected);
      expect(validBytes).toBe(expected === 2 ? file.length : expected === 1 ? one.length : 0);
    }
    expect(decodeFrames(Buffer.concat([one, Buffer.alloc(4096)]), 1).frames).toHaveLength(1);
    for (const at of [3, 10, 40, one.length - 1]) {
      const damaged = Buffer.from(file);
      damaged[at]! ^= 0x04;
      expect(decodeFrames(damaged, 1).frames, `bit flipped at ${at}`).toHaveLength(0);
    }
    // A forged size pointing past the file is refused without reading past it.
    const forged = Buffer.from(one);
    forged.writeUInt32BE(0xffff_fff0, 28);
    expect(decodeFrames(forged, 1).frames).toHaveLength(0);
  });
});

/** Counts journal writes and log syncs; can hold journal writes at a gate, and fail one after writing all of it. */
class CountingFileIO extends NodeFileIO {
  journalWrites = 0;
  logSyncs = 0;
  /** The number of the journal write to fail. */
  failWrite = 0;
  readonly journalGate = new Gate();

  override async datasync(handle: FileHandle): Promise<void> {
    if (handle.path.endsWith('.log')) this.logSyncs += 1;
    return super.datasync(handle);
  }

  override async writev(handle: FileHandle, buffers: readonly Buffer[], position: number): Promise<void> {
    if (handle.path.endsWith('.jnl')) {
      const n = ++this.journalWrites;
      await this.journalGate.pass();
      if (n === this.failWrite) {
        // The bytes reached the file, but the write reports failure (EIO at its sync).
        await super.writev(handle, buffers, position);
        throw Object.assign(new Error('EIO: injected journal failure'), { code: 'EIO' });
      }
    }
    return super.writev(handle, buffers, position);
  }
}

describe('SYNC_FLUSH journal', () => {
  it('makes the appends of many queues durable together: far fewer journal writes than queue batches', async () => {
    const io = new CountingFileIO();
    const store = await openJournaled(dir.path, { fileIO: io, config: { segmentSize: 1 << 20 } });
    const topic = createTopic(store, 16);
    await Promise.all(Array.from({ length: 16 }, (_, q) => store.append(message(topic, q, 'warm'))));
    const before = io.journalWrites;
    const results = await Promise.all(Array.from({ length: 512 }, (_, i) => store.append(message(topic, i % 16, `m${i}`))));
    expect(results.every((r) => r.status === AppendStatus.PUT_OK)).toBe(true);
    // Every round writes one frame per queue, all in one journal write.
    expect(io.journalWrites - before).toBeGreaterThan(0);
    expect(io.journalWrites - before).toBeLessThan(512 / 16);
    for (let q = 0; q < 16; q++) expect(await readBodies(store, topic, q)).toHaveLength(33);
    await store.close();
  });

  it('writes the frames of every queue appended to in one event-loop turn in one journal write', async () => {
    const io = new CountingFileIO();
    const store = await openJournaled(dir.path, { fileIO: io, config: { flushIntervalMs: 600_000, segmentSize: 1 << 20 } });
    const topic = createTopic(store, 8);
    for (let q = 0; q < 8; q++) expect((await store.append(message(topic, q, 'warm'))).status).toBe(AppendStatus.PUT_OK);
    for (let round = 0; round < 3; round++) {
      const before = io.journalWrites;
      const results = await Promise.all(Array.from({ length: 8 }, (_, q) => store.append(message(topic, q, `r${round}`))));
      expect(results.every((r) => r.status === AppendStatus.PUT_OK)).toBe(true);
      expect(io.journalWrites - before, `round ${round}`).toBe(1);
    }
    await store.close();
  });

  it('sends a queue writing alone through the journal too, and lets a large write sync its own log instead', async () => {
    const io = new CountingFileIO();
    const store = await openJournaled(dir.path, { fileIO: io, config: { flushIntervalMs: 600_000, segmentSize: 1 << 20 } });
    const topic = createTopic(store, 1);
    await store.append(message(topic, 0, 'warm'));
    const before = { journal: io.journalWrites, logSyncs: io.logSyncs };
    for (let i = 0; i < 20; i++) expect((await store.append(message(topic, 0, `alone${i}`))).status).toBe(AppendStatus.PUT_OK);
    expect(io.journalWrites - before.journal).toBe(20);
    expect(io.logSyncs).toBe(before.logSyncs);
    // A large write syncs its own log: a second copy would double its disk traffic.
    expect((await store.append(message(topic, 0, Buffer.alloc(40 * 1024, 'b')))).status).toBe(AppendStatus.PUT_OK);
    expect(io.journalWrites - before.journal).toBe(20);
    expect(io.logSyncs).toBe(before.logSyncs + 1);
    await store.close();
  });

  it('recycles a journal file once a flush round synced the logs: the next round writes into it; none left after a clean close', async () => {
    const io = new CountingFileIO();
    const store = await openJournaled(dir.path, { fileIO: io, config: { flushIntervalMs: 600_000 } });
    const topic = createTopic(store, 2);
    for (let q = 0; q < 2; q++) expect((await store.append(message(topic, q, 'warm'))).status).toBe(AppendStatus.PUT_OK);
    const rounds: { current: number; spare: number }[] = [];
    for (let round = 0; round < 4; round++) {
      const before = io.journalWrites;
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.append(message(topic, i % 2, `r${round}-${i}`))));
      expect(results.every((r) => r.status === AppendStatus.PUT_OK)).toBe(true);
      expect(io.journalWrites).toBeGreaterThan(before);
      await store.flushNow();
      // The file being written, and the retired one renamed to the next generation as the spare.
      const [current, spare, ...rest] = (await journalFiles()).map(generationOf);
      expect(rest).toEqual([]);
      expect(spare).toBe(current! + 1);
      rounds.push({ current: current!, spare: spare! });
    }
    // Each round switched to the spare the round before prepared.
    for (let r = 1; r < rounds.length; r++) expect(rounds[r]!.current).toBe(rounds[r - 1]!.spare);
    for (let q = 0; q < 2; q++) expect(await readBodies(store, topic, q)).toHaveLength(41);
    await store.close();
    expect(await journalFiles()).toEqual([]);
  });

  it('refuses the batches whose journal write fails, and never replays their frames; later appends go on', async () => {
    const io = new CountingFileIO();
    const store = await openJournaled(dir.path, { fileIO: io });
    const topic = createTopic(store, 3);
    for (let q = 0; q < 3; q++) expect((await store.append(message(topic, q, 'first'))).status).toBe(AppendStatus.PUT_OK);
    // Queue 2's frame holds the journal while queues 0 and 1 queue theirs: those two share the next write, which fails.
    io.journalGate.hold();
    const holdingWrite = io.journalWrites + 1;
    const holding = store.append(message(topic, 2, 'holding'));
    await waitFor(() => io.journalWrites === holdingWrite);
    const refused = [store.append(message(topic, 0, 'refused-a')), store.append(message(topic, 1, 'refused-b'))];
    // Their frames wait for the held write, and go together in the next.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const failingWrite = holdingWrite + 1;
    io.failWrite = failingWrite;
    io.journalGate.release();
    expect((await holding).status).toBe(AppendStatus.PUT_OK);
    expect((await Promise.all(refused)).map((r) => r.status)).toEqual([AppendStatus.IO_ERROR, AppendStatus.IO_ERROR]);
    expect(io.journalWrites).toBe(failingWrite);
    // The same size as queue 0's refused frame: queue 1's refused frame would follow it in the file, intact.
    const after = await store.append(message(topic, 0, 'after-a__'));
    expect(after.status === AppendStatus.PUT_OK && after.queueOffset).toBe(1);
    // A crash now: the journal as it is replays into the logs.
    const saved = await Promise.all((await journalFiles()).map(async (name) => [name, await readFile(join(dir.path, JOURNAL_DIR, name))] as const));
    await store.close();
    for (const [name, bytes] of saved) await writeFile(join(dir.path, JOURNAL_DIR, name), bytes);
    const reopened = await openStore(dir.path);
    expect(await readBodies(reopened, topic, 0)).toEqual(['first', 'after-a__']);
    expect(await readBodies(reopened, topic, 1)).toEqual(['first']);
    expect(await readBodies(reopened, topic, 2)).toEqual(['first', 'holding']);
    await reopened.close();
  });

  it.each([
    { rounds: 0, what: 'no flush round ran: the logs hold nothing synced beyond their first write' },
    { rounds: 3, what: 'flush rounds ran: the last frames went into a recycled file, behind which its old frames remain' },
  ])('replays acknowledged appends of many queues after a power loss that kept only the journal ($what)', async ({ rounds }) => {
    const io = new CrashSimFileIO();
    const store = await openJournaled(dir.path, { fileIO: io, config: { flushIntervalMs: 600_000, segmentSize: 2048 } });
    const topic = createTopic(store, 8);
    const acked: { queueId: number; offset: number; body: string }[] = [];
    for (let phase = 0; phase <= rounds; phase++) {
      if (phase > 0) await store.flushNow();
      await Promise.all(
        Array.from({ length: 32 }, async (_, w) => {
          for (let i = 0; i < 20 / (rounds + 1); i++) {
            const body = `p${phase}-w${w}-${i}`.padEnd(50 + ((w * 13 + i) % 40), '.');
            const result = await store.append(message(topic, w % 8, body));
            if (result.status === AppendStatus.PUT_OK) acked.push({ queueId: w % 8, offset: result.queueOffset, body });
          }
        }),
      );
    }
    expect(acked).toHaveLength(rounds === 0 ? 640 : 32 * 5 * (rounds + 1));
    if (rounds > 0) expect(await journalFiles()).toHaveLength(2);
    await io.crash({ mode: 'drop' });
    await store.close();
    // The replay is idempotent: a crash during it leaves the journal to replay again.
    const saved = await Promise.all((await journalFiles()).map(async (name) => [name, await readFile(join(dir.path, JOURNAL_DIR, name))] as const));
    expect(saved.length).toBeGreaterThan(0);
    for (let open = 0; open < 2; open++) {
      if (open === 1) for (const [name, bytes] of saved) await writeFile(join(dir.path, JOURNAL_DIR, name), bytes);
      const reopened = await openStore(dir.path, { config: { segmentSize: 2048 } });
      for (let q = 0; q < 8; q++) {
        const bodies = await readBodies(reopened, topic, q);
        expect(bodies).toHaveLength(acked.length / 8);
        for (const a of acked) if (a.queueId === q) expect(bodies[a.offset]).toBe(a.body);
      }
      await reopened.close();
    }
  });

  it('keeps every acknowledged append of a single queue after a power loss', async () => {
    const io = new CrashSimFileIO();
    const store = await openJournaled(dir.path, { fileIO: io, config: { flushIntervalMs: 600_000, segmentSize: 4096 } });
    const topic = createTopic(store, 1);
    const acked: { offset: number; body: string }[] = [];
    await Promise.all(
      Array.from({ length: 16 }, async (_, w) => {
        for (let i = 0; i < 20; i++) {
          const body = `w${w}-${i}`.padEnd(40 + ((w * 7 + i) % 30), '.');
          const result = await store.append(message(topic, 0, body));
          if (result.status === AppendStatus.PUT_OK) acked.push({ offset: result.queueOffset, body });
        }
      }),
    );
    expect(acked).toHaveLength(320);
    await io.crash({ mode: 'drop' });
    await store.close();
    const reopened = await openStore(dir.path, { config: { segmentSize: 4096 } });
    const bodies = await readBodies(reopened, topic, 0);
    expect(bodies).toHaveLength(320);
    for (const a of acked) expect(bodies[a.offset]).toBe(a.body);
    await reopened.close();
  });

  it('does not bring back a deleted topic, nor its frames into a topic made again under its name', async () => {
    const io = new CountingFileIO();
    const store = await openJournaled(dir.path, { fileIO: io });
    const topic = createTopic(store, 1);
    const journalBefore = io.journalWrites;
    for (let i = 0; i < 5; i++) await store.append(message(topic, 0, `old${i}`));
    expect(io.journalWrites - journalBefore).toBe(5);
    await store.deleteTopic(topic);
    // Its frames went with it (a flush round released them), so none can replay into a new topic.
    for (const name of await journalFiles()) {
      expect(decodeFrames(await readFile(join(dir.path, JOURNAL_DIR, name)), generationOf(name)).frames.filter((f) => f.topic === topic)).toEqual([]);
    }
    createTopic(store, 1, topic);
    expect((await store.append(message(topic, 0, 'new0'))).status).toBe(AppendStatus.PUT_OK);
    // Crash: keep the journal as it is now.
    const saved = await Promise.all((await journalFiles()).map(async (name) => [name, await readFile(join(dir.path, JOURNAL_DIR, name))] as const));
    await store.close();
    for (const [name, bytes] of saved) await writeFile(join(dir.path, JOURNAL_DIR, name), bytes);
    const reopened = await openStore(dir.path);
    expect(await readBodies(reopened, topic, 0)).toEqual(['new0']);
    await reopened.close();
  });

  it('skips frames whose queue directory or segment is gone', async () => {
    const io = new NodeFileIO();
    const journalDir = join(dir.path, JOURNAL_DIR);
    await io.mkdir(join(dir.path, 'queues', 'Kept', '0'));
    await io.mkdir(journalDir);
    await writeFile(join(dir.path, 'queues', 'Kept', '0', `${'5'.padStart(20, '0')}.log`), Buffer.alloc(0));
    const file = Buffer.concat([
      frame('Gone', 0, 0, 0, Buffer.from('never')),
      frame('Kept', 0, 0, 0, Buffer.from('older segment: deleted by retention')),
      frame('Kept', 0, 5, 0, Buffer.from('kept')),
      frame('../../etc', 0, 0, 0, Buffer.from('path trick')),
    ]);
    await writeFile(join(journalDir, `${'1'.padStart(20, '0')}.jnl`), file);
    expect(await replayJournal(io, dir.path, pino({ level: 'silent' }))).toBe(1);
    expect((await readFile(join(dir.path, 'queues', 'Kept', '0', `${'5'.padStart(20, '0')}.log`))).toString()).toBe('kept');
    expect(await readdir(join(dir.path, 'queues'))).toEqual(['Kept']);
    expect(await journalFiles()).toEqual([]);
  });
});
