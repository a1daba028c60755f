import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { batchBodyBound, decodeBatchBody, encodeBatchBody, type BatchEntry } from '../../protocol/batch-codec.js';
import { FrameError, InvalidArgumentError } from '../../protocol/errors.js';

/** The 320 body the RocketMQ 4.9.8 Java client wrote for three messages (see test/fixtures/java-frames). */
function javaBatchBody(): Buffer {
  const expected = JSON.parse(readFileSync(new URL('../fixtures/java-frames/expected.json', import.meta.url), 'utf8')) as Record<string, { bodyHex: string }>;
  return Buffer.from(expected['send-batch-json']!.bodyHex, 'hex');
}

/** Java 4.9.8 writes no separator after the last property. */
function javaEntry(i: number): BatchEntry {
  return {
    flag: 0,
    body: Buffer.from(`batch body ${i}`),
    properties: `KEYS\u0001batch-key-${i}\u0002UNIQ_KEY\u00017F00000100002A9F000000000000001${i}\u0002WAIT\u0001true\u0002TAGS\u0001TagB`,
  };
}

describe('encodeBatchBody', () => {
  it('writes size, zero magic and crc, flag, body and properties per message', () => {
    const bytes = encodeBatchBody([
      { flag: 7, body: Buffer.from('ab'), properties: 'K\u0001v\u0002' },
      { flag: 0, body: Buffer.alloc(0), properties: '' },
    ]);
    const expected = Buffer.from([
      // entry 0: TOTALSIZE 28, MAGIC 0, BODYCRC 0, FLAG 7, BODYLENGTH 2, "ab", PROPSLENGTH 4, "K\x01v\x02"
      0, 0, 0, 28, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 2, 0x61, 0x62, 0, 4, 0x4b, 1, 0x76, 2,
      // entry 1: TOTALSIZE 22, MAGIC 0, BODYCRC 0, FLAG 0, BODYLENGTH 0, PROPSLENGTH 0
      0, 0, 0, 22, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    expect(bytes).toEqual(expected);
  });

  it('writes the same bytes as the RocketMQ 4.9.8 Java client', () => {
    expect(encodeBatchBody([0, 1, 2].map(javaEntry))).toEqual(javaBatchBody());
  });

  it('counts properties in UTF-8 bytes, not characters', () => {
    const bytes = encodeBatchBody([{ flag: 0, body: Buffer.alloc(0), properties: 'K\u0001é\u0002' }]);
    expect(bytes.readInt16BE(20)).toBe(5);
    expect(decodeBatchBody(bytes)[0]!.properties).toBe('K\u0001é\u0002');
  });

  it('writes into a target of batchBodyBound bytes, or into a new buffer when the target is smaller', () => {
    const entries = [0, 1, 2].map(javaEntry);
    const target = Buffer.alloc(batchBodyBound(entries));
    const into = encodeBatchBody(entries, target);
    expect(into.buffer).toBe(target.buffer);
    expect(into.byteOffset).toBe(target.byteOffset);
    expect(into).toEqual(javaBatchBody());
    const small = Buffer.alloc(16);
    expect(encodeBatchBody(entries, small)).toEqual(javaBatchBody());
    expect(small).toEqual(Buffer.alloc(16));
  });

  it('refuses properties longer than a signed 16-bit length', () => {
    expect(() => encodeBatchBody([{ flag: 0, body: Buffer.from('x'), properties: 'p'.repeat(40_000) }])).toThrow(InvalidArgumentError);
    expect(() => encodeBatchBody([{ flag: 0, body: Buffer.from('x'), properties: 'p'.repeat(40_000) }])).toThrow(/32767/);
  });
});

describe('decodeBatchBody', () => {
  it('decodes what the Java client wrote', () => {
    expect(decodeBatchBody(javaBatchBody())).toEqual([0, 1, 2].map(javaEntry));
  });

  it('decodes what it encodes, an empty body as no entries', () => {
    const entries = [
      { flag: 0, body: Buffer.from('one'), properties: 'TAGS\u0001A\u0002' },
      { flag: 7, body: Buffer.alloc(0), properties: '' },
      { flag: -1, body: Buffer.from('three'), properties: 'KEYS\u0001k1 k2\u0002UNIQ_KEY\u0001U\u0002' },
    ];
    expect(decodeBatchBody(encodeBatchBody(entries))).toEqual(entries);
    expect(decodeBatchBody(Buffer.alloc(0))).toEqual([]);
  });

  it('rejects every cut that is not at an entry boundary, byte by byte', () => {
    const whole = javaBatchBody();
    const boundaries = new Set([0, 112, 224, 336]);
    expect(whole.length).toBe(336);
    for (let cut = 0; cut <= whole.length; cut++) {
      const part = whole.subarray(0, cut);
      if (boundaries.has(cut)) expect(decodeBatchBody(part)).toHaveLength(cut / 112);
      else expect(() => decodeBatchBody(part), `cut at ${cut}`).toThrow(FrameError);
    }
  });

  it('names the bad field and the entry', () => {
    const good = encodeBatchBody([
      { flag: 0, body: Buffer.from('abc'), properties: 'a\u0001b\u0002' },
      { flag: 0, body: Buffer.from('abc'), properties: 'a\u0001b\u0002' },
    ]);
    const entrySize = good.length / 2;
    const forge = (pos: number, write: (b: Buffer) => void) => {
      const b = Buffer.from(good);
      write(b.subarray(pos));
      return () => decodeBatchBody(b);
    };
    expect(forge(entrySize, (b) => b.writeInt32BE(3, 0))).toThrow(`batch entry 1 at byte ${entrySize}: bad total size 3`);
    expect(forge(0, (b) => b.writeInt32BE(0x7fffffff, 0))).toThrow(/bad total size 2147483647/);
    expect(forge(0, (b) => b.writeInt32BE(-1, 0))).toThrow(/bad total size -1/);
    expect(forge(0, (b) => b.writeInt32BE(1000, 16))).toThrow(/bad body length 1000/);
    expect(forge(0, (b) => b.writeInt32BE(-5, 16))).toThrow(/bad body length -5/);
    expect(forge(0, (b) => b.writeInt16BE(3, 23))).toThrow(/bad properties length 3/);
    expect(forge(0, (b) => b.writeInt16BE(-1, 23))).toThrow(/bad properties length -1/);
  });

  it('returns bodies as views of the input, not copies', () => {
    const bytes = encodeBatchBody([{ flag: 0, body: Buffer.from('abc'), properties: '' }]);
    expect(decodeBatchBody(bytes)[0]!.body.buffer).toBe(bytes.buffer);
  });
});
