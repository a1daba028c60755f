/**
 * The body of SEND_BATCH_MESSAGE (320): RocketMQ's `MessageDecoder.encodeMessages`, i.e. messages
 * back to back, each laid out as (big-endian):
 *
 *   TOTALSIZE       int32   whole entry, this field included
 *   MAGICCODE       int32   0 from clients (ignored)
 *   BODYCRC         int32   0 from clients (ignored)
 *   FLAG            int32   user flag
 *   BODYLENGTH      int32
 *   BODY            bytes
 *   PROPERTIESLEN   int16   signed, so at most 32767
 *   PROPERTIES      bytes   UTF-8 `k\x01v\x02...`
 *
 * The SDK's encoder is client/batch-codec.ts.
 */

export interface BatchEntry {
  flag: number;
  body: Buffer;
  properties: string;
}

const FIXED_SIZE = 4 + 4 + 4 + 4 + 4 + 2;

/** Splits a batch body; throws a RangeError naming the first malformed entry. */
export function decodeBatchBody(bytes: Buffer): BatchEntry[] {
  const entries: BatchEntry[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const where = `batch entry ${entries.length} at byte ${pos}`;
    if (bytes.length - pos < FIXED_SIZE) throw new RangeError(`${where}: truncated header`);
    const totalSize = bytes.readInt32BE(pos);
    if (totalSize < FIXED_SIZE || totalSize > bytes.length - pos) throw new RangeError(`${where}: bad total size ${totalSize}`);
    const flag = bytes.readInt32BE(pos + 12);
    const bodyLength = bytes.readInt32BE(pos + 16);
    const bodyStart = pos + 20;
    if (bodyLength < 0 || bodyStart + bodyLength + 2 > pos + totalSize) throw new RangeError(`${where}: bad body length ${bodyLength}`);
    const propertiesLength = bytes.readInt16BE(bodyStart + bodyLength);
    const propertiesStart = bodyStart + bodyLength + 2;
    if (propertiesLength < 0 || propertiesStart + propertiesLength !== pos + totalSize) {
      throw new RangeError(`${where}: bad properties length ${propertiesLength}`);
    }
    entries.push({
      flag,
      body: bytes.subarray(bodyStart, bodyStart + bodyLength),
      properties: bytes.toString('utf8', propertiesStart, propertiesStart + propertiesLength),
    });
    pos += totalSize;
  }
  return entries;
}

