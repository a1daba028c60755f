/**
 * The body of SEND_BATCH_MESSAGE (320), as RocketMQ 4.9.8 `MessageDecoder.encodeMessages` writes
 * it: the messages back to back, each laid out as (big-endian)
 *
 *   size  field
 *      4  TOTALSIZE        whole entry, this field included
 *      4  MAGICCODE        0 (clients leave it unset; ignored)
 *      4  BODYCRC          0 (the broker computes it; ignored)
 *      4  FLAG             user flag
 *      4  BODYLENGTH       then BODYLENGTH bytes of body
 *      2  PROPERTIESLENGTH signed, so at most 32767; then the `k\x01v\x02` string, UTF-8
 *
 * The broker fills in everything else when it stores them. Java clients send this with header
 * field `m=true`; ali-ons never sends batches.
 */
import { FrameError, InvalidArgumentError } from './errors.js';
import { putInt32 } from './int-codec.js';
import { writeUtf8 } from './utf8.js';

export interface BatchEntry {
  flag: number;
  body: Buffer;
  properties: string;
}

/** An entry with empty body and properties. */
const FIXED_SIZE = 4 + 4 + 4 + 4 + 4 + 2;
const MAX_PROPERTIES_BYTES = 0x7fff;
/** Properties up to this many characters are written in a JS loop when ASCII: cheaper than a native call. */
const ASCII_LOOP_MAX = 128;

/** Room `encodeBatchBody` needs for `entries` (3 UTF-8 bytes per UTF-16 unit of properties, at worst). */
export function batchBodyBound(entries: readonly BatchEntry[]): number {
  let bound = 0;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    bound += FIXED_SIZE + entry.body.length + 3 * entry.properties.length;
  }
  return bound;
}

/**
 * Encodes entries into one body; throws `InvalidArgumentError` when properties exceed 32767 bytes.
 * The body is written into `target` when it has `batchBodyBound(entries)` bytes (and is a view of
 * it), else into a new buffer. One pass: each properties string is written once and its length and
 * the entry size filled in after it.
 */
export function encodeBatchBody(entries: readonly BatchEntry[], target?: Buffer): Buffer {
  const bound = batchBodyBound(entries);
  const out = target !== undefined && target.length >= bound ? target : Buffer.allocUnsafe(bound);
  let pos = 0;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    const start = pos;
    // Unchecked stores: `out` has room for the bound computed from these very entries.
    putInt32(out, pos + 4, 0);
    putInt32(out, pos + 8, 0);
    putInt32(out, pos + 12, entry.flag | 0);
    putInt32(out, pos + 16, entry.body.length);
    out.set(entry.body, pos + 20);
    pos += 20 + entry.body.length;
    const propertiesLength = writeUtf8(out, pos + 2, entry.properties, ASCII_LOOP_MAX);
    if (propertiesLength > MAX_PROPERTIES_BYTES) {
      throw new InvalidArgumentError(`batch message ${i}: properties are ${propertiesLength} bytes, the limit is ${MAX_PROPERTIES_BYTES}`);
    }
    out[pos] = propertiesLength >>> 8;
    out[pos + 1] = propertiesLength;
    pos += 2 + propertiesLength;
    putInt32(out, start, pos - start);
  }
  return pos === out.length ? out : out.subarray(0, pos);
}


/**
 * Splits a body into entries whose bodies are views of `bytes` (no copy). Every length is checked
 * against the bytes actually present before it is used, so a forged one allocates nothing; a
 * malformed entry throws a `FrameError` naming it and its byte position.
 */
export function decodeBatchBody(bytes: Buffer): BatchEntry[] {
  const entries: BatchEntry[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    if (bytes.length - pos < FIXED_SIZE) throw entryError(entries.length, pos, 'truncated header');
    const totalSize = bytes.readInt32BE(pos);
    if (totalSize < FIXED_SIZE || totalSize > bytes.length - pos) throw entryError(entries.length, pos, `bad total size ${totalSize}`);
    const end = pos + totalSize;
    const flag = bytes.readInt32BE(pos + 12);
    const bodyLength = bytes.readInt32BE(pos + 16);
    const bodyStart = pos + 20;
    if (bodyLength < 0 || bodyLength > end - bodyStart - 2) throw entryError(entries.length, pos, `bad body length ${bodyLength}`);
    const propertiesStart = bodyStart + bodyLength + 2;
    const propertiesLength = bytes.readInt16BE(propertiesStart - 2);
    if (propertiesLength < 0 || propertiesStart + propertiesLength !== end) throw entryError(entries.length, pos, `bad properties length ${propertiesLength}`);
    entries.push({
      flag,
      body: bytes.subarray(bodyStart, bodyStart + bodyLength),
      properties: bytes.toString('utf8', propertiesStart, end),
    });
    pos = end;
  }
  return entries;
}

function entryError(index: number, pos: number, reason: string): FrameError {
  return new FrameError(`batch entry ${index} at byte ${pos}: ${reason}`);
}
