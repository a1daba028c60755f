import { describe, expect, it } from 'vitest';
import { writeUtf8 } from '../../protocol/utf8.js';

describe('writeUtf8', () => {
  it('writes the same bytes as Buffer#write, by the loop or natively, and returns their count', () => {
    for (const [text, loopMax] of [
      ['', 64],
      ['TAGS\x01TagA\x02KEYS\x01k1\x02', 64],
      ['topic-名前', 64], // turns non-ASCII after an ASCII start: rewritten natively
      ['é', 64],
      ['x'.repeat(65), 64], // longer than the loop takes
      ['emoji 🚀 in a value', 128],
    ] as const) {
      const out = Buffer.alloc(300, 0xee);
      const n = writeUtf8(out, 3, text, loopMax);
      const expected = Buffer.from(text, 'utf8');
      expect(n).toBe(expected.length);
      expect(out.subarray(3, 3 + n)).toEqual(expected);
      // Nothing before the position or past the bytes written is touched.
      expect(out[2]).toBe(0xee);
      expect(out[3 + n]).toBe(0xee);
    }
  });
});
