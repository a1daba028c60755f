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

export interface BatchEntry {
  flag: number;
  body: Buffer;
  properties: string;
}

/** An entry with empty body and properties. */
const FIXED_SIZE = 4 + 4 + 4 + 4 + 4 + 2;
const MAX_PROPERTIES_BYTES = 0x7fff;

/** Encodes entries into one body; throws `InvalidArgumentError` when properties exceed 32767 bytes. */
export function encodeBatchBody(entries: readonly BatchEntry[]): Buffer {
  const propertyLengths = entries.map((entry, i) => {
    const length = Buffer.byteLength(entry.properties, 'utf8');
    if (length > MAX_PROPERTIES_BYTES) {
      throw new InvalidArgumentError(`batch message ${i}: properties are ${length} bytes, the limit is ${MAX_PROPERTIES_BYTES}`);
    }
    return length;
  });
  let total = 0;
  entries.forEach((entry, i) => (total += FIXED_SIZE + entry.body.length + propertyLengths[i]!));
  const out = Buffer.allocUnsafe(total);
  let pos = 0;
  entries.forEach((entry, i) => {
    const propertiesLength = propertyLengths[i]!;
    pos = out.writeInt32BE(FIXED_SIZE + entry.body.length + propertiesLength, pos);
    pos = out.writeInt32BE(0, pos);
    pos = out.writeInt32BE(0, pos);
    pos = out.writeInt32BE(entry.flag | 0, pos);
    pos = out.writeInt32BE(entry.body.length, pos);
    pos += entry.body.copy(out, pos);
    pos = out.writeInt16BE(propertiesLength, pos);
    pos += out.write(entry.properties, pos, propertiesLength, 'utf8');
  });
  return out;
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
    const fail = (reason: string) => new FrameError(`batch entry ${entries.length} at byte ${pos}: ${reason}`);
    if (bytes.length - pos < FIXED_SIZE) throw fail('truncated header');
    const totalSize = bytes.readInt32BE(pos);
    if (totalSize < FIXED_SIZE || totalSize > bytes.length - pos) throw fail(`bad total size ${totalSize}`);
    const end = pos + totalSize;
    const flag = bytes.readInt32BE(pos + 12);
    const bodyLength = bytes.readInt32BE(pos + 16);
    const bodyStart = pos + 20;
    if (bodyLength < 0 || bodyLength > end - bodyStart - 2) throw fail(`bad body length ${bodyLength}`);
    const propertiesStart = bodyStart + bodyLength + 2;
    const propertiesLength = bytes.readInt16BE(propertiesStart - 2);
    if (propertiesLength < 0 || propertiesStart + propertiesLength !== end) throw fail(`bad properties length ${propertiesLength}`);
    entries.push({
      flag,
      body: bytes.subarray(bodyStart, bodyStart + bodyLength),
      properties: bytes.toString('utf8', propertiesStart, end),
    });
    pos = end;
  }
  return entries;
}
