/**
 * The store-wide whole-record CRC. Every stored record ends with the property
 * `__CRC32#\x01dddddddddd\x02`: ten zero-padded decimal digits of CRC32 (zlib) over every record
 * byte before those digits. A record therefore verifies itself even without its index entry
 * (RocketMQ 5 carries the same property); clients just see one more property.
 */
import zlib from 'node:zlib';
import { crc32Combine, crc32Range } from '../protocol/crc32.js';

export const CRC_PROPERTY_NAME = '__CRC32#';
const CRC_PLACEHOLDER = `${CRC_PROPERTY_NAME}\x010000000000\x02`;
/** `__CRC32#\x01` */
const CRC_PREFIX = Buffer.from(`${CRC_PROPERTY_NAME}\x01`, 'latin1');
const DIGITS = 10;
/** Bytes from the first CRC digit to the record end: ten digits and `\x02`. */
const CRC_TAIL = DIGITS + 1;
/** Bytes the CRC property adds to a properties string, including a separator it may need. */
export const CRC_PROPERTY_OVERHEAD = CRC_PLACEHOLDER.length + 1;

/** A CRC property copied from an earlier stored record (delay delivery, send-back). */
const CARRIED_CRC_PROPERTY = /__CRC32#\x01[^\x02]*\x02?/g;

/** The placeholder as bytes, alone and after a separator. */
const CRC_SUFFIX = Buffer.from(CRC_PLACEHOLDER, 'latin1');
const CRC_SUFFIX_AFTER_SEPARATOR = Buffer.from(`\x02${CRC_PLACEHOLDER}`, 'latin1');

/**
 * `properties` with the CRC property appended (digits zero until `stampRecordCrc`); one carried over
 * from a stored record is dropped, so a message copied from the log does not collect them.
 */
export function withCrcPlaceholder(given: string): string {
  const properties = given.includes(CRC_PROPERTY_NAME) ? given.replace(CARRIED_CRC_PROPERTY, '') : given;
  if (properties.length === 0 || properties.endsWith('\x02')) return properties + CRC_PLACEHOLDER;
  return `${properties}\x02${CRC_PLACEHOLDER}`;
}

/**
 * The bytes `withCrcPlaceholder(given)` adds after `given`, so an encoder can store `given` and
 * these without building the joined string; undefined when `given` carries a CRC property of its
 * own (then only `withCrcPlaceholder` gives the stored string).
 */
export function crcPlaceholderSuffix(given: string): Buffer | undefined {
  if (given.includes(CRC_PROPERTY_NAME)) return undefined;
  return given.length === 0 || given.charCodeAt(given.length - 1) === 2 ? CRC_SUFFIX : CRC_SUFFIX_AFTER_SEPARATOR;
}

/** Computes the CRC of the record at `start` (of `size` bytes) and writes its digits; returns it. */
export function stampRecordCrc(buf: Buffer, start: number, size: number): number {
  const digitsAt = start + size - CRC_TAIL;
  return writeCrcDigits(buf, digitsAt, zlib.crc32(buf.subarray(start, digitsAt)));
}

/**
 * `stampRecordCrc` for a record whose body, `bodyLength` bytes at `bodyStart`, has the (unmasked)
 * CRC `bodyCrc`: only the bytes around the body are read again.
 */
export function stampRecordCrcAroundBody(buf: Buffer, start: number, size: number, bodyStart: number, bodyLength: number, bodyCrc: number): number {
  const digitsAt = start + size - CRC_TAIL;
  const bodyEnd = bodyStart + bodyLength;
  const throughBody = crc32Combine(crc32Range(buf, start, bodyStart), bodyCrc, bodyLength);
  return writeCrcDigits(buf, digitsAt, crc32Range(buf, bodyEnd, digitsAt, throughBody));
}

/** zlib CRC32 of all `size` bytes of the record at `start`, given its stamped CRC (of the bytes before its digits). */
export function wholeRecordBytesCrc(buf: Buffer, start: number, size: number, recordCrc: number): number {
  return crc32Range(buf, start + size - CRC_TAIL, start + size, recordCrc);
}

function writeCrcDigits(buf: Buffer, digitsAt: number, crc: number): number {
  // Two halves of five digits: a CRC above 2^31 is a heap number, and `%` on one is a slow
  // floating-point remainder, while both halves are small integers.
  let high = Math.floor(crc / 100_000) | 0;
  let low = (crc - high * 100_000) | 0;
  for (let i = DIGITS - 1; i >= DIGITS / 2; i--) {
    buf[digitsAt + i] = 0x30 + (low % 10);
    low = (low / 10) | 0;
  }
  for (let i = DIGITS / 2 - 1; i >= 0; i--) {
    buf[digitsAt + i] = 0x30 + (high % 10);
    high = (high / 10) | 0;
  }
  return crc;
}

/** The CRC written in the record's trailing property, or undefined if it has none. */
export function readRecordCrc(buf: Buffer, start: number, size: number): number | undefined {
  const digitsAt = start + size - CRC_TAIL;
  if (size < CRC_TAIL + CRC_PREFIX.length || buf[start + size - 1] !== 0x02) return undefined;
  // A loop over nine bytes is cheaper than a native compare, and this runs for every record a pull serves.
  const prefixAt = digitsAt - CRC_PREFIX.length;
  for (let i = 0; i < CRC_PREFIX.length; i++) if (buf[prefixAt + i] !== CRC_PREFIX[i]) return undefined;
  let value = 0;
  for (let i = 0; i < DIGITS; i++) {
    const digit = buf[digitsAt + i] - 0x30;
    if (digit < 0 || digit > 9) return undefined;
    value = value * 10 + digit;
  }
  return value > 0xffffffff ? undefined : value;
}

/** True when the record's trailing CRC property matches its bytes. */
export function verifyRecordCrc(buf: Buffer, start: number, size: number): boolean {
  const stored = readRecordCrc(buf, start, size);
  return stored !== undefined && stored === zlib.crc32(buf.subarray(start, start + size - CRC_TAIL));
}
