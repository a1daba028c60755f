/**
 * CRC32 (zlib's: reflected polynomial 0xEDB88320, pre- and post-inverted) for the pieces of a record
 * around its body, and the combination of CRCs of adjacent ranges. A stored record's whole-record
 * CRC then costs one native pass over the body (whose CRC the record needs anyway) plus short JS
 * passes over the ~100 bytes before and after it: Node's `zlib.crc32` has a fixed cost of about
 * 200 ns per call, as much as 0.5 KiB of data, so a second native pass over the whole record cost
 * more than these.
 */
import zlib from 'node:zlib';

const POLY = 0xedb88320;

/** Ranges up to this many bytes are computed in JS; longer ones by zlib, which is faster per byte. */
const JS_RANGE_MAX = 256;

/** Slicing-by-8 tables: TABLES[k][b] is the CRC register after byte b followed by k zero bytes. */
const TABLES = Array.from({ length: 8 }, () => new Int32Array(256));
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? POLY ^ (c >>> 1) : c >>> 1;
  TABLES[0][n] = c;
}
for (let n = 0; n < 256; n++) {
  let c = TABLES[0][n];
  for (let k = 1; k < 8; k++) {
    c = TABLES[0][c & 0xff] ^ (c >>> 8);
    TABLES[k][n] = c;
  }
}
const [T0, T1, T2, T3, T4, T5, T6, T7] = TABLES as [Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array];

/** CRC32 of `buf[start, end)` continued from `crc` (the CRC of the bytes before), like `zlib.crc32(bytes, crc)`. */
export function crc32Range(buf: Buffer, start: number, end: number, crc = 0): number {
  if (end - start > JS_RANGE_MAX) return zlib.crc32(buf.subarray(start, end), crc);
  let c = ~crc;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    c ^= buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24);
    c =
      T7[c & 0xff] ^ T6[(c >>> 8) & 0xff] ^ T5[(c >>> 16) & 0xff] ^ T4[c >>> 24] ^ T3[buf[i + 4]] ^ T2[buf[i + 5]] ^ T1[buf[i + 6]] ^ T0[buf[i + 7]];
  }
  for (; i < end; i++) c = T0[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** a * b modulo the CRC polynomial (bit-reflected: the x^0 coefficient is bit 31). */
function multModP(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p >>> 0;
}

/** X_POW_2N[n] = x^(2^n) mod P. */
const X_POW_2N = new Uint32Array(32);
{
  let p = 0x40000000; // x^1
  X_POW_2N[0] = p;
  for (let n = 1; n < 32; n++) X_POW_2N[n] = p = multModP(p, p);
}

/** x^(8 * bytes) mod P: shifts a CRC register past `bytes` zero bytes. */
function shiftOperator(bytes: number): number {
  let p = 0x80000000; // x^0
  let k = 3;
  for (let n = bytes; n > 0; n = Math.floor(n / 2), k++) {
    if (n % 2 === 1) p = multModP(X_POW_2N[k & 31], p);
  }
  return p;
}

/**
 * A cached shift operator; a length seen often also gets the operator's product with every byte
 * value in each of the four byte positions of a CRC (the product is linear in the CRC's bits), so
 * `multModP(op, crc)`, a loop of up to 32 steps, becomes four lookups.
 */
interface Operator {
  op: number;
  uses: number;
  table: Int32Array | undefined;
}

/** Operators by length: a store sees a few body sizes again and again. Bounded, since sizes are the producer's to choose. */
const operators = new Map<number, Operator>();
const MAX_CACHED_OPERATORS = 1024;
/** Uses before a length gets its lookup table (4 KiB, built from 32 products and 1,024 XORs). */
const TABLE_AFTER_USES = 8;
const MAX_TABLES = 64;
let tables = 0;

/** TABLE[k * 256 + v] = op * (v << 8k) mod P, in the bit-reflected order CRC registers use. */
function productTable(op: number): Int32Array {
  const table = new Int32Array(1024);
  for (let k = 0; k < 4; k++) {
    const base = k * 256;
    for (let bit = 0; bit < 8; bit++) table[base + (1 << bit)] = multModP(op, (1 << (8 * k + bit)) >>> 0);
    // Every other value is the XOR of the products of its bits.
    for (let v = 3; v < 256; v++) if (v & (v - 1)) table[base + v] = table[base + (v & (v - 1))] ^ table[base + (v & -v)];
  }
  return table;
}

/** The CRC32 of A followed by B, from `crcA`, `crcB` and the length of B. */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  let entry = operators.get(lengthB);
  if (entry === undefined) {
    if (operators.size >= MAX_CACHED_OPERATORS) {
      operators.clear();
      tables = 0;
    }
    entry = { op: shiftOperator(lengthB), uses: 0, table: undefined };
    operators.set(lengthB, entry);
  }
  const table = entry.table;
  if (table !== undefined) {
    return (table[crcA & 0xff] ^ table[256 + ((crcA >>> 8) & 0xff)] ^ table[512 + ((crcA >>> 16) & 0xff)] ^ table[768 + (crcA >>> 24)] ^ crcB) >>> 0;
  }
  if (++entry.uses >= TABLE_AFTER_USES && tables < MAX_TABLES) {
    entry.table = productTable(entry.op);
    tables += 1;
  }
  return (multModP(entry.op, crcA) ^ crcB) >>> 0;
}
