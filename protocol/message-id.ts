/**
 * Message ids.
 *
 * Offset msgId (what a Java broker returns from SEND and ali-ons computes per pulled record), big-endian:
 *   | store host IP   4 bytes (IPv4) or 16 (IPv6) |
 *   | store port      int32                       |
 *   | physical offset int64                       |
 * printed as uppercase hex: 32 characters for IPv4, 56 for IPv6.
 *
 * Unique id (`UNIQ_KEY`, RocketMQ `MessageClientIDSetter`), 16 bytes as 32 uppercase hex characters:
 *   | client IPv4 4 | pid int16 | class-loader hash int32 | ms since start of month int32 | counter int16 |
 * FerryMQ uses a random int32 per process for Java's class-loader hash.
 */
import { randomInt } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { InvalidArgumentError } from './errors.js';
import { putInt64 } from './int-codec.js';
import { formatIPv4, formatIPv6, ipv4Bytes, ipv6Bytes } from './socket-address.js';

const TWO_POW_32 = 0x1_0000_0000;

/** Writes a safe integer (negative ones too, in two's complement) as int64 big-endian. */
export function writeInt64(buf: Buffer, value: number, offset: number): void {
  if (!(offset >= 0 && offset + 8 <= buf.length)) throw new RangeError(`int64 at ${offset} does not fit a ${buf.length}-byte buffer`);
  putInt64(buf, offset, value);
}

/** Reads an int64 as a number: exact within ±2^53, which FerryMQ offsets, timestamps and tag codes stay in. */
export function readInt64(buf: Buffer, offset: number): number {
  return buf.readInt32BE(offset) * TWO_POW_32 + buf.readUInt32BE(offset + 4);
}

export function createOffsetMsgId(ip: string, port: number, physicalOffset: number): string {
  if (!Number.isSafeInteger(physicalOffset) || physicalOffset < 0) {
    throw new InvalidArgumentError(`physical offset must be a non-negative integer below 2^53, got ${physicalOffset}`);
  }
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new InvalidArgumentError(`port out of range: ${port}`);
  const v4 = ipv4Bytes(ip);
  let buf: Buffer;
  let at: number;
  if (v4) {
    buf = Buffer.allocUnsafe(16);
    buf[0] = v4[0];
    buf[1] = v4[1];
    buf[2] = v4[2];
    buf[3] = v4[3];
    at = 4;
  } else {
    const v6 = ipv6Bytes(ip);
    if (!v6) throw new InvalidArgumentError(`not an IP address: ${JSON.stringify(ip)}`);
    buf = Buffer.allocUnsafe(28);
    v6.copy(buf, 0);
    at = 16;
  }
  buf.writeInt32BE(port, at);
  writeInt64(buf, physicalOffset, at + 4);
  return buf.toString('hex').toUpperCase();
}

export interface OffsetMsgId {
  ip: string;
  port: number;
  physicalOffset: number;
}

function isHex(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

export function decodeOffsetMsgId(id: string): OffsetMsgId {
  if (typeof id !== 'string' || (id.length !== 32 && id.length !== 56)) {
    throw new InvalidArgumentError(`offset msgId must be 32 (IPv4) or 56 (IPv6) hex characters, got ${String(id).length}`);
  }
  if (!isHex(id)) throw new InvalidArgumentError(`offset msgId is not hex: ${id}`);
  const buf = Buffer.from(id, 'hex');
  const ipLength = id.length === 32 ? 4 : 16;
  const port = buf.readInt32BE(ipLength);
  if (port < 0 || port > 0xffff) throw new InvalidArgumentError(`offset msgId ${id} has port ${port} out of range`);
  if (buf.readUInt32BE(ipLength + 4) >= 0x200000) {
    throw new InvalidArgumentError(`offset msgId ${id} has a physical offset >= 2^53`);
  }
  return {
    ip: ipLength === 4 ? formatIPv4(buf, 0) : formatIPv6(buf, 0),
    port,
    physicalOffset: readInt64(buf, ipLength + 4),
  };
}

/** The first non-internal IPv4 address of this host, else 127.0.0.1. */
export function localIPv4(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const addr of list ?? []) {
      if (addr.family === 'IPv4' && !addr.internal) return addr.address;
    }
  }
  return '127.0.0.1';
}

/** Uppercase hex of each byte value. */
const HEX_BYTE: readonly string[] = Array.from({ length: 256 }, (_, b) => b.toString(16).toUpperCase().padStart(2, '0'));

function hexInt32(value: number): string {
  return HEX_BYTE[(value >>> 24) & 0xff]! + HEX_BYTE[(value >>> 16) & 0xff]! + HEX_BYTE[(value >>> 8) & 0xff]! + HEX_BYTE[value & 0xff]!;
}

/**
 * 16 uppercase hex digits of a non-negative safe integer (the physical-offset part of an offset
 * msgId); a table walk costs about half of `toString(16).toUpperCase().padStart(16, '0')`.
 */
export function hexInt64(value: number): string {
  return hexInt32(Math.floor(value / TWO_POW_32)) + hexInt32(value >>> 0);
}

let uniqPrefix: string | undefined;
let monthStart = 0;
let nextMonthStart = 0;
let counter = 0;
/** The time part for the last `now` seen: ids made in one millisecond share it. */
let timeHexAt = Number.NaN;
let timeHex = '';

function resetMonth(now: number): void {
  const d = new Date(now);
  monthStart = new Date(d.getFullYear(), d.getMonth(), 1).getTime();
  nextMonthStart = new Date(d.getFullYear(), d.getMonth() + 1, 1).getTime();
}

/**
 * A fresh `UNIQ_KEY` in RocketMQ's client format. Like Java's `MessageClientIDSetter`, the fixed
 * prefix is hex-encoded once; each id adds only the time and counter hex.
 */
export function createUniqueId(now = Date.now()): string {
  if (uniqPrefix === undefined) {
    const prefix = Buffer.alloc(10);
    const ip = ipv4Bytes(localIPv4()) ?? [127, 0, 0, 1];
    prefix.set(ip, 0);
    prefix.writeUInt16BE(process.pid & 0xffff, 4);
    prefix.writeInt32BE(randomInt(-0x80000000, 0x7fffffff), 6);
    uniqPrefix = prefix.toString('hex').toUpperCase();
  }
  if (now !== timeHexAt) {
    if (now >= nextMonthStart || now < monthStart) resetMonth(now);
    timeHex = hexInt32((now - monthStart) | 0);
    timeHexAt = now;
  }
  const count = counter;
  counter = (counter + 1) & 0xffff;
  return uniqPrefix + timeHex + HEX_BYTE[count >>> 8]! + HEX_BYTE[count & 0xff]!;
}
