import { describe, expect, it } from 'vitest';
import { MessageConst, decodeProperties, encodeProperties, scanProperties } from '../../protocol/properties.js';
import { InvalidArgumentError } from '../../protocol/errors.js';

describe('properties', () => {
  it('encodes name\\x01value\\x02 with a trailing separator, skipping null/undefined', () => {
    expect(encodeProperties({ TAGS: 'TagA', KEYS: 'k1 k2', DELAY: 3, WAIT: true, x: undefined, y: null })).toBe(
      'TAGS\u0001TagA\u0002KEYS\u0001k1 k2\u0002DELAY\u00013\u0002WAIT\u0001true\u0002',
    );
    expect(encodeProperties({})).toBe('');
    expect(encodeProperties(new Map([['a', 'b']]))).toBe('a\u0001b\u0002');
  });

  it('decodes, tolerating a missing trailing separator, empty values and junk pairs', () => {
    expect(decodeProperties('TAGS\u0001TagA\u0002KEYS\u0001k\u0002')).toEqual({ TAGS: 'TagA', KEYS: 'k' });
    expect(decodeProperties('TAGS\u0001TagA')).toEqual({ TAGS: 'TagA' });
    expect(decodeProperties('A\u0001\u0002junk\u0002\u0002B\u0001x\u0001y\u0002')).toEqual({ A: '', B: 'x\u0001y' });
    expect(decodeProperties('')).toEqual({});
  });

  it('keeps __proto__ as an ordinary name', () => {
    const map = decodeProperties('__proto__\u0001x\u0002');
    expect(map.__proto__).toBe('x');
    expect(Object.keys(map)).toEqual(['__proto__']);
  });

  it('round-trips UTF-8 and refuses separators inside names or values', () => {
    const map = { TAGS: '标签', [MessageConst.SHARDING_KEY]: 'ключ' };
    expect(decodeProperties(encodeProperties(map))).toEqual(map);
    expect(() => encodeProperties({ a: 'x\u0002y' })).toThrow(InvalidArgumentError);
    expect(() => encodeProperties({ 'a\u0001': 'x' })).toThrow(InvalidArgumentError);
    expect(() => encodeProperties({ '': 'x' })).toThrow(InvalidArgumentError);
  });

  it('uses the RocketMQ property names', () => {
    expect(MessageConst.SHARDING_KEY).toBe('__SHARDING_KEY');
    expect(MessageConst.REAL_QID).toBe('REAL_QID');
    expect(MessageConst.DELAY).toBe('DELAY');
    expect(MessageConst.TRAN_MSG).toBe('TRAN_MSG');
  });
});

describe('scanProperties', () => {
  const names = ['TAGS', 'KEYS', 'DELAY'];

  it('reads the asked names from a canonical string', () => {
    const values: (string | undefined)[] = [];
    expect(scanProperties('TAGS\u0001a\u0002UNIQ_KEY\u0001u\u0002DELAY\u0001\u0002', names, values)).toBe(true);
    expect(values).toEqual(['a', undefined, '']);
    expect(scanProperties('', names, values)).toBe(true);
    expect(values).toEqual([undefined, undefined, undefined]);
  });

  it('calls a string non-canonical when re-encoding its decoded map would change it', () => {
    const values: (string | undefined)[] = [];
    for (const str of [
      'TAGS\u0001a', // no trailing separator
      'TAGS\u0001a\u0002\u0002', // empty pair
      '\u0001a\u0002', // empty name
      'junk\u0002', // pair without a value
      'TAGS\u0001a\u0001b\u0002', // second \x01 in the value
      'TAGS\u0001a\u0002TAGS\u0001b\u0002', // duplicate name
      'KEYS\u0001k\u00021\u0001x\u0002', // integer-like name: the object map puts it first
    ]) {
      expect(scanProperties(str, names, values), JSON.stringify(str)).toBe(false);
    }
  });

  it('agrees with decode + encode on random strings', () => {
    let seed = 42;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const pieces = ['TAGS', 'KEYS', 'DELAY', 'a', 'ab', 'b', '1', '\u0001', '\u0002', '\u0002', '\u0001', 'x y'];
    const values: (string | undefined)[] = [];
    let canonical = 0;
    for (let i = 0; i < 5_000; i++) {
      let str = '';
      for (let n = random(10); n > 0; n--) str += pieces[random(pieces.length)];
      if (!scanProperties(str, names, values)) continue;
      canonical++;
      const map = decodeProperties(str);
      expect(encodeProperties(map), JSON.stringify(str)).toBe(str);
      expect(values).toEqual(names.map((name) => map[name]));
    }
    expect(canonical).toBeGreaterThan(100);
  });
});
