import { describe, expect, it } from 'vitest';
import { getInt32, getInt64, putInt32, putInt64 } from '../../protocol/int-codec.js';

describe('int-codec', () => {
  it('loads what Buffer reads, and what the stores wrote', () => {
    const buf = Buffer.alloc(16);
    for (const value of [0, 1, -1, 0x7fffffff, -0x80000000, 0x12345678, -123_456]) {
      putInt32(buf, 3, value);
      expect(getInt32(buf, 3)).toBe(value);
      expect(getInt32(buf, 3)).toBe(buf.readInt32BE(3));
    }
    for (const value of [0, 1, -1, 2 ** 32, 2 ** 53 - 1, -(2 ** 53 - 1), 1_700_000_000_123, -5_000_000_000]) {
      putInt64(buf, 5, value);
      expect(getInt64(buf, 5)).toBe(value);
      expect(getInt64(buf, 5)).toBe(Number(buf.readBigInt64BE(5)));
    }
  });
});
