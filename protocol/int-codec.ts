/**
 * Big-endian integer stores for hot encoders, and loads for hot decoders, that bounds-check a whole
 * record or header once instead of every field: typed-array stores keep the low 8 bits and drop
 * out-of-range writes silently, and loads past the end read garbage, so callers must have checked
 * `pos + 4` (or `+ 8`) against the buffer. (Buffer's readInt32BE validates its offset on every
 * call, which cost a decoder reading eight fields per record a third of its time.)
 */

/** The low 32 bits of `value` at `pos`; returns the position after. */
export function putInt32(out: Buffer, pos: number, value: number): number {
  out[pos] = value >>> 24;
  out[pos + 1] = value >>> 16;
  out[pos + 2] = value >>> 8;
  out[pos + 3] = value;
  return pos + 4;
}

/** A safe integer as int64 (two's complement) at `pos`; returns the position after. */
export function putInt64(out: Buffer, pos: number, value: number): number {
  putInt32(out, pos, Math.floor(value / 0x1_0000_0000));
  return putInt32(out, pos + 4, value);
}

/** The int32 at `pos`. */
export function getInt32(buf: Buffer, pos: number): number {
  return (buf[pos]! << 24) | (buf[pos + 1]! << 16) | (buf[pos + 2]! << 8) | buf[pos + 3]!;
}

/** The int64 at `pos` as a number: exact within ±2^53. */
export function getInt64(buf: Buffer, pos: number): number {
  return getInt32(buf, pos) * 0x1_0000_0000 + (getInt32(buf, pos + 4) >>> 0);
}
