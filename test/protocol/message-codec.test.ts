import { readFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  MESSAGE_MAGIC,
  MIN_RECORD_SIZE,
  MessageSysFlag,
  RecordPos,
  bodyCrc,
  checkRecord,
  decodeRecord,
  decodeRecords,
  encodeRecord,
  recordSize,
  scanRecords,
  scanRecordViews,
  type RecordFields,
} from '../../protocol/message-codec.js';
import { FrameError, InvalidArgumentError } from '../../protocol/errors.js';
import { decodeOffsetMsgId } from '../../protocol/message-id.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/rocketmq/${name}`, import.meta.url));

function sampleFields(overrides: Partial<RecordFields> = {}): RecordFields {
  return {
    queueId: 3,
    flag: 7,
    queueOffset: 42,
    physicalOffset: 0x1234_5678_9abc,
    sysFlag: 0,
    bornTimestamp: 1_700_000_000_123,
    bornHost: { ip: '10.0.0.2', port: 50123 },
    storeTimestamp: 1_700_000_000_456,
    storeHost: { ip: '192.168.1.9', port: 10911 },
    reconsumeTimes: 2,
    body: Buffer.from('hello ferry'),
    topic: 'TopicA',
    properties: 'TAGS\u0001TagA\u0002KEYS\u0001k1 k2\u0002',
    ...overrides,
  };
}

describe('golden fixtures (real RocketMQ records, from ali-ons)', () => {
  it('message.bin: one record, then trailing bytes that are not a record', () => {
    const buf = fixture('message.bin');
    const scan = scanRecords(buf);
    expect(scan.records).toHaveLength(1);
    const r = scan.records[0];
    expect(r.totalSize).toBe(0x84);
    expect(r.msgId).toBe('0ADA91A6000029CC0000006500E59F3E');
    expect(r.topic).toBe('TopicTest');
    expect(r.properties).toBe('TAGS\u0001TagA\u0002');
    expect(r.propertyMap.TAGS).toBe('TagA');
    expect(r.propertyMap.KEYS).toBeUndefined();
    expect(r.body.toString()).toBe('{"room":"1","msg":"1"}');
    expect(r.storeHost).toEqual({ ip: '10.218.145.166', port: 10700 });
    expect(r.physicalOffset).toBe(0x6500e59f3e);
    expect(r.bodyCrc).toBe(bodyCrc(r.body));
    expect(scan.trailing).toEqual({ offset: 132, length: 132, reason: expect.stringContaining('total size 0') });
    expect(decodeRecords(buf)).toHaveLength(1);
    expect(checkRecord(buf, 132).status).toBe('CORRUPT');
    // Re-encoding the decoded fields gives the stored bytes back.
    expect(encodeRecord(r).equals(buf.subarray(0, 132))).toBe(true);
  });

  it('batch_message.bin: three records back to back', () => {
    const buf = fixture('batch_message.bin');
    const scan = scanRecords(buf);
    expect(scan.records.map((r) => r.msgId)).toEqual([
      '0ADA91A6000029CC000000659560A2AA',
      '0ADA91A6000029CC000000659560D349',
      '0ADA91A6000029CC000000659560D578',
    ]);
    expect(scan.records[0].body.toString()).toBe('Hello MetaQ !!!');
    let at = 0;
    for (const r of scan.records) {
      expect(r.topic).toBe('TopicTest');
      expect(r.propertyMap.TAGS).toBe('TagA');
      expect(encodeRecord(r).equals(buf.subarray(at, at + r.totalSize))).toBe(true);
      at += r.totalSize;
    }
    expect(scan.trailing?.offset).toBe(at);
  });

  it('message_compress.bin: decodes; its TOTALSIZE and CRC describe the uncompressed body, so checkRecord refuses it', () => {
    const buf = fixture('message_compress.bin');
    const r = decodeRecord(buf);
    expect(r.msgId).toBe('0ADA91A6000029CC000000661A586D98');
    expect(r.topic).toBe('TopicTest');
    expect(r.propertyMap.TAGS).toBe('TagA');
    expect(r.sysFlag & MessageSysFlag.COMPRESSED).toBe(1);
    const inflated = inflateSync(r.body);
    expect(inflated.toString()).toBe('Hello MetaQ !!!');
    // The vector was made by swapping in a compressed body: size 125 and CRC fit the 15-byte original.
    expect(r.totalSize).toBe(recordSize(inflated.length, 9, 10));
    expect(r.bodyCrc).toBe(bodyCrc(inflated));
    const check = checkRecord(buf);
    expect(check.status).toBe('CORRUPT');
    // Re-encoding writes the true size; every other byte matches.
    const again = encodeRecord(r);
    const realSize = recordSize(r.body.length, 9, 10);
    expect(again.length).toBe(realSize);
    expect(again.readInt32BE(0)).toBe(realSize);
    expect(again.subarray(4).equals(buf.subarray(4, realSize))).toBe(true);
  });

  it('decodes the msgId of the README example', () => {
    expect(decodeOffsetMsgId('0ADA91A6000029CC0000006504009B6F')).toEqual({
      ip: '10.218.145.166',
      port: 10700,
      physicalOffset: 433858845551,
    });
  });
});

describe('encodeRecord / decodeRecord', () => {
  it('decodeRecord refuses an offset that is not a position in the buffer', () => {
    const buf = encodeRecord(sampleFields());
    expect(() => decodeRecord(buf, -1)).toThrow(RangeError);
    expect(() => decodeRecord(buf, 0.5)).toThrow(RangeError);
  });

  it('round-trips every field and computes size, magic and CRC', () => {
    const fields = sampleFields();
    const buf = encodeRecord(fields);
    expect(buf.length).toBe(recordSize(fields.body.length, 6, Buffer.byteLength(fields.properties)));
    expect(buf.readUInt32BE(RecordPos.MAGIC)).toBe(MESSAGE_MAGIC);
    expect(buf.readInt32BE(RecordPos.BODY_CRC)).toBe(bodyCrc(fields.body));
    expect(Number(buf.readBigInt64BE(RecordPos.QUEUE_OFFSET))).toBe(42);
    expect(Number(buf.readBigInt64BE(RecordPos.PHYSICAL_OFFSET))).toBe(fields.physicalOffset);
    expect(Number(buf.readBigInt64BE(RecordPos.STORE_TIMESTAMP))).toBe(fields.storeTimestamp);
    const r = decodeRecord(buf);
    const { bodyCrc: _crc, ...rest } = fields;
    expect(r).toMatchObject({ ...rest, preparedTransactionOffset: 0, totalSize: buf.length });
    expect(r.propertyMap).toEqual({ TAGS: 'TagA', KEYS: 'k1 k2' });
    expect(r.msgId).toBe('C0A8010900002A9F0000123456789ABC');
    expect(checkRecord(buf)).toEqual({ status: 'OK', ok: true, size: buf.length });
  });

  it('writes short ASCII, non-ASCII and long properties byte-exactly, and negative int fields in two\'s complement', () => {
    const cases = ['', 'TAGS\u0001é中\u0002', `KEYS\u0001${'k'.repeat(200)}\u0002`, `A\u0001${'ü'.repeat(40)}\u0002`];
    for (const properties of cases) {
      const fields = sampleFields({ properties, flag: -5, reconsumeTimes: -1, preparedTransactionOffset: 0 });
      const buf = encodeRecord(fields);
      const props = buf.subarray(buf.length - Buffer.byteLength(properties));
      expect(props.toString('utf8')).toBe(properties);
      expect(buf.readUInt16BE(buf.length - props.length - 2)).toBe(props.length);
      const r = decodeRecord(buf);
      expect(r.properties).toBe(properties);
      expect(r.flag).toBe(-5);
      expect(r.reconsumeTimes).toBe(-1);
      expect(r.topic).toBe('TopicA');
    }
  });

  it('encodes into a caller buffer at an offset and returns the size', () => {
    const fields = sampleFields({ body: Buffer.alloc(0), properties: '' });
    const target = Buffer.alloc(300, 0xee);
    const n = encodeRecord(fields, target, 17);
    expect(n).toBe(MIN_RECORD_SIZE + 6);
    expect(target[16]).toBe(0xee);
    expect(target[17 + n]).toBe(0xee);
    expect(decodeRecord(target, 17).topic).toBe('TopicA');
    expect(checkRecord(target, 17, n).status).toBe('OK');
    expect(() => encodeRecord(fields, Buffer.alloc(50), 0)).toThrow(InvalidArgumentError);
  });

  it('patches fields in place at the exported positions', () => {
    const buf = encodeRecord(sampleFields());
    buf.writeBigInt64BE(99n, RecordPos.QUEUE_OFFSET);
    buf.writeBigInt64BE(12345n, RecordPos.PHYSICAL_OFFSET);
    const r = decodeRecord(buf);
    expect(r.queueOffset).toBe(99);
    expect(r.physicalOffset).toBe(12345);
    expect(checkRecord(buf).ok).toBe(true);
  });

  it('writes IPv6 and unparsable hosts as 127.0.0.1 and clears the IPv6 bits', () => {
    const buf = encodeRecord(
      sampleFields({
        sysFlag: MessageSysFlag.BORNHOST_V6 | MessageSysFlag.STOREHOST_V6 | MessageSysFlag.COMPRESSED,
        bornHost: { ip: '::1', port: 1 },
        storeHost: { ip: 'not-an-ip', port: 2 },
      }),
    );
    const r = decodeRecord(buf);
    expect(r.sysFlag).toBe(MessageSysFlag.COMPRESSED);
    expect(r.bornHost).toEqual({ ip: '127.0.0.1', port: 1 });
    expect(r.storeHost).toEqual({ ip: '127.0.0.1', port: 2 });
  });

  it('decodes IPv6 hosts when the sysFlag bits say so', () => {
    // Build an IPv6-host record by hand from an IPv4 one: insert 12 bytes after each host address.
    const v4 = encodeRecord(sampleFields());
    const v6 = Buffer.concat([
      v4.subarray(0, RecordPos.BORN_HOST),
      Buffer.from('20010db8000000000000000000000001', 'hex'),
      v4.subarray(RecordPos.BORN_HOST + 4, RecordPos.STORE_HOST),
      Buffer.from('fe800000000000000000000000000002', 'hex'),
      v4.subarray(RecordPos.STORE_HOST + 4),
    ]);
    v6.writeInt32BE(v6.length, 0);
    v6.writeInt32BE(MessageSysFlag.BORNHOST_V6 | MessageSysFlag.STOREHOST_V6, RecordPos.SYSFLAG);
    expect(checkRecord(v6)).toEqual({ status: 'OK', ok: true, size: recordSize(11, 6, 21, true, true) });
    const r = decodeRecord(v6);
    expect(r.bornHost).toEqual({ ip: '2001:db8::1', port: 50123 });
    expect(r.storeHost).toEqual({ ip: 'fe80::2', port: 10911 });
    expect(r.msgId).toHaveLength(56);
    expect(decodeOffsetMsgId(r.msgId)).toEqual({ ip: 'fe80::2', port: 10911, physicalOffset: 0x1234_5678_9abc });
    expect(r.body.toString()).toBe('hello ferry');
  });

  it('refuses fields that do not fit their slots', () => {
    expect(() => encodeRecord(sampleFields({ topic: 'x'.repeat(128) }))).toThrow(/topic/);
    expect(() => encodeRecord(sampleFields({ topic: '' }))).toThrow(/topic/);
    expect(() => encodeRecord(sampleFields({ properties: 'a'.repeat(32768) }))).toThrow(/properties/);
    expect(() => encodeRecord(sampleFields({ queueOffset: -1 }))).toThrow(/queueOffset/);
    expect(() => encodeRecord(sampleFields({ physicalOffset: 2 ** 53 }))).toThrow(/physicalOffset/);
  });

  it('throws FrameError, never reads out of bounds, on a record cut short', () => {
    const buf = encodeRecord(sampleFields());
    for (let n = 0; n < buf.length; n++) {
      expect(() => decodeRecord(buf.subarray(0, n)), `cut at ${n}`).toThrow(FrameError);
    }
  });
});

describe('checkRecord', () => {
  const record = encodeRecord(sampleFields());

  it('reports INCOMPLETE for a truncation at every byte', () => {
    for (let n = 0; n < record.length; n++) {
      const check = checkRecord(record.subarray(0, n));
      expect(check.status, `truncated to ${n}`).toBe('INCOMPLETE');
      if (n >= 4) expect(check).toMatchObject({ size: record.length });
      // The same through `available` on the full buffer.
      expect(checkRecord(record, 0, n).status).toBe('INCOMPLETE');
    }
  });

  it('reports CORRUPT for every flipped bit of the size, magic, lengths, sysFlag host bits and body', () => {
    const bodyStart = RecordPos.BODY;
    const bodyLen = 11;
    const checked: number[] = [];
    const push = (from: number, to: number) => {
      for (let i = from; i < to; i++) checked.push(i);
    };
    push(RecordPos.TOTAL_SIZE, RecordPos.MAGIC + 4);
    push(RecordPos.BODY_CRC, RecordPos.BODY_CRC + 4);
    push(RecordPos.BODY_LENGTH, RecordPos.BODY_LENGTH + 4);
    push(bodyStart, bodyStart + bodyLen + 1); // body and topic length
    push(bodyStart + bodyLen + 1 + 6, bodyStart + bodyLen + 1 + 6 + 2); // properties length
    for (const byte of checked) {
      for (let bit = 0; bit < 8; bit++) {
        const bad = Buffer.from(record);
        bad[byte] ^= 1 << bit;
        expect(checkRecord(bad).status, `byte ${byte} bit ${bit}`).toBe('CORRUPT');
      }
    }
    for (const bit of [MessageSysFlag.BORNHOST_V6, MessageSysFlag.STOREHOST_V6]) {
      const bad = Buffer.from(record);
      bad.writeInt32BE(bit, RecordPos.SYSFLAG);
      expect(checkRecord(bad).status).toBe('CORRUPT');
    }
  });

  it('refuses a forged size without allocating for it', () => {
    const forged = Buffer.from(record);
    forged.writeInt32BE(0x7fffffff, 0);
    expect(checkRecord(forged)).toMatchObject({ status: 'CORRUPT', reason: expect.stringContaining('exceeds') });
    forged.writeInt32BE(record.length + 1000, 0);
    expect(checkRecord(forged)).toMatchObject({ status: 'CORRUPT', reason: expect.stringContaining('does not match') });
    forged.writeInt32BE(-5, 0);
    expect(checkRecord(forged).status).toBe('CORRUPT');
    forged.writeInt32BE(record.length, 0);
    expect(checkRecord(forged, 0, record.length, record.length - 1).status).toBe('CORRUPT');
  });

  it('refuses zero-filled space (a preallocated or torn tail)', () => {
    const zeros = Buffer.alloc(4096);
    expect(checkRecord(zeros).status).toBe('CORRUPT');
    for (const n of [0, 1, 2, 3]) expect(checkRecord(zeros, 0, n).status).toBe('INCOMPLETE');
    const tail = Buffer.concat([record, Buffer.alloc(100)]);
    expect(checkRecord(tail, record.length).status).toBe('CORRUPT');
    expect(scanRecords(tail).records).toHaveLength(1);
  });

  it('scanRecords stops where checkRecord fails, with its reason: a flipped body bit fails the CRC', () => {
    const next = encodeRecord(sampleFields({ queueOffset: 43 }));
    for (let byte = 0; byte < next.length; byte++) {
      const bad = Buffer.from(next);
      bad[byte] ^= 0x10;
      const check = checkRecord(bad);
      const scan = scanRecords(Buffer.concat([record, bad]));
      if (check.ok) {
        expect(scan.records, `byte ${byte}`).toHaveLength(2);
        continue;
      }
      expect(scan.records, `byte ${byte}`).toHaveLength(1);
      expect(scan.trailing, `byte ${byte}`).toEqual({ offset: record.length, length: bad.length, reason: check.reason });
    }
    const body = RecordPos.BODY + 2;
    const flipped = Buffer.from(next);
    flipped[body] ^= 1;
    expect(scanRecords(flipped).trailing?.reason).toMatch(/^body CRC 0x[0-9a-f]+ does not match stored 0x[0-9a-f]+$/);
  });

  it('decodeRecord and scanRecords give plain objects (a spread keeps every field); views give the same values', () => {
    const two = Buffer.concat([record, encodeRecord(sampleFields({ queueOffset: 43 }))]);
    const plain = scanRecords(two).records;
    const views = scanRecordViews(two).records;
    expect(views.map((v) => JSON.parse(JSON.stringify(v)))).toEqual(plain.map((r) => JSON.parse(JSON.stringify(r))));
    for (const r of [decodeRecord(record), ...plain]) {
      const copy = { ...r };
      expect(copy.properties).toBe(r.properties);
      expect(copy.storeHost).toEqual(r.storeHost);
      expect(copy.msgId).toBe(r.msgId);
      expect(copy.propertyMap).toEqual({ TAGS: 'TagA', KEYS: 'k1 k2' });
    }
    expect(views[1]!.msgId).toBe(plain[1]!.msgId);
    expect(views[1]!.propertyMap).toEqual(plain[1]!.propertyMap);
    expect(scanRecordViews(two).records).toHaveLength(2);
  });

  it('views name the topic of each record when topics of the same length alternate', () => {
    const topics = ['TopicA', 'TopicB', 'TopicB', 'TopicA', 'Topic\u00e9', 'TopicA'];
    const body = Buffer.concat(topics.map((topic, i) => encodeRecord(sampleFields({ topic, queueOffset: i }))));
    expect(scanRecordViews(body).records.map((v) => v.topic)).toEqual(topics);
  });

  it('scans records at any offset without reading past `available`', () => {
    const two = Buffer.concat([record, encodeRecord(sampleFields({ queueOffset: 43 }))]);
    expect(checkRecord(two, record.length)).toEqual({ status: 'OK', ok: true, size: record.length });
    expect(checkRecord(two, 0, record.length).status).toBe('OK');
    expect(decodeRecords(two).map((r) => r.queueOffset)).toEqual([42, 43]);
  });
});
