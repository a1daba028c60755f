/**
 * One segment of a queue log: `<base>.log` (a 32-byte header, then stored records back to back)
 * and `<base>.idx` (its consume index). The file name is the 20-digit base queue offset.
 *
 * Segment header (32 bytes, big-endian):
 *   0   4  magic 0x464D5153 ("FMQS")
 *   4   4  format version (1)
 *   8   8  base queue offset
 *   16  8  physBase: the store-wide physical offset of file position 0
 *   24  4  physical-offset space reserved for this segment (bytes)
 *   28  4  CRC32 of bytes 0..27
 * A record at file position p has physical offset physBase + p.
 */
import zlib from 'node:zlib';
import { join } from 'node:path';
import type { FileHandle, FileIO } from './file-io.js';
import { readInt64, writeInt64 } from '../protocol/message-id.js';
import { INDEX_ENTRY_SIZE } from './consume-index.js';

export const SEGMENT_HEADER_SIZE = 32;
const SEGMENT_MAGIC = 0x464d5153;
const SEGMENT_VERSION = 1;

export interface SegmentHeader {
  baseOffset: number;
  physBase: number;
  physReserve: number;
}

export function encodeSegmentHeader(header: SegmentHeader, target: Buffer = Buffer.alloc(SEGMENT_HEADER_SIZE), at = 0): Buffer {
  target.writeUInt32BE(SEGMENT_MAGIC, at);
  target.writeUInt32BE(SEGMENT_VERSION, at + 4);
  writeInt64(target, header.baseOffset, at + 8);
  writeInt64(target, header.physBase, at + 16);
  target.writeUInt32BE(header.physReserve, at + 24);
  target.writeUInt32BE(zlib.crc32(target.subarray(at, at + 28)), at + 28);
  return target;
}

/** The header, or the reason it is not a valid one. */
export function decodeSegmentHeader(source: Buffer): SegmentHeader | string {
  if (source.length < SEGMENT_HEADER_SIZE) return `header is ${source.length} bytes`;
  if (source.readUInt32BE(0) !== SEGMENT_MAGIC) return 'bad segment magic';
  if (source.readUInt32BE(28) !== zlib.crc32(source.subarray(0, 28))) return 'segment header CRC mismatch';
  if (source.readUInt32BE(4) !== SEGMENT_VERSION) return `unknown segment version ${source.readUInt32BE(4)}`;
  return { baseOffset: readInt64(source, 8), physBase: readInt64(source, 16), physReserve: source.readUInt32BE(24) };
}

export function segmentFileStem(baseOffset: number): string {
  return String(baseOffset).padStart(20, '0');
}

/** Parses `<20 digits>.log`; undefined for any other name. */
export function parseSegmentFileName(name: string): number | undefined {
  const match = /^(\d{20})\.log$/.exec(name);
  return match ? Number(match[1]) : undefined;
}

export interface SegmentOwner {
  readonly topic: string;
  readonly queueId: number;
}

export class Segment {
  readonly logPath: string;
  readonly idxPath: string;
  /** Entries readable (written, and synced in SYNC_FLUSH mode). */
  entryCount = 0;
  /** File position just past the last readable record. */
  logEnd = SEGMENT_HEADER_SIZE;
  /** Store time of the newest readable record (0 when empty); retention judges the segment by it. */
  newestStoreTimestamp = 0;
  /**
   * Index entries [0, indexFileCount) are in the .idx file; the readable ones after them,
   * [indexFileCount, entryCount), are only in `indexTail` (one Buffer per committed batch) until
   * they are written out in bulk: the append path pays no index write.
   */
  indexFileCount = 0;
  readonly indexTail: Buffer[] = [];
  /** The write of `indexTail` to the file in progress, if any. */
  indexTailFlush: Promise<void> | undefined;
  /** Open handles, managed by `SegmentHandleCache`. */
  handles: { log: FileHandle; idx: FileHandle } | undefined;
  opening: Promise<{ log: FileHandle; idx: FileHandle }> | undefined;
  pins = 0;
  deleted = false;
  /**
   * SYNC_FLUSH: the log file is allocated (written, or zero-filled ahead of the appends) below this
   * position, so an O_DSYNC write there changes no file size and costs no metadata commit.
   */
  zeroedEnd = 0;
  /** The zero-fill in progress from `zeroingFrom`: writes reaching past that position wait for it. */
  zeroing: Promise<void> | undefined;
  zeroingFrom = 0;
  /** Set when the segment is sealed by a roll: the end of its last record. */
  sealedEnd: number | undefined;

  constructor(
    readonly owner: SegmentOwner,
    readonly dir: string,
    readonly baseOffset: number,
    readonly physBase: number,
    readonly physReserve: number,
  ) {
    const stem = segmentFileStem(baseOffset);
    this.logPath = join(dir, `${stem}.log`);
    this.idxPath = join(dir, `${stem}.idx`);
  }

  /**
   * Copies `count` entries starting at entry `from` (>= indexFileCount) from the tail into `target`.
   * The tail holds exactly [indexFileCount, entryCount) (both change together with it), and reads
   * are mostly of the newest entries, so the first chunk is looked for from the end: at a steady
   * rate of small batches the tail holds thousands of chunks.
   */
  copyIndexTail(target: Buffer, targetAt: number, from: number, count: number): void {
    const tail = this.indexTail;
    const skip = (from - this.indexFileCount) * INDEX_ENTRY_SIZE;
    let i = tail.length - 1;
    let chunkStart = (this.entryCount - this.indexFileCount) * INDEX_ENTRY_SIZE - (tail[i]?.length ?? 0);
    while (i > 0 && chunkStart > skip) chunkStart -= tail[--i].length;
    let offset = skip - chunkStart;
    let left = count * INDEX_ENTRY_SIZE;
    let at = targetAt;
    for (; i < tail.length && left > 0; i++) {
      const chunk = tail[i];
      const n = Math.min(chunk.length - offset, left);
      chunk.copy(target, at, offset, offset + n);
      at += n;
      left -= n;
      offset = 0;
    }
  }

  /** Bytes on disk for retention (log + index). */
  get sizeBytes(): number {
    return this.logEnd + this.entryCount * INDEX_ENTRY_SIZE;
  }
}

/**
 * An LRU of open segment file pairs, bounded by `maxOpen`. A pinned segment (I/O in progress) is
 * never closed; the bound can be exceeded while everything is pinned, and is restored on release.
 */
export class SegmentHandleCache {
  // Map iteration order is insertion order: re-inserting on use makes the first entry the LRU.
  private readonly open = new Map<Segment, true>();

  constructor(
    private readonly io: FileIO,
    private readonly maxOpen: number,
    /** Open logs O_DSYNC (SYNC_FLUSH): their writes are durable when they return. */
    private readonly dsyncLogs = false,
  ) {}

  get openCount(): number {
    return this.open.size;
  }

  /** Opens (or creates, when `create`) the segment's files and pins them until `release`. */
  async acquire(segment: Segment, create = false): Promise<{ log: FileHandle; idx: FileHandle }> {
    segment.pins += 1;
    try {
      if (segment.handles) {
        this.open.delete(segment);
        this.open.set(segment, true);
        return segment.handles;
      }
      if (!segment.opening) {
        segment.opening = this.openFiles(segment, create).finally(() => (segment.opening = undefined));
      }
      const handles = await segment.opening;
      return handles;
    } catch (err) {
      segment.pins -= 1;
      throw err;
    }
  }

  /**
   * Pins and returns the segment's files if they are open (an LRU hit), without waiting; undefined
   * (and nothing pinned) when they would have to be opened.
   */
  acquireOpen(segment: Segment): { log: FileHandle; idx: FileHandle } | undefined {
    const handles = segment.handles;
    if (!handles) return undefined;
    segment.pins += 1;
    this.open.delete(segment);
    this.open.set(segment, true);
    return handles;
  }

  release(segment: Segment): void {
    segment.pins -= 1;
    if (this.open.size > this.maxOpen) void this.evict();
  }

  /** Closes the segment's files (before deleting them); waits for nothing, so call it unpinned. */
  async close(segment: Segment): Promise<void> {
    if (segment.opening) await segment.opening.catch(() => undefined);
    const handles = segment.handles;
    if (!handles) return;
    segment.handles = undefined;
    this.open.delete(segment);
    await Promise.all([this.io.close(handles.log), this.io.close(handles.idx)]);
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.open.keys()].map((segment) => this.close(segment).catch(() => undefined)));
  }

  private async openFiles(segment: Segment, create: boolean): Promise<{ log: FileHandle; idx: FileHandle }> {
    const mode = create ? 'create' : 'write';
    const log = await this.io.open(segment.logPath, mode, { dsync: this.dsyncLogs });
    let idx: FileHandle;
    try {
      // A lost index is rebuilt by recovery; at runtime it is created as needed.
      idx = await this.io.open(segment.idxPath, 'create');
    } catch (err) {
      await this.io.close(log).catch(() => undefined);
      throw err;
    }
    segment.handles = { log, idx };
    this.open.set(segment, true);
    if (this.open.size > this.maxOpen) void this.evict();
    return segment.handles;
  }

  private async evict(): Promise<void> {
    for (const segment of this.open.keys()) {
      if (this.open.size <= this.maxOpen) return;
      if (segment.pins > 0 || !segment.handles) continue;
      await this.close(segment).catch(() => undefined);
    }
  }
}
