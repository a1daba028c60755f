/**
 * Body of SEND_BATCH_MESSAGE (320): the messages back to back, each in the layout of RocketMQ
 * 4.9.8 `MessageDecoder.encodeMessages` (the broker fills in everything else when it stores them):
 *
 * | field            | bytes |
 * |------------------|-------|
 * | TOTALSIZE        | 4     |  whole entry, this field included
 * | MAGICCODE        | 4     |  0 (unused in a batch)
 * | BODYCRC          | 4     |  0 (the broker computes it)
 * | FLAG             | 4     |  user flag
 * | BODYLENGTH, BODY | 4 + n |
 * | PROPSLENGTH, PROPS | 2 + n | `k\x01v\x02` string, UTF-8
 */
import { InvalidArgumentError } from '../protocol/errors.js';

export interface BatchEntry {
  flag: number;
  body: Buffer;
  properties: string;
}

export function encodeBatchBody(entries: readonly BatchEntry[]): Buffer {
  const props = entries.map((e) => Buffer.from(e.properties, 'utf8'));
  let total = 0;
  entries.forEach((e, i) => {
    if (props[i]!.length > 0x7fff) throw new InvalidArgumentError(`batch message ${i}: properties are ${props[i]!.length} bytes, the limit is 32767`);
    total += 4 + 4 + 4 + 4 + 4 + e.body.length + 2 + props[i]!.length;
  });
  const out = Buffer.allocUnsafe(total);
  let pos = 0;
  entries.forEach((e, i) => {
    const size = 4 + 4 + 4 + 4 + 4 + e.body.length + 2 + props[i]!.length;
    pos = out.writeInt32BE(size, pos);
    pos = out.writeInt32BE(0, pos);
    pos = out.writeInt32BE(0, pos);
    pos = out.writeInt32BE(e.flag | 0, pos);
    pos = out.writeInt32BE(e.body.length, pos);
    pos += e.body.copy(out, pos);
    pos = out.writeInt16BE(props[i]!.length, pos);
    pos += props[i]!.copy(out, pos);
  });
  return out;
}
