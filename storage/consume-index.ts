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
import { readInt64, writeInt64 } from '../protocol/message-id.js';

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
  writeInt64(target, position, at);
  target.writeUInt32BE(size, at + 8);
  writeInt64(target, tagsCode, at + 12);
  target.writeUInt32BE(crc, at + 20);
  writeInt64(target, storeTimestamp, at + 24);
}

export function decodeIndexEntry(source: Buffer, at: number): IndexEntry {
  return {
    position: readInt64(source, at),
    size: source.readUInt32BE(at + 8),
    tagsCode: readInt64(source, at + 12),
    crc: source.readUInt32BE(at + 20),
    storeTimestamp: readInt64(source, at + 24),
  };
}
