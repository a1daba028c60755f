/**
 * The SYNC_FLUSH journal: one durable write per round for every queue that wrote in it.
 *
 * Per-queue logs make a durable commit cost one O_DSYNC write per touched file, and each costs the
 * kernel a fixed ~100 µs or more whatever its size (0.4-0.6 ms each when four files sync at once on
 * the dev box). With the journal a queue writes its batch into its log's page cache (as ASYNC_FLUSH
 * does); then, when the batch is under 32 KiB, it hands the same bytes to the journal, which writes
 * the frames handed to it in one event-loop turn, and those handed in while its previous write ran,
 * in one O_DSYNC `writev`; the batches are acknowledged when that returns. A larger batch fdatasyncs
 * its own log instead (a second copy would double its disk traffic).
 * The interval flush syncs the logs as in ASYNC_FLUSH; a journal file is retired once every log
 * written before the next file was started is synced. Recovery replays the frames of the remaining
 * files into the logs before the logs are scanned (`replayJournal`).
 *
 * A retired file is not deleted but renamed to the next generation and kept as the spare the next
 * round switches to: its blocks are allocated, so an O_DSYNC write into it commits no size change
 * (as the logs' zero-fill ahead), and the switch needs no file creation or directory sync on the
 * write path. Its old frames stay behind the new ones; the header CRC starts from the file's
 * generation, so they fail the check and decoding stops there.
 *
 * Files: `journal/<generation, 20 digits>.jnl`, each written from position 0 at increasing
 * positions, opened O_DSYNC. A frame (integers big-endian):
 *
 *   0  magic        u32  0x464a524e ("FJRN")
 *   4  frameSize    u32  header + topic + header CRC + payload
 *   8  queueId      u32
 *  12  segmentBase  i64  base offset of the segment (names its log file)
 *  20  position     i64  file position of the payload in that log
 *  28  payloadSize  u32
 *  32  payloadCrc   u32  zlib CRC32 of the payload
 *  36  topicLength  u8
 *  37  topic        topicLength bytes (a valid topic name: ASCII)
 *  ..  headerCrc    u32  zlib CRC32 of bytes 0 .. 37 + topicLength, started from `generationSeed`
 *  ..  payload      payloadSize bytes: exactly the bytes written to the log at `position`
 */
import zlib from 'node:zlib';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { getInt32, getInt64, putInt32, putInt64 } from '../protocol/int-codec.js';
import type { FileHandle, FileIO } from './file-io.js';
import { parseSegmentFileName, segmentFileStem } from './segment.js';
import { validateTopicName } from './topic-name.js';

export const JOURNAL_DIR = 'journal';
const MAGIC = 0x464a524e;
const FIXED_HEADER = 37;
const HEADER_CRC = 4;
/** Most bytes, and buffers (IOV_MAX is 1024), one journal write takes. */
const MAX_WRITE_BYTES = 4 * 1024 * 1024;
const MAX_WRITE_BUFFERS = 1000;

export interface JournalFrame {
  topic: string;
  queueId: number;
  segmentBase: number;
  position: number;
  payload: Buffer;
}

/** Where a frame's header CRC starts in the file of `generation`: the zlib CRC32 of the generation as an i64. */
export function generationSeed(generation: number): number {
  const bytes = Buffer.allocUnsafe(8);
  putInt64(bytes, 0, generation);
  return zlib.crc32(bytes);
}

/**
 * The header of a frame whose payload is `payloadSize` bytes with CRC `payloadCrc`. Its CRC is left
 * to `sealFrameHeader`, once the file it goes to is known.
 */
export function encodeFrameHeader(topic: string, queueId: number, segmentBase: number, position: number, payloadSize: number, payloadCrc: number): Buffer {
  const header = Buffer.allocUnsafe(FIXED_HEADER + topic.length + HEADER_CRC);
  putInt32(header, 0, MAGIC);
  putInt32(header, 4, header.length + payloadSize);
  putInt32(header, 8, queueId);
  putInt64(header, 12, segmentBase);
  putInt64(header, 20, position);
  putInt32(header, 28, payloadSize);
  putInt32(header, 32, payloadCrc);
  header[36] = topic.length;
  header.write(topic, FIXED_HEADER, 'latin1');
  return header;
}

/** Writes the header CRC of a frame going to the file with generation seed `seed`. */
export function sealFrameHeader(header: Buffer, seed: number): void {
  const end = header.length - HEADER_CRC;
  putInt32(header, end, zlib.crc32(header.subarray(0, end), seed));
}

/**
 * The complete, intact frames at the start of `file` (the bytes of the journal file of
 * `generation`), in order. Decoding stops at the first frame that is torn, zero-filled, left from
 * the file's earlier generation or fails a check: frames are written in order, so nothing after it
 * was acknowledged. Payloads are views into `file`.
 */
export function decodeFrames(file: Buffer, generation: number): { frames: JournalFrame[]; validBytes: number } {
  const seed = generationSeed(generation);
  const frames: JournalFrame[] = [];
  let at = 0;
  while (file.length - at >= FIXED_HEADER + HEADER_CRC) {
    if (getInt32(file, at) !== MAGIC) break;
    const topicLength = file[at + 36]!;
    const headerEnd = at + FIXED_HEADER + topicLength;
    if (headerEnd + HEADER_CRC > file.length) break;
    if (getInt32(file, headerEnd) >>> 0 !== zlib.crc32(file.subarray(at, headerEnd), seed)) break;
    const frameSize = getInt32(file, at + 4) >>> 0;
    const payloadSize = getInt32(file, at + 28) >>> 0;
    const payloadAt = headerEnd + HEADER_CRC;
    if (frameSize !== payloadAt - at + payloadSize || at + frameSize > file.length) break;
    const payload = file.subarray(payloadAt, payloadAt + payloadSize);
    if (zlib.crc32(payload) !== getInt32(file, at + 32) >>> 0) break;
    frames.push({
      topic: file.toString('latin1', at + FIXED_HEADER, headerEnd),
      queueId: getInt32(file, at + 8) >>> 0,
      segmentBase: getInt64(file, at + 12),
      position: getInt64(file, at + 20),
      payload,
    });
    at += frameSize;
  }
  return { frames, validBytes: at };
}

function journalFileName(generation: number): string {
  return `${segmentFileStem(generation)}.jnl`;
}

/** Generations of the journal files in `dir`, oldest first. */
async function journalGenerations(io: FileIO, dir: string): Promise<number[]> {
  if (!(await io.stat(dir))) return [];
  const out: number[] = [];
  for (const name of await io.readdir(dir)) {
    const match = /^(\d{20})\.jnl$/.exec(name);
    if (match) out.push(Number(match[1]));
  }
  return out.sort((a, b) => a - b);
}

/**
 * Writes the frames of every journal file under `dataDir` into the queue logs they belong to,
 * syncs those logs, then deletes the journal files; returns the number of frames applied. Frames
 * replay the bytes a log already had or should have had, so replaying twice (a crash during
 * recovery) is harmless. A frame is skipped when its queue directory is gone (topic deleted) or
 * its segment is older than the queue's oldest segment file (deleted by retention).
 */
export async function replayJournal(io: FileIO, dataDir: string, logger: Logger): Promise<number> {
  const dir = join(dataDir, JOURNAL_DIR);
  const generations = await journalGenerations(io, dir);
  if (generations.length === 0) return 0;
  const open = new Map<string, FileHandle>();
  const createdIn = new Set<string>();
  const oldestSegment = new Map<string, number | undefined>();
  let applied = 0;
  try {
    for (const generation of generations) {
      const file = await readWhole(io, join(dir, journalFileName(generation)));
      const { frames, validBytes } = decodeFrames(file, generation);
      // What follows the last frame was never acknowledged: a torn write, or a recycled file's old frames.
      logger.info({ generation, frames: frames.length, validBytes, size: file.length }, 'replaying journal file');
      for (const frame of frames) {
        if (validateTopicName(frame.topic) !== undefined) continue;
        const queueDir = join(dataDir, 'queues', frame.topic, String(frame.queueId));
        if (!oldestSegment.has(queueDir)) oldestSegment.set(queueDir, await oldestSegmentBase(io, queueDir));
        const oldest = oldestSegment.get(queueDir);
        if (oldest === undefined || frame.segmentBase < oldest) continue;
        const path = join(queueDir, `${segmentFileStem(frame.segmentBase)}.log`);
        let handle = open.get(path);
        if (!handle) {
          if (!(await io.stat(path))) createdIn.add(queueDir);
          handle = await io.open(path, 'create');
          open.set(path, handle);
        }
        await io.writev(handle, [frame.payload], frame.position);
        applied += 1;
      }
    }
    for (const handle of open.values()) await io.datasync(handle);
    for (const queueDir of createdIn) await io.fsyncDir(queueDir);
  } finally {
    for (const handle of open.values()) await io.close(handle);
  }
  for (const generation of generations) await io.unlink(join(dir, journalFileName(generation)));
  await io.fsyncDir(dir);
  logger.info({ files: generations.length, frames: applied }, 'journal replayed into the queue logs');
  return applied;
}

/** Base offset of the queue's oldest segment log: undefined when the queue directory is gone, 0 when it holds none yet. */
async function oldestSegmentBase(io: FileIO, queueDir: string): Promise<number | undefined> {
  if (!(await io.stat(queueDir))) return undefined;
  let oldest: number | undefined;
  for (const name of await io.readdir(queueDir)) {
    const base = parseSegmentFileName(name);
    if (base !== undefined && (oldest === undefined || base < oldest)) oldest = base;
  }
  // A queue directory is made durable before its first write: with no segment yet, any frame is its first.
  return oldest ?? 0;
}

async function readWhole(io: FileIO, path: string): Promise<Buffer> {
  const size = (await io.stat(path))?.size ?? 0;
  const handle = await io.open(path, 'read');
  try {
    const file = Buffer.allocUnsafe(size);
    let got = 0;
    while (got < size) {
      const n = await io.read(handle, file, got, size - got, got);
      if (n === 0) break;
      got += n;
    }
    return file.subarray(0, got);
  } finally {
    await io.close(handle);
  }
}

interface PendingFrame {
  /** `buffers[0]` is the frame header, sealed when its write starts. */
  buffers: Buffer[];
  bytes: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface JournalFile {
  generation: number;
  /** `generationSeed(generation)`. */
  seed: number;
  handle: FileHandle;
  /** Bytes acknowledged durable: the next write goes here (a failed write is overwritten). */
  position: number;
}

/**
 * Appends frames with group commit: the frames handed in during one event-loop turn go out in one
 * O_DSYNC write, and while a write runs the frames handed in wait and go out together in the next.
 * `rotate` starts a new file between writes; `release` recycles (or deletes) the files the
 * interval flush has made redundant.
 */
export class SyncJournal {
  private readonly pending: PendingFrame[] = [];
  private writing = false;
  private switching = false;
  private readonly rotations: { resolve: (generation: number) => void; reject: (err: unknown) => void }[] = [];
  /** Files no longer written to, oldest first, until released. */
  private readonly retired: JournalFile[] = [];
  private closed = false;
  /** A failed write could not be cut back: nothing more may be appended after it. */
  private broken: unknown;
  /** A retired file renamed to the generation after the current one, ready for the next switch. */
  private spare: JournalFile | undefined;
  private turn: Promise<void> | undefined;

  private constructor(
    private readonly io: FileIO,
    private readonly dir: string,
    private current: JournalFile,
  ) {}

  /** Opens a new journal file after any left by an earlier run (replay them first: see `replayJournal`). */
  static async open(io: FileIO, dataDir: string): Promise<SyncJournal> {
    const dir = join(dataDir, JOURNAL_DIR);
    await io.mkdir(dir);
    await io.fsyncDir(dataDir);
    const generations = await journalGenerations(io, dir);
    // Not reusing a number: a store abandoned in this directory (a test's simulated crash) may still close its files.
    const first = await createFile(io, dir, Math.max((generations[generations.length - 1] ?? -1) + 1, Date.now()));
    return new SyncJournal(io, dir, first);
  }

  /**
   * Resolves after the I/O callbacks of this event-loop turn: the queues that wait for it and then
   * `append` share one write.
   */
  turnEnd(): Promise<void> {
    return (this.turn ??= new Promise<void>((resolve) => {
      setImmediate(() => {
        this.turn = undefined;
        resolve();
      });
    }));
  }

  /** Resolves once `header` and `payload` are durable in the journal. */
  append(header: Buffer, payload: readonly Buffer[], payloadBytes: number): Promise<void> {
    if (this.closed) return Promise.reject(new Error('journal is closed'));
    if (this.broken) return Promise.reject(this.broken);
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ buffers: [header, ...payload], bytes: header.length + payloadBytes, resolve, reject });
      // The queues released by one `turnEnd` append in the microtasks that follow: one write for all.
      if (this.pending.length === 1) queueMicrotask(() => this.writeNext());
    });
  }

  /**
   * Frames appended after this resolves go to a new file. Resolves with the newest generation
   * closed to new frames: every frame in it or an older one was appended before this was called.
   */
  rotate(): Promise<number> {
    if (this.broken) return Promise.reject(this.broken);
    // Nothing written to the current file: the older ones are all there is to release.
    if (this.current.position === 0 && !this.writing) return Promise.resolve(this.current.generation - 1);
    return new Promise<number>((resolve, reject) => {
      this.rotations.push({ resolve, reject });
      this.switchFile();
    });
  }

  /**
   * Retires the files of generations up to `generation` (the logs they cover are synced): the
   * first becomes the spare, renamed to the generation after the current file, the rest are
   * deleted. The spare is offered only once its new name is durable: a frame acknowledged in a
   * file that could come back under its old name would fail its CRC, and be lost. Called after the
   * round's `rotate` (rounds run one after another), so the current file does not change meanwhile
   * and the spare stays the generation after it until the next `rotate` takes it.
   */
  async release(generation: number): Promise<void> {
    let changed = false;
    let spare: JournalFile | undefined;
    while (this.retired.length > 0 && this.retired[0]!.generation <= generation) {
      const file = this.retired.shift()!;
      changed = true;
      if (spare || this.spare || this.closed || this.broken) {
        await this.discard(file);
        continue;
      }
      await this.io.close(file.handle);
      const next = this.current.generation + 1;
      const path = join(this.dir, journalFileName(next));
      await this.io.rename(file.handle.path, path);
      spare = { generation: next, seed: generationSeed(next), handle: await this.io.open(path, 'write', { dsync: true }), position: 0 };
    }
    if (changed) await this.io.fsyncDir(this.dir);
    if (spare) this.spare = spare;
  }

  /** After the last flush: every log is synced, so no journal file is needed. */
  async close(): Promise<void> {
    this.closed = true;
    await this.release(Number.MAX_SAFE_INTEGER);
    if (this.spare) await this.discard(this.spare);
    this.spare = undefined;
    await this.discard(this.current);
    await this.io.fsyncDir(this.dir);
  }

  private async discard(file: JournalFile): Promise<void> {
    await this.io.close(file.handle);
    await this.io.unlink(file.handle.path);
  }

  private writeNext(): void {
    if (this.writing || this.switching) return;
    if (this.rotations.length > 0) return this.switchFile();
    if (this.pending.length === 0) return;
    const batch: PendingFrame[] = [];
    const buffers: Buffer[] = [];
    let bytes = 0;
    for (const frame of this.pending) {
      if (batch.length > 0 && (bytes + frame.bytes > MAX_WRITE_BYTES || buffers.length + frame.buffers.length > MAX_WRITE_BUFFERS)) break;
      batch.push(frame);
      for (const buffer of frame.buffers) buffers.push(buffer);
      bytes += frame.bytes;
    }
    this.pending.splice(0, batch.length);
    this.writing = true;
    const file = this.current;
    for (const frame of batch) sealFrameHeader(frame.buffers[0]!, file.seed);
    this.io.writev(file.handle, buffers, file.position).then(
      () => {
        file.position += bytes;
        this.writing = false;
        for (const frame of batch) frame.resolve();
        this.writeNext();
      },
      (err: unknown) => {
        for (const frame of batch) frame.reject(err);
        // The failed write may have left whole frames past the last good byte. They were refused and
        // their queues cut back (the positions are reused), so they must never replay.
        this.io.truncate(file.handle, file.position).then(
          () => this.io.datasync(file.handle),
        ).then(
          () => {
            this.writing = false;
            this.writeNext();
          },
          (repairErr: unknown) => {
            this.broken = repairErr;
            this.writing = false;
            for (const frame of this.pending.splice(0)) frame.reject(repairErr);
            for (const waiter of this.rotations.splice(0)) waiter.reject(repairErr);
          },
        );
      },
    );
  }

  private switchFile(): void {
    if (this.writing || this.switching) return;
    const waiters = this.rotations.splice(0);
    const old = this.current;
    const spare = this.spare;
    if (spare) {
      this.spare = undefined;
      this.current = spare;
      this.retired.push(old);
      for (const waiter of waiters) waiter.resolve(old.generation);
      return this.writeNext();
    }
    this.switching = true;
    createFile(this.io, this.dir, old.generation + 1).then(
      (next) => {
        this.current = next;
        this.retired.push(old);
        this.switching = false;
        for (const waiter of waiters) waiter.resolve(old.generation);
        this.writeNext();
      },
      (err: unknown) => {
        this.switching = false;
        for (const waiter of waiters) waiter.reject(err);
        this.writeNext();
      },
    );
  }
}

async function createFile(io: FileIO, dir: string, generation: number): Promise<JournalFile> {
  const handle = await io.open(join(dir, journalFileName(generation)), 'create', { dsync: true });
  // Frames in it are acknowledged: its directory entry must be durable first.
  await io.fsyncDir(dir);
  return { generation, seed: generationSeed(generation), handle, position: 0 };
}
