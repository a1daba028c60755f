import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32Combine, crc32Range } from '../../protocol/crc32.js';
import { RecordPos, encodeRecord } from '../../protocol/message-codec.js';
import { stampRecordCrc, stampRecordCrcAroundBody, verifyRecordCrc, withCrcPlaceholder } from '../../storage/record-crc.js';

/** Deterministic bytes (xorshift), so a failure reproduces. */
function bytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

describe('crc32Range', () => {
  it('equals zlib over every length from 0 to 300 (JS tables below 257 bytes, zlib above) and at odd offsets', () => {
    const data = bytes(400, 7);
    for (let length = 0; length <= 300; length++) {
      const start = length % 13;
      expect(crc32Range(data, start, start + length)).toBe(crc32(data.subarray(start, start + length)));
    }
  });

  it('continues from a given CRC as zlib.crc32(bytes, value) does', () => {
    const data = bytes(1000, 11);
    for (const split of [0, 1, 7, 8, 100, 255, 600, 1000]) {
      const head = crc32(data.subarray(0, split));
      expect(crc32Range(data, split, data.length, head)).toBe(crc32(data));
    }
  });
});

describe('crc32Combine', () => {
  it('gives the CRC of A followed by B from the two CRCs and the length of B', () => {
    for (const [lengthA, lengthB] of [[0, 0], [0, 5], [5, 0], [1, 1], [88, 1024], [3, 100_000], [1024, 4 * 1024 * 1024]]) {
      const a = bytes(lengthA, lengthA + 3);
      const b = bytes(lengthB, lengthB + 5);
      expect(crc32Combine(crc32(a), crc32(b), lengthB)).toBe(crc32(Buffer.concat([a, b])));
    }
  });

  it('gives the same CRCs once a length seen often is combined through its lookup table', () => {
    const b = bytes(777, 9);
    for (let i = 0; i < 40; i++) {
      const a = bytes(13 + i, i);
      expect(crc32Combine(crc32(a), crc32(b), b.length)).toBe(crc32(Buffer.concat([a, b])));
    }
  });
});

describe('stampRecordCrcAroundBody', () => {
  it('stamps the same CRC digits as a pass over the whole record, for empty, small, 1 KiB and large bodies and long properties', () => {
    for (const [bodyLength, properties] of [
      [0, ''],
      [100, 'TAGS\u0001a\u0002'],
      [1024, 'TAGS\u0001TagA\u0002KEYS\u0001k1 k2\u0002UNIQ_KEY\u00017F0000010001000000000000000000\u0002'],
      [70_000, `LONG\u0001${'v'.repeat(2000)}\u0002`],
    ] as const) {
      const record = encodeRecord({
        queueId: 3,
        flag: 1,
        queueOffset: 42,
        physicalOffset: 4242,
        sysFlag: 0,
        bornTimestamp: 1_700_000_000_000,
        bornHost: { ip: '10.1.2.3', port: 4000 },
        storeTimestamp: 1_700_000_000_001,
        storeHost: { ip: '127.0.0.1', port: 10911 },
        reconsumeTimes: 0,
        body: bytes(bodyLength, bodyLength + 1),
        topic: 'crc_topic',
        properties: withCrcPlaceholder(properties),
      });
      const reference = Buffer.from(record);
      const expected = stampRecordCrc(reference, 0, reference.length);
      const bodyCrc = crc32(record.subarray(RecordPos.BODY, RecordPos.BODY + bodyLength));
      expect(stampRecordCrcAroundBody(record, 0, record.length, RecordPos.BODY, bodyLength, bodyCrc)).toBe(expected);
      expect(record.equals(reference)).toBe(true);
      expect(verifyRecordCrc(record, 0, record.length)).toBe(true);
    }
  });
});
