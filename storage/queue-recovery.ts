/**
 * Bringing one queue directory back to a consistent state at open.
 *
 * After a clean shutdown the index and the checkpoint are trusted: only each segment's header and
 * last index entry are read, and the last record is verified. Otherwise (or when that check fails)
 * the log is scanned from the checkpointed (segment, position) forward. Every record must pass
 * `checkRecord`, its whole-record CRC, and carry the expected queue and physical offsets; the first
 * one that does not ends the log. A torn, zero-filled or corrupt tail is cut off there, index
 * entries that are missing or disagree with the log are rewritten, and only once that truncation
 * is durable are later segments (which would leave a gap in the offsets) deleted; a sealed segment
 * cut right after its last record, where the next one begins, keeps the segments after it. Running
 * it again after a crash half-way finds the same end, so recovery is idempotent.
 *
 * The key index is written behind the appends (see MessageStore); a checkpoint vouches only for
 * keys before it, so the keys of every record scanned here are indexed again (rows are idempotent).
 */
import { RecordPos, checkRecord, decodeRecord, storeTimestampPos, type DecodedRecord } from '../protocol/message-codec.js';
import { readInt64 } from '../protocol/message-id.js';
import { MessageConst, decodeProperties, type PropertyMap } from '../protocol/properties.js';
import { javaStringHashCode } from '../protocol/tag-filter.js';
import { crashPoint } from './crash-point.js';
import { INDEX_ENTRY_SIZE, decodeIndexEntry, encodeIndexEntry, type IndexEntry } from './consume-index.js';
import type { FileHandle, FileIO } from './file-io.js';
import type { DurableMark } from './flush-policy.js';
import { readRecordCrc, verifyRecordCrc } from './record-crc.js';
import type { KeyIndexEntry } from './types.js';
import {
  SEGMENT_HEADER_SIZE,
  Segment,
  decodeSegmentHeader,
  parseSegmentFileName,
  segmentFileStem,
  type SegmentOwner,
} from './segment.js';
import type { Logger } from 'pino';
import { join } from 'node:path';

/** Recomputes a record's index tagsCode when its index entry has to be rebuilt. */
export type TagsCodeOf = (topic: string, properties: string, storeTimestamp: number) => number;

/** The default: Java String.hashCode of TAGS, 0 when untagged (what the broker stores for normal topics). */
export const tagsCodeOfTags: TagsCodeOf = (_topic, properties) => {
  const tags = decodeProperties(properties)[MessageConst.TAGS];
  return tags ? javaStringHashCode(tags) : 0;
};

/** The keys a stored message is indexed under (the broker's rule: KEYS split on spaces, plus UNIQ_KEY). */
export type KeysOf = (properties: Readonly<PropertyMap>) => string[];

/** Re-indexing the keys of scanned records: how to find them and where they go. */
export interface KeyReindex {
  keysOf: KeysOf;
  add(entries: readonly KeyIndexEntry[]): void;
}

export interface ScanLimits {
  /** Largest plausible record; a bigger TOTALSIZE is corruption (and is never allocated). */
  maxRecordSize: number;
  tagsCodeOf: TagsCodeOf;
}

export interface SegmentScan {
  entries: IndexEntry[];
  /** File position after the last valid record. */
  end: number;
  /** Why the scan stopped before `fileEnd`, if it did. */
  stopReason?: string;
  /** The keys of the valid records, when the scan was given `keysOf`. */
  keys: KeyIndexEntry[];
}

const READ_CHUNK = 1024 * 1024;

/**
 * Validates records from `from` (queue offset `fromOffset`) up to `fileEnd`. `known` holds the
 * existing index entries from `fromOffset` on; an entry that matches its record keeps its tagsCode,
 * any other is recomputed. With `keysOf`, the keys of every valid record are collected too.
 */
export async function scanSegment(
  io: FileIO,
  log: FileHandle,
  segment: Segment,
  from: number,
  fromOffset: number,
  fileEnd: number,
  limits: ScanLimits,
  known?: Buffer,
  keysOf?: KeysOf,
): Promise<SegmentScan> {
  const entries: IndexEntry[] = [];
  const keys: KeyIndexEntry[] = [];
  let buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, Math.max(4, fileEnd - from)));
  let bufStart = from;
  let bufLength = 0;
  let position = from;
  let offset = fromOffset;
  const stop = (stopReason: string): SegmentScan => ({ entries, end: position, stopReason, keys });
  while (position < fileEnd) {
    let at = position - bufStart;
    if (bufLength - at < 4) {
      bufStart = position;
      at = 0;
      bufLength = await io.read(log, buf, 0, Math.min(buf.length, fileEnd - position), position);
      if (bufLength < 4) return stop(`torn record header at ${position}`);
    }
    const totalSize = buf.readInt32BE(at);
    if (totalSize <= 0 || totalSize > limits.maxRecordSize) return stop(`implausible record size ${totalSize} at ${position}`);
    if (position + totalSize > fileEnd) return stop(`record at ${position} (${totalSize} bytes) runs past the end of the file`);
    if (bufLength - at < totalSize) {
      if (totalSize > buf.length) buf = Buffer.allocUnsafe(totalSize);
      bufStart = position;
      at = 0;
      bufLength = await io.read(log, buf, 0, Math.min(buf.length, fileEnd - position), position);
      if (bufLength < totalSize) return stop(`short read of the record at ${position}`);
    }
    const check = checkRecord(buf, at, bufLength - at, limits.maxRecordSize);
    if (!check.ok) return stop(`record at ${position}: ${check.reason}`);
    if (!verifyRecordCrc(buf, at, totalSize)) return stop(`record at ${position}: whole-record CRC mismatch`);
    const queueOffset = readInt64(buf, at + RecordPos.QUEUE_OFFSET);
    if (queueOffset !== offset) return stop(`record at ${position} has queue offset ${queueOffset}, expected ${offset}`);
    const physicalOffset = readInt64(buf, at + RecordPos.PHYSICAL_OFFSET);
    if (physicalOffset !== segment.physBase + position) {
      return stop(`record at ${position} has physical offset ${physicalOffset}, expected ${segment.physBase + position}`);
    }
    const storeTimestamp = readInt64(buf, at + storeTimestampPos(buf.readInt32BE(at + RecordPos.SYSFLAG)));
    const crc = readRecordCrc(buf, at, totalSize)!;
    const i = entries.length;
    const existing = known && known.length >= (i + 1) * INDEX_ENTRY_SIZE ? decodeIndexEntry(known, i * INDEX_ENTRY_SIZE) : undefined;
    const record = keysOf ? decodeRecord(buf, at) : undefined;
    const tagsCode =
      existing && existing.position === position && existing.size === totalSize && existing.crc === crc
        ? existing.tagsCode
        : tagsCodeOfRecord(record ?? decodeRecord(buf, at), limits.tagsCodeOf);
    if (record) {
      for (const key of keysOf!(record.propertyMap)) keys.push({ topic: record.topic, key, physicalOffset, storeTimestamp });
    }
    entries.push({ position, size: totalSize, tagsCode, crc, storeTimestamp });
    position += totalSize;
    offset += 1;
  }
  return { entries, end: position, keys };
}

function tagsCodeOfRecord(record: DecodedRecord, tagsCodeOf: TagsCodeOf): number {
  return tagsCodeOf(record.topic, record.properties, record.storeTimestamp);
}

interface FoundSegment {
  segment: Segment;
  logSize: number;
  idxSize: number;
}

export interface RecoveredQueue {
  segments: Segment[];
  /** True when nothing needed repair (the queue can be treated as synced as it stands). */
  intact: boolean;
}

export interface RecoveryContext {
  io: FileIO;
  logger: Logger;
  limits: ScanLimits;
  /** Absent: keys are not re-indexed (a store opened without `keysOf`). */
  keyReindex?: KeyReindex;
}

/** Recovers one queue directory; see the file comment. Returns no segments for an empty queue. */
export async function recoverQueue(
  ctx: RecoveryContext,
  owner: SegmentOwner,
  dir: string,
  checkpoint: DurableMark | undefined,
  clean: boolean,
): Promise<RecoveredQueue> {
  const { io, logger } = ctx;
  const names = await io.readdir(dir);
  const bases = names.map(parseSegmentFileName).filter((b): b is number => b !== undefined).sort((a, b) => a - b);
  const logNames = new Set(bases.map((b) => `${segmentFileStem(b)}.idx`));
  for (const name of names) {
    // An index whose log is gone (retention deletes the log first) or a checkpoint temp file.
    if ((name.endsWith('.idx') && !logNames.has(name)) || name.endsWith('.tmp')) await io.unlink(join(dir, name));
  }
  const found: FoundSegment[] = [];
  for (let i = 0; i < bases.length; i++) {
    const path = join(dir, `${segmentFileStem(bases[i])}.log`);
    const header = await readHeader(io, path);
    if (typeof header === 'string' || header.baseOffset !== bases[i]) {
      // Only a segment whose creation did not complete can have no valid header: it and every later one go.
      logger.warn({ path, reason: typeof header === 'string' ? header : 'base offset differs from file name' }, 'segment without a valid header');
      await removeSegments(io, dir, bases.slice(i));
      break;
    }
    const segment = new Segment(owner, dir, header.baseOffset, header.physBase, header.physReserve);
    const logSize = (await io.stat(segment.logPath))?.size ?? 0;
    const idxSize = (await io.stat(segment.idxPath))?.size ?? 0;
    found.push({ segment, logSize, idxSize });
  }
  if (found.length === 0) return { segments: [], intact: true };
  if (clean) {
    if (await openClean(ctx, found)) return { segments: found.map((f) => f.segment), intact: true };
    // A clean shutdown whose files do not add up: the checkpoint is suspect too, so the whole
    // active segment is verified (earlier segments were sealed and synced before it was created).
    const active = found[found.length - 1].segment;
    checkpoint = { offset: active.baseOffset, segmentBase: active.baseOffset, position: SEGMENT_HEADER_SIZE };
  }
  return { segments: await recoverFromCheckpoint(ctx, found, checkpoint), intact: false };
}

async function readHeader(io: FileIO, path: string) {
  const handle = await io.open(path, 'read');
  try {
    const bytes = Buffer.alloc(SEGMENT_HEADER_SIZE);
    const got = await io.read(handle, bytes, 0, SEGMENT_HEADER_SIZE, 0);
    return decodeSegmentHeader(bytes.subarray(0, got));
  } finally {
    await io.close(handle);
  }
}

async function removeSegments(io: FileIO, dir: string, bases: number[]): Promise<void> {
  for (const base of bases) {
    await io.unlink(join(dir, `${segmentFileStem(base)}.log`));
    await io.unlink(join(dir, `${segmentFileStem(base)}.idx`));
  }
  if (bases.length > 0) await io.fsyncDir(dir);
}

async function readEntry(io: FileIO, handle: FileHandle, index: number): Promise<IndexEntry | undefined> {
  const bytes = Buffer.allocUnsafe(INDEX_ENTRY_SIZE);
  const got = await io.read(handle, bytes, 0, INDEX_ENTRY_SIZE, index * INDEX_ENTRY_SIZE);
  return got === INDEX_ENTRY_SIZE ? decodeIndexEntry(bytes, 0) : undefined;
}

/** Fills a segment's counters from its index, trusting the first `count` entries. */
async function loadFromIndex(io: FileIO, found: FoundSegment, count: number, logEnd: number): Promise<boolean> {
  const { segment } = found;
  segment.entryCount = count;
  segment.logEnd = logEnd;
  if (count === 0) return true;
  const idx = await io.open(segment.idxPath, 'read');
  try {
    const last = await readEntry(io, idx, count - 1);
    if (!last) return false;
    segment.newestStoreTimestamp = last.storeTimestamp;
    return true;
  } finally {
    await io.close(idx);
  }
}

/** The clean-shutdown fast path; false when anything does not add up. */
async function openClean(ctx: RecoveryContext, found: FoundSegment[]): Promise<boolean> {
  const { io } = ctx;
  for (let i = 0; i < found.length; i++) {
    const f = found[i];
    if (f.idxSize % INDEX_ENTRY_SIZE !== 0) return false;
    const count = f.idxSize / INDEX_ENTRY_SIZE;
    const next = found[i + 1];
    if (next && next.segment.baseOffset - f.segment.baseOffset !== count) return false;
    if (next) {
      if (!(await loadFromIndex(io, f, count, f.logSize))) return false;
      continue;
    }
    // The active segment: its last entry must end the log and point at a valid record.
    if (count === 0) {
      if (f.logSize !== SEGMENT_HEADER_SIZE) return false;
      return loadFromIndex(io, f, 0, SEGMENT_HEADER_SIZE);
    }
    const idx = await io.open(f.segment.idxPath, 'read');
    let last: IndexEntry | undefined;
    try {
      last = await readEntry(io, idx, count - 1);
    } finally {
      await io.close(idx);
    }
    if (!last || last.position + last.size !== f.logSize) return false;
    const log = await io.open(f.segment.logPath, 'read');
    try {
      const record = Buffer.allocUnsafe(last.size);
      if ((await io.read(log, record, 0, last.size, last.position)) !== last.size) return false;
      if (record.readInt32BE(0) !== last.size || !checkRecord(record, 0, last.size, ctx.limits.maxRecordSize).ok) return false;
      if (!verifyRecordCrc(record, 0, last.size) || readRecordCrc(record, 0, last.size) !== last.crc) return false;
    } finally {
      await io.close(log);
    }
    return loadFromIndex(io, f, count, f.logSize);
  }
  return true;
}

async function recoverFromCheckpoint(ctx: RecoveryContext, found: FoundSegment[], checkpoint: DurableMark | undefined): Promise<Segment[]> {
  const { io, logger } = ctx;
  // Where the scan starts: the checkpointed segment and position, if they still make sense.
  let startIndex = 0;
  let startPosition = SEGMENT_HEADER_SIZE;
  let startOffset = found[0].segment.baseOffset;
  if (checkpoint) {
    const i = found.findIndex((f) => f.segment.baseOffset === checkpoint.segmentBase);
    const f = found[i];
    const trusted = f ? checkpoint.offset - f.segment.baseOffset : -1;
    if (f && checkpoint.position <= f.logSize && trusted >= 0 && f.idxSize >= trusted * INDEX_ENTRY_SIZE) {
      startIndex = i;
      startPosition = checkpoint.position;
      startOffset = checkpoint.offset;
    }
  }
  // Segments before the start were complete and synced before the checkpoint was written.
  for (let i = 0; i < startIndex; i++) {
    const f = found[i];
    const count = found[i + 1].segment.baseOffset - f.segment.baseOffset;
    if (f.idxSize < count * INDEX_ENTRY_SIZE || !(await loadFromIndex(io, f, count, f.logSize))) {
      await rescanSegment(ctx, f, SEGMENT_HEADER_SIZE, f.segment.baseOffset);
    }
  }
  let expectedOffset = startOffset;
  for (let i = startIndex; i < found.length; i++) {
    const f = found[i];
    if (i > startIndex && f.segment.baseOffset !== expectedOffset) {
      logger.warn({ path: f.segment.logPath, expectedOffset }, 'segment leaves a gap in queue offsets; removing it and later ones');
      await removeSegments(io, f.segment.dir, found.slice(i).map((g) => g.segment.baseOffset));
      return found.slice(0, i).map((g) => g.segment);
    }
    const from = i === startIndex ? startPosition : SEGMENT_HEADER_SIZE;
    const fromOffset = i === startIndex ? startOffset : f.segment.baseOffset;
    const scan = await rescanSegment(ctx, f, from, fromOffset);
    expectedOffset = f.segment.baseOffset + f.segment.entryCount;
    if (scan.stopReason) {
      logger.warn({ path: f.segment.logPath, at: scan.end, reason: scan.stopReason }, 'log tail cut at the last valid record');
      // A sealed segment that holds every record up to the next segment's base offset only had
      // bytes after its records (zeros whose trim was lost): what follows leaves no gap.
      if (found[i + 1]?.segment.baseOffset === expectedOffset) continue;
      const later = found.slice(i + 1).map((g) => g.segment.baseOffset);
      // Later segments are removed only after the truncation above is durable.
      await removeSegments(io, f.segment.dir, later);
      return found.slice(0, i + 1).map((g) => g.segment);
    }
  }
  return found.map((f) => f.segment);
}

/**
 * Scans a segment from (`from`, `fromOffset`), trusting index entries before `fromOffset`, then cuts
 * the log at the last valid record and makes the index match it; both are synced before returning.
 */
async function rescanSegment(ctx: RecoveryContext, f: FoundSegment, from: number, fromOffset: number): Promise<SegmentScan> {
  const { io, limits } = ctx;
  const { segment } = f;
  const trusted = fromOffset - segment.baseOffset;
  const log = await io.open(segment.logPath, 'write');
  const idx = await io.open(segment.idxPath, 'create');
  try {
    const knownLength = Math.max(0, f.idxSize - trusted * INDEX_ENTRY_SIZE);
    const known = Buffer.alloc(knownLength);
    if (knownLength > 0) await io.read(idx, known, 0, knownLength, trusted * INDEX_ENTRY_SIZE);
    const scan = await scanSegment(io, log, segment, from, fromOffset, f.logSize, limits, known, ctx.keyReindex?.keysOf);
    const rebuilt = Buffer.alloc(scan.entries.length * INDEX_ENTRY_SIZE);
    scan.entries.forEach((e, i) => encodeIndexEntry(rebuilt, i * INDEX_ENTRY_SIZE, e.position, e.size, e.tagsCode, e.crc, e.storeTimestamp));
    const count = trusted + scan.entries.length;
    if (scan.end < f.logSize) {
      crashPoint('recovery');
      await io.truncate(log, scan.end);
      f.logSize = scan.end;
    }
    // Records that survived a process crash may still be only in the page cache: make them durable
    // before a checkpoint vouches for them.
    await io.datasync(log);
    if (!rebuilt.equals(known.subarray(0, rebuilt.length))) await io.writev(idx, [rebuilt], trusted * INDEX_ENTRY_SIZE);
    if (f.idxSize !== count * INDEX_ENTRY_SIZE) await io.truncate(idx, count * INDEX_ENTRY_SIZE);
    await io.datasync(idx);
    f.idxSize = count * INDEX_ENTRY_SIZE;
    segment.entryCount = count;
    segment.logEnd = scan.end;
    if (count > 0) {
      const last = scan.entries.length > 0 ? scan.entries[scan.entries.length - 1] : await readEntry(io, idx, count - 1);
      segment.newestStoreTimestamp = last?.storeTimestamp ?? 0;
    }
    // Only records that stay (the log is cut and synced above); before the next checkpoint is written.
    if (scan.keys.length > 0) ctx.keyReindex?.add(scan.keys);
    return scan;
  } finally {
    await io.close(log);
    await io.close(idx);
  }
}
