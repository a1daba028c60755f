import { describe, expect, it } from 'vitest';
import {
  LanguageCode,
  decodeBinaryHeader,
  decodeJsonHeader,
  encodeBinaryHeader,
  encodeExtEntries,
  encodeJsonHeader,
  languageName,
  languageOrdinal,
} from '../../protocol/header-codec.js';
import { FrameError } from '../../protocol/errors.js';

describe('JSON header', () => {
  it('encodes to golden text, omitting undefined remark', () => {
    const json = encodeJsonHeader({ code: 10, language: 'JAVA', version: 409, opaque: 1, flag: 0, extFields: { a: 'b' } });
    expect(json).toBe('{"code":10,"language":"JAVA","version":409,"opaque":1,"flag":0,"extFields":{"a":"b"}}');
  });

  it('drops null extFields values', () => {
    const ext = { a: 'b', n: null, u: undefined } as unknown as Record<string, string>;
    const json = encodeJsonHeader({ code: 0, language: 'JAVA', version: 409, opaque: 7, flag: 1, remark: 'ok', extFields: ext });
    expect(json).toBe('{"code":0,"language":"JAVA","version":409,"opaque":7,"flag":1,"remark":"ok","extFields":{"a":"b"}}');
  });

  it('decodes ali-ons style headers, coercing numbers and booleans to strings', () => {
    const raw = Buffer.from(
      '{"code":310,"language":"JAVA","version":121,"opaque":3,"flag":0,"extFields":{"e":0,"k":false,"g":1700000000000,"b":"T","z":null},"serializeTypeCurrentRPC":"JSON"}',
    );
    expect(decodeJsonHeader(raw)).toEqual({
      code: 310,
      language: 'JAVA',
      version: 121,
      opaque: 3,
      flag: 0,
      extFields: { e: '0', k: 'false', g: '1700000000000', b: 'T' },
    });
  });

  it('defaults missing optional fields', () => {
    expect(decodeJsonHeader(Buffer.from('{"code":3}'))).toEqual({
      code: 3,
      language: 'JAVA',
      version: 0,
      opaque: 0,
      flag: 0,
      extFields: {},
    });
  });

  it.each([
    ['not json', '{"code":'],
    ['not an object', '[1,2]'],
    ['missing code', '{"opaque":1}'],
    ['fractional code', '{"code":1.5}'],
    ['string opaque', '{"code":1,"opaque":"x"}'],
    ['nested extFields value', '{"code":1,"extFields":{"a":{"b":1}}}'],
    ['array extFields', '{"code":1,"extFields":[]}'],
    ['numeric remark', '{"code":1,"remark":5}'],
  ])('rejects %s with FrameError', (_name, text) => {
    expect(() => decodeJsonHeader(Buffer.from(text))).toThrow(FrameError);
  });
});

describe('binary (ROCKETMQ) header', () => {
  const golden = Buffer.from(
    [
      '000a', // code 10
      '00', // language JAVA
      '0199', // version 409
      '00000001', // opaque 1
      '00000000', // flag 0
      '00000002', '6f6b', // remark "ok"
      '00000008', '0001', '61', '00000001', '62', // extFields a=b (8 bytes)
    ].join(''),
    'hex',
  );

  it('encodes to golden bytes', () => {
    const bytes = encodeBinaryHeader({ code: 10, language: 'JAVA', version: 409, opaque: 1, flag: 0, remark: 'ok', extFields: { a: 'b' } });
    expect(bytes.toString('hex')).toBe('000a000199000000010000000000000002' + '6f6b' + '00000008000161' + '0000000162');
    expect(bytes.equals(golden)).toBe(true);
  });

  it('decodes golden bytes', () => {
    expect(decodeBinaryHeader(golden)).toEqual({ code: 10, language: 'JAVA', version: 409, opaque: 1, flag: 0, remark: 'ok', extFields: { a: 'b' } });
  });

  it('writes pre-encoded extFields entries (extBytes) after the fields, into the same extFields length', () => {
    const extBytes = encodeExtEntries({ c: 'd', topic: 'Tōpic' });
    expect(extBytes.toString('hex')).toBe('0001' + '63' + '00000001' + '64' + '0005' + '746f706963' + '00000006' + '54c58d706963');
    const bytes = encodeBinaryHeader({ code: 10, language: 'JAVA', version: 409, opaque: 1, flag: 0, remark: 'ok', extFields: { a: 'b' }, extBytes });
    expect(bytes.toString('hex')).toBe('000a000199000000010000000000000002' + '6f6b' + '00000021' + '000161' + '0000000162' + extBytes.toString('hex'));
    expect(decodeBinaryHeader(bytes).extFields).toEqual({ a: 'b', c: 'd', topic: 'Tōpic' });
    // A JSON header has no place for bytes: they are decoded into its extFields.
    const json = encodeJsonHeader({ code: 10, language: 'JAVA', version: 409, opaque: 1, flag: 0, extFields: { a: 'b' }, extBytes });
    expect(decodeJsonHeader(Buffer.from(json)).extFields).toEqual({ a: 'b', c: 'd', topic: 'Tōpic' });
  });

  it('round-trips UTF-8, no remark, several fields, other languages', () => {
    const cmd = { code: 11, language: 'GO', version: 401, opaque: -5, flag: 3, extFields: { topic: 'Tōpic', queueId: '3', empty: '' } };
    const back = decodeBinaryHeader(encodeBinaryHeader(cmd));
    expect(back).toEqual(cmd);
  });

  it('writes each string as Buffer.byteLength measures it, short and long, ASCII or not', () => {
    const texts = ['', 'a', 'queueOffset', 'x'.repeat(32), 'y'.repeat(33), 'é', '話題', '😀', '\ud800', 'a\udc00b', 'ü'.repeat(40)];
    for (const text of texts) {
      const bytes = encodeBinaryHeader({ code: 1, language: 'JAVA', version: 1, opaque: 1, flag: 0, remark: text, extFields: { [text || 'k']: text } });
      const utf8 = Buffer.from(text, 'utf8');
      expect(bytes.readInt32BE(13), JSON.stringify(text)).toBe(utf8.length);
      expect(bytes.subarray(17, 17 + utf8.length).equals(utf8)).toBe(true);
      expect(decodeBinaryHeader(bytes).extFields).toEqual({ [Buffer.from(text || 'k').toString()]: utf8.toString() });
    }
  });

  it('decodes a header in the middle of a buffer, and checks lengths against its end', () => {
    const cmd = { code: 11, language: 'JAVA', version: 409, opaque: 9, flag: 0, remark: 'r', extFields: { topic: 'T', queueId: '3' } };
    const header = encodeBinaryHeader(cmd);
    const padded = Buffer.concat([Buffer.from('junk'), header, Buffer.from('more')]);
    expect(decodeBinaryHeader(padded, 4, 4 + header.length)).toEqual(cmd);
    expect(() => decodeBinaryHeader(padded, 4, 4 + header.length - 1)).toThrow(FrameError);
    const json = Buffer.from(`xx${encodeJsonHeader(cmd)}yy`);
    expect(decodeJsonHeader(json, 2, json.length - 2)).toEqual(cmd);
  });

  it('decodes field names right when many names share the name cache', () => {
    const extFields: Record<string, string> = {};
    for (let i = 0; i < 3000; i++) extFields[`k${i}`] = String(i);
    extFields['ключ'] = 'v';
    const cmd = { code: 1, language: 'JAVA', version: 1, opaque: 1, flag: 0, extFields };
    for (let round = 0; round < 2; round++) expect(decodeBinaryHeader(encodeBinaryHeader(cmd))).toEqual(cmd);
  });

  it('decodes values right when many values share the value cache, and keeps repeated ones', () => {
    const extFields: Record<string, string> = {};
    for (let i = 0; i < 3000; i++) extFields[`k${i}`] = `value-${i % 1500}`;
    extFields.utf8 = 'значение';
    extFields.long = 'v'.repeat(40);
    const cmd = { code: 1, language: 'JAVA', version: 1, opaque: 1, flag: 0, extFields };
    for (let round = 0; round < 2; round++) expect(decodeBinaryHeader(encodeBinaryHeader(cmd))).toEqual(cmd);
  });

  it('tells apart values that land in the same cache slot, whichever byte differs', () => {
    // Same length, first, middle and last byte (what picks the slot): only an inner byte differs.
    const values = ['a1c2m3e4z', 'a1c2m3e5z', 'a9c2m3e4z', 'a1c2m3e4z'];
    for (let round = 0; round < 3; round++) {
      for (const value of values) {
        const cmd = { code: 1, language: 'JAVA', version: 1, opaque: 1, flag: 0, extFields: { v: value } };
        expect(decodeBinaryHeader(encodeBinaryHeader(cmd)).extFields.v).toBe(value);
      }
    }
  });

  it('encodes code, version, opaque and flag as int16/int32 two\'s complement', () => {
    const cmd = { code: -2, language: 'RUST', version: 0x12345, opaque: 0x80000001, flag: -1, extFields: {} };
    const bytes = encodeBinaryHeader(cmd, 3);
    expect(bytes.readInt16BE(3)).toBe(-2);
    expect(bytes.readInt8(5)).toBe(LanguageCode.RUST);
    expect(bytes.readInt16BE(6)).toBe(0x2345);
    expect(bytes.readInt32BE(8)).toBe(0x80000001 | 0);
    expect(bytes.readInt32BE(12)).toBe(-1);
  });

  it('refuses a field name longer than the int16 length field', () => {
    const cmd = { code: 1, language: 'JAVA', version: 1, opaque: 1, flag: 0, extFields: { ['k'.repeat(0x8000)]: 'v' } };
    expect(() => encodeBinaryHeader(cmd)).toThrow(/int16/);
  });

  it('rejects truncated or inconsistent headers', () => {
    const good = encodeBinaryHeader({ code: 1, language: 'JAVA', version: 1, opaque: 1, flag: 0, remark: 'r', extFields: { k: 'v' } });
    for (let n = 0; n < good.length; n++) {
      expect(() => decodeBinaryHeader(good.subarray(0, n)), `truncated to ${n}`).toThrow(FrameError);
    }
    const forged = Buffer.from(good);
    forged.writeInt32BE(0x7fffffff, 13); // remark length
    expect(() => decodeBinaryHeader(forged)).toThrow(/remark length/);
    const badKey = Buffer.from(good);
    badKey.writeInt16BE(100, 13 + 4 + 1 + 4); // key length inside extFields
    expect(() => decodeBinaryHeader(badKey)).toThrow(FrameError);
  });
});

describe('LanguageCode', () => {
  it('maps names and ordinals', () => {
    expect(LanguageCode.JAVA).toBe(0);
    expect(LanguageCode.GO).toBe(9);
    expect(LanguageCode.RUST).toBe(12);
    expect(languageOrdinal('NODE')).toBe(LanguageCode.OTHER);
    expect(languageName(3)).toBe('PYTHON');
    expect(languageName(99)).toBe('UNKNOWN_99');
  });
});
