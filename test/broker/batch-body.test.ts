import { describe, expect, it } from 'vitest';
import { decodeBatchBody } from '../../broker/handlers/batch-body.js';
import { encodeBatchBody } from '../../client/batch-codec.js';

describe('batch body', () => {
  it('decodes what the SDK encodes', () => {
    const entries = [
      { flag: 0, body: Buffer.from('one'), properties: 'TAGS\u0001A\u0002' },
      { flag: 7, body: Buffer.alloc(0), properties: '' },
      { flag: -1, body: Buffer.from('three'), properties: 'KEYS\u0001k1 k2\u0002UNIQ_KEY\u0001U\u0002' },
    ];
    expect(decodeBatchBody(encodeBatchBody(entries))).toEqual(entries);
  });

  it('rejects truncated and inconsistent entries', () => {
    const good = encodeBatchBody([{ flag: 0, body: Buffer.from('abc'), properties: 'a\u0001b\u0002' }]);
    expect(() => decodeBatchBody(good.subarray(0, good.length - 1))).toThrow(RangeError);
    const badBodyLength = Buffer.from(good);
    badBodyLength.writeInt32BE(1000, 16);
    expect(() => decodeBatchBody(badBodyLength)).toThrow(/body length/);
    const badTotal = Buffer.from(good);
    badTotal.writeInt32BE(3, 0);
    expect(() => decodeBatchBody(badTotal)).toThrow(/total size/);
  });
});
