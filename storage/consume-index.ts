/**
 * The per-segment consume index: a headerless file of fixed 32-byte entries beside each `.log`.
 * Entry i of the segment with base queue offset B describes queue offset B + i, so any offset is
 * found with one positioned read and tags can be filtered without touching bodies. It is always
 * rebuildable from the log, so it is written without fsync.
 *
 *   offset  size  field
 *   0       8     position of the record in the segment file (int64 BE)
 *   8       4     record size in bytes (uint32 BE)
 *   12      8     tagsCode (int64 BE): Java String.hashCode of TAGS, or a delay record's due time
 *   20      4     whole-record CRC32 (uint32 BE), the value of the record's __CRC32# property
 *   24      8     store timestamp, ms (int64 BE)
 */
import { putInt32, putInt64 } from '../protocol/int-codec.js';
import { readInt64 } from '../protocol/message-id.js';

export const INDEX_ENTRY_SIZE = 32;

export interface IndexEntry {
  position: number;
  size: number;
  tagsCode: number;
  crc: number;
  storeTimestamp: number;
}

export function encodeIndexEntry(
  target: Buffer,
  at: number,
  position: number,
  size: number,
  tagsCode: number,
  crc: number,
  storeTimestamp: number,
): void {
  if (!(at >= 0 && at + INDEX_ENTRY_SIZE <= target.length)) throw new RangeError(`index entry at ${at} does not fit a ${target.length}-byte buffer`);
  putInt64(target, at, position);
  putInt32(target, at + 8, size);
  putInt64(target, at + 12, tagsCode);
  putInt32(target, at + 20, crc);
  putInt64(target, at + 24, storeTimestamp);
}

export function decodeIndexEntry(source: Buffer, at: number): IndexEntry {
  return {
    position: indexPosition(source, at),
    size: indexSize(source, at),
    tagsCode: indexTagsCode(source, at),
    crc: indexCrc(source, at),
    storeTimestamp: readInt64(source, at + 24),
  };
}

/** Single fields of the entry at `at`, for scans that read a few fields of many entries without building objects. */
export function indexPosition(source: Buffer, at: number): number {
  return readInt64(source, at);
}

export function indexSize(source: Buffer, at: number): number {
  return source.readUInt32BE(at + 8);
}

export function indexTagsCode(source: Buffer, at: number): number {
  return readInt64(source, at + 12);
}

export function indexCrc(source: Buffer, at: number): number {
  return source.readUInt32BE(at + 20);
}
