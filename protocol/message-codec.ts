/**
 * The stored-message record: RocketMQ 4.x commit-log "v1" layout, which is also the body format of a
 * PULL response (records back to back). Big-endian; positions for IPv4 hosts, the only kind FerryMQ
 * writes:
 *
 *   pos  size  field
 *     0     4  TOTALSIZE            whole record, this field included
 *     4     4  MAGICCODE            0xDAA320A7
 *     8     4  BODYCRC              crc32(body) & 0x7FFFFFFF, over the body as stored (maybe compressed)
 *    12     4  QUEUEID
 *    16     4  FLAG                 user flag
 *    20     8  QUEUEOFFSET          logical offset in the queue
 *    28     8  PHYSICALOFFSET       unique position; part of the offset msgId
 *    36     4  SYSFLAG              0x1 compressed, 0x10 born host IPv6, 0x20 store host IPv6, …
 *    40     8  BORNTIMESTAMP        ms
 *    48     8  BORNHOST             4-byte IPv4 + int32 port (16 + 4 bytes when sysFlag 0x10)
 *    56     8  STORETIMESTAMP       ms
 *    64     8  STOREHOST            4-byte IPv4 + int32 port (16 + 4 bytes when sysFlag 0x20)
 *    72     4  RECONSUMETIMES
 *    76     8  PREPARED TX OFFSET
 *    84     4  BODYLENGTH           then BODYLENGTH bytes of body
 *     .     1  TOPICLENGTH          then the topic (at most 127 bytes)
 *     .     2  PROPERTIESLENGTH     then the properties string (at most 32767 bytes)
 *
 * Records are decoded in both host forms but always encoded with IPv4 hosts, because ali-ons reads
 * both hosts as IPv4 whatever sysFlag says: an IPv6 or unparsable host is written as 127.0.0.1 and
 * the 0x10/0x20 bits are cleared.
 */
import { crc32 } from 'node:zlib';
import { FrameError, InvalidArgumentError } from './errors.js';
import { readInt64, writeInt64 } from './message-id.js';
import { decodeProperties, type PropertyMap } from './properties.js';
import { formatIPv4, formatIPv6, ipv4Bytes, type SocketAddress } from './socket-address.js';

export const MESSAGE_MAGIC = 0xdaa320a7;
const MESSAGE_MAGIC_INT32 = MESSAGE_MAGIC | 0;

/** Field positions; from STORE_TIMESTAMP on they hold for an IPv4 born host (see `storeTimestampPos`). */
export const RecordPos = {
  TOTAL_SIZE: 0,
  MAGIC: 4,
  BODY_CRC: 8,
  QUEUE_ID: 12,
  FLAG: 16,
  QUEUE_OFFSET: 20,
  PHYSICAL_OFFSET: 28,
  SYSFLAG: 36,
  BORN_TIMESTAMP: 40,
  BORN_HOST: 48,
  STORE_TIMESTAMP: 56,
  STORE_HOST: 64,
  RECONSUME_TIMES: 72,
  PREPARED_TRANSACTION_OFFSET: 76,
  BODY_LENGTH: 84,
  BODY: 88,
} as const;

export const MessageSysFlag = {
  COMPRESSED: 0x1,
  MULTI_TAGS: 0x2,
  TRANSACTION_PREPARED: 0x4,
  TRANSACTION_COMMIT: 0x8,
  TRANSACTION_ROLLBACK: 0xc,
  BORNHOST_V6: 0x10,
  STOREHOST_V6: 0x20,
} as const;

export const MAX_TOPIC_BYTES = 127;
export const MAX_PROPERTIES_BYTES = 32767;
/** Size of a record with IPv4 hosts and empty body, topic and properties. */
export const MIN_RECORD_SIZE = 91;
/** Default upper bound for `checkRecord`: the largest frame a pull response can carry. */
export const DEFAULT_MAX_RECORD_SIZE = 16 * 1024 * 1024;

export function storeTimestampPos(sysFlag: number): number {
  return sysFlag & MessageSysFlag.BORNHOST_V6 ? RecordPos.STORE_TIMESTAMP + 12 : RecordPos.STORE_TIMESTAMP;
}

export function bodyCrc(body: Buffer): number {
  return crc32(body) & 0x7fffffff;
}

export function recordSize(bodyLen: number, topicLen: number, propsLen: number, bornV6 = false, storeV6 = false): number {
  return MIN_RECORD_SIZE + bodyLen + topicLen + propsLen + (bornV6 ? 12 : 0) + (storeV6 ? 12 : 0);
}

export interface RecordFields {
  queueId: number;
  flag: number;
  queueOffset: number;
  physicalOffset: number;
  sysFlag: number;
  bornTimestamp: number;
  bornHost: SocketAddress;
  storeTimestamp: number;
  storeHost: SocketAddress;
  reconsumeTimes: number;
  preparedTransactionOffset?: number;
  body: Buffer;
  topic: string;
  /** The properties string (`k\x01v\x02…`), stored as given. */
  properties: string;
  /** Pass a value already computed to skip the CRC; it must equal `bodyCrc(body)`. */
  bodyCrc?: number;
}

/** What an encoder may add to `RecordFields`. */
export interface EncodeFields extends RecordFields {
  /** The UTF-8 size of `properties`, when the caller has it already. */
  propertiesBytes?: number;
  /** Bytes stored right after `properties`, as part of the properties field (e.g. a property the store adds). */
  propertiesSuffix?: Buffer;
}

export interface DecodedRecord extends Required<Omit<RecordFields, 'bodyCrc'>> {
  totalSize: number;
  bodyCrc: number;
  /** Parsed `properties`. */
  propertyMap: PropertyMap;
  /** Offset msgId: hex of store host, port and physical offset. */
  msgId: string;
}

const LOOPBACK: [number, number, number, number] = [127, 0, 0, 1];

/** The last two hosts parsed: a store encodes the same store host, and often the same born host, again and again. */
const hostCache: { ip: string; bytes: readonly number[] }[] = [
  { ip: '127.0.0.1', bytes: LOOPBACK },
  { ip: '127.0.0.1', bytes: LOOPBACK },
];
let hostCacheNext = 0;

function hostBytes(ip: string): readonly number[] {
  if (hostCache[0].ip === ip) return hostCache[0].bytes;
  if (hostCache[1].ip === ip) return hostCache[1].bytes;
  const entry = { ip, bytes: ipv4Bytes(ip) ?? LOOPBACK };
  hostCache[hostCacheNext] = entry;
  hostCacheNext ^= 1;
  return entry.bytes;
}

function checkOffsetField(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new InvalidArgumentError(`${name} must be a non-negative safe integer, got ${v}`);
}

function writeHost(buf: Buffer, pos: number, host: SocketAddress): void {
  const ip = hostBytes(host.ip);
  buf[pos] = ip[0];
  buf[pos + 1] = ip[1];
  buf[pos + 2] = ip[2];
  buf[pos + 3] = ip[3];
  buf.writeInt32BE(host.port | 0, pos + 4);
}

/**
 * Encodes a record into `target` at `offset` (returns the bytes written) or, without a target, into
 * a new Buffer (returned). Throws `InvalidArgumentError` when a field does not fit its slot.
 */
export function encodeRecord(fields: EncodeFields): Buffer;
export function encodeRecord(fields: EncodeFields, target: Buffer, offset?: number): number;
export function encodeRecord(fields: EncodeFields, target?: Buffer, offset = 0): number | Buffer {
  const topicLen = Buffer.byteLength(fields.topic, 'utf8');
  const suffix = fields.propertiesSuffix;
  const givenLen = fields.propertiesBytes ?? Buffer.byteLength(fields.properties, 'utf8');
  const propsLen = suffix ? givenLen + suffix.length : givenLen;
  if (topicLen === 0 || topicLen > MAX_TOPIC_BYTES) {
    throw new InvalidArgumentError(`topic must be 1..${MAX_TOPIC_BYTES} bytes, got ${topicLen}`);
  }
  if (propsLen > MAX_PROPERTIES_BYTES) {
    throw new InvalidArgumentError(`properties are ${propsLen} bytes, more than ${MAX_PROPERTIES_BYTES}`);
  }
  const size = recordSize(fields.body.length, topicLen, propsLen);
  if (size > 0x7fffffff) throw new InvalidArgumentError(`record of ${size} bytes exceeds the int32 size field`);
  checkOffsetField('queueOffset', fields.queueOffset);
  checkOffsetField('physicalOffset', fields.physicalOffset);
  checkOffsetField('bornTimestamp', fields.bornTimestamp);
  checkOffsetField('storeTimestamp', fields.storeTimestamp);
  const buf = target ?? Buffer.allocUnsafe(size);
  if (offset < 0 || offset + size > buf.length) {
    throw new InvalidArgumentError(`record of ${size} bytes does not fit at ${offset} in a ${buf.length}-byte buffer`);
  }
  const p = offset;
  buf.writeInt32BE(size, p + RecordPos.TOTAL_SIZE);
  buf.writeInt32BE(MESSAGE_MAGIC_INT32, p + RecordPos.MAGIC);
  buf.writeInt32BE(fields.bodyCrc ?? bodyCrc(fields.body), p + RecordPos.BODY_CRC);
  buf.writeInt32BE(fields.queueId | 0, p + RecordPos.QUEUE_ID);
  buf.writeInt32BE(fields.flag | 0, p + RecordPos.FLAG);
  writeInt64(buf, fields.queueOffset, p + RecordPos.QUEUE_OFFSET);
  writeInt64(buf, fields.physicalOffset, p + RecordPos.PHYSICAL_OFFSET);
  const sysFlag = fields.sysFlag & ~(MessageSysFlag.BORNHOST_V6 | MessageSysFlag.STOREHOST_V6);
  buf.writeInt32BE(sysFlag | 0, p + RecordPos.SYSFLAG);
  writeInt64(buf, fields.bornTimestamp, p + RecordPos.BORN_TIMESTAMP);
  writeHost(buf, p + RecordPos.BORN_HOST, fields.bornHost);
  writeInt64(buf, fields.storeTimestamp, p + RecordPos.STORE_TIMESTAMP);
  writeHost(buf, p + RecordPos.STORE_HOST, fields.storeHost);
  buf.writeInt32BE(fields.reconsumeTimes | 0, p + RecordPos.RECONSUME_TIMES);
  writeInt64(buf, fields.preparedTransactionOffset ?? 0, p + RecordPos.PREPARED_TRANSACTION_OFFSET);
  buf.writeInt32BE(fields.body.length, p + RecordPos.BODY_LENGTH);
  let pos = p + RecordPos.BODY + fields.body.copy(buf, p + RecordPos.BODY);
  buf[pos++] = topicLen;
  pos += buf.write(fields.topic, pos, 'utf8');
  buf.writeUInt16BE(propsLen, pos);
  pos += 2;
  if (givenLen > 0) pos += buf.write(fields.properties, pos, 'utf8');
  if (suffix) suffix.copy(buf, pos);
  return target ? size : buf;
}

export type RecordCheck =
  | { status: 'OK'; ok: true; size: number }
  | { status: 'INCOMPLETE'; ok: false; reason: string; size?: number }
  | { status: 'CORRUPT'; ok: false; reason: string };

function corrupt(reason: string): RecordCheck {
  return { status: 'CORRUPT', ok: false, reason };
}

/**
 * Validates the record at `offset`, reading at most `available` bytes and allocating nothing:
 * magic, TOTALSIZE within [MIN_RECORD_SIZE, maxRecordSize] and equal to the size implied by the
 * body/topic/properties lengths, and the body CRC. INCOMPLETE means the bytes seen so far are
 * consistent but the record runs past `available` (a torn tail); `size` is its claimed size.
 * Fields outside the lengths, magic and body are not covered by any checksum in this layout.
 */
export function checkRecord(
  buf: Buffer,
  offset = 0,
  available = buf.length - offset,
  maxRecordSize = DEFAULT_MAX_RECORD_SIZE,
): RecordCheck {
  const avail = Math.min(available, buf.length - offset);
  if (avail < 4) return { status: 'INCOMPLETE', ok: false, reason: `only ${Math.max(avail, 0)} bytes for the size field` };
  const size = buf.readInt32BE(offset);
  if (size < MIN_RECORD_SIZE) return corrupt(`total size ${size} is below the ${MIN_RECORD_SIZE}-byte minimum`);
  if (size > maxRecordSize) return corrupt(`total size ${size} exceeds the ${maxRecordSize}-byte maximum`);
  const incomplete = (): RecordCheck => ({
    status: 'INCOMPLETE',
    ok: false,
    size,
    reason: `record of ${size} bytes, only ${avail} available`,
  });
  if (avail < 8) return incomplete();
  if (buf.readInt32BE(offset + RecordPos.MAGIC) !== MESSAGE_MAGIC_INT32) {
    return corrupt(`bad magic 0x${buf.readUInt32BE(offset + RecordPos.MAGIC).toString(16)}`);
  }
  if (avail < RecordPos.SYSFLAG + 4) return incomplete();
  const sysFlag = buf.readInt32BE(offset + RecordPos.SYSFLAG);
  const hostExtra = (sysFlag & MessageSysFlag.BORNHOST_V6 ? 12 : 0) + (sysFlag & MessageSysFlag.STOREHOST_V6 ? 12 : 0);
  const bodyLenPos = RecordPos.BODY_LENGTH + hostExtra;
  if (avail < bodyLenPos + 4) return incomplete();
  const bodyLen = buf.readInt32BE(offset + bodyLenPos);
  if (bodyLen < 0 || bodyLenPos + 4 + bodyLen + 3 > size) {
    return corrupt(`body length ${bodyLen} does not fit in a record of ${size} bytes`);
  }
  const topicLenPos = bodyLenPos + 4 + bodyLen;
  if (avail < topicLenPos + 1) return incomplete();
  const topicLen = buf[offset + topicLenPos];
  if (topicLen === 0 || topicLen > MAX_TOPIC_BYTES) return corrupt(`topic length ${topicLen} is outside 1..${MAX_TOPIC_BYTES}`);
  const propsLenPos = topicLenPos + 1 + topicLen;
  if (propsLenPos + 2 > size) return corrupt(`topic length ${topicLen} does not fit in a record of ${size} bytes`);
  if (avail < propsLenPos + 2) return incomplete();
  const propsLen = buf.readInt16BE(offset + propsLenPos);
  if (propsLen < 0 || propsLenPos + 2 + propsLen !== size) {
    return corrupt(`total size ${size} does not match body ${bodyLen}, topic ${topicLen} and properties ${propsLen} lengths`);
  }
  if (avail < size) return incomplete();
  const body = buf.subarray(offset + bodyLenPos + 4, offset + bodyLenPos + 4 + bodyLen);
  const storedCrc = buf.readInt32BE(offset + RecordPos.BODY_CRC);
  const actualCrc = bodyCrc(body);
  if (storedCrc !== actualCrc) return corrupt(`body CRC 0x${actualCrc.toString(16)} does not match stored 0x${(storedCrc >>> 0).toString(16)}`);
  return { status: 'OK', ok: true, size };
}

function readHost(buf: Buffer, pos: number, v6: boolean): SocketAddress {
  return v6
    ? { ip: formatIPv6(buf, pos), port: buf.readInt32BE(pos + 16) }
    : { ip: formatIPv4(buf, pos), port: buf.readInt32BE(pos + 4) };
}

/**
 * Decodes the record at `offset`. The body is a view into `buf` (no copy). Only lengths are checked
 * (a `FrameError` when they run past the buffer); use `checkRecord` first to verify magic, sizes
 * and CRC, and pass a buffer ending at the record when it must not read further.
 */
export function decodeRecord(buf: Buffer, offset = 0): DecodedRecord {
  const fail = (reason: string) => new FrameError(`record at ${offset}: ${reason}`);
  if (buf.length - offset < MIN_RECORD_SIZE) throw fail(`only ${buf.length - offset} bytes, less than a minimal record`);
  const totalSize = buf.readInt32BE(offset);
  // Fields are read by their own lengths, bounded by the buffer, as ali-ons and Java's
  // MessageDecoder do; TOTALSIZE is reported, not trusted (checkRecord is the strict check).
  const end = buf.length;
  const sysFlag = buf.readInt32BE(offset + RecordPos.SYSFLAG);
  const bornV6 = (sysFlag & MessageSysFlag.BORNHOST_V6) !== 0;
  const storeV6 = (sysFlag & MessageSysFlag.STOREHOST_V6) !== 0;
  if (end - offset < RecordPos.BODY + (bornV6 ? 12 : 0) + (storeV6 ? 12 : 0)) throw fail('header runs past the buffer');
  let pos = offset + RecordPos.BORN_HOST;
  const bornHost = readHost(buf, pos, bornV6);
  pos += bornV6 ? 20 : 8;
  const storeTimestamp = readInt64(buf, pos);
  pos += 8;
  const storeHostPos = pos;
  const storeHost = readHost(buf, pos, storeV6);
  pos += storeV6 ? 20 : 8;
  const reconsumeTimes = buf.readInt32BE(pos);
  const preparedTransactionOffset = readInt64(buf, pos + 4);
  pos += 12;
  const bodyLen = buf.readInt32BE(pos);
  pos += 4;
  if (bodyLen < 0 || pos + bodyLen + 3 > end) throw fail(`body length ${bodyLen} runs past the record`);
  const body = buf.subarray(pos, pos + bodyLen);
  pos += bodyLen;
  const topicLen = buf[pos++];
  if (pos + topicLen + 2 > end) throw fail(`topic length ${topicLen} runs past the record`);
  const topic = buf.toString('utf8', pos, pos + topicLen);
  pos += topicLen;
  const propsLen = buf.readUInt16BE(pos);
  pos += 2;
  if (pos + propsLen > end) throw fail(`properties length ${propsLen} runs past the record`);
  const properties = buf.toString('utf8', pos, pos + propsLen);
  const physicalOffset = readInt64(buf, offset + RecordPos.PHYSICAL_OFFSET);
  const idLength = (storeV6 ? 16 : 4) + 4;
  const msgId = (
    buf.toString('hex', storeHostPos, storeHostPos + idLength) +
    buf.toString('hex', offset + RecordPos.PHYSICAL_OFFSET, offset + RecordPos.PHYSICAL_OFFSET + 8)
  ).toUpperCase();
  return {
    totalSize,
    bodyCrc: buf.readInt32BE(offset + RecordPos.BODY_CRC),
    queueId: buf.readInt32BE(offset + RecordPos.QUEUE_ID),
    flag: buf.readInt32BE(offset + RecordPos.FLAG),
    queueOffset: readInt64(buf, offset + RecordPos.QUEUE_OFFSET),
    physicalOffset,
    sysFlag,
    bornTimestamp: readInt64(buf, offset + RecordPos.BORN_TIMESTAMP),
    bornHost,
    storeTimestamp,
    storeHost,
    reconsumeTimes,
    preparedTransactionOffset,
    body,
    topic,
    properties,
    propertyMap: decodeProperties(properties),
    msgId,
  };
}

export interface RecordScan {
  records: DecodedRecord[];
  /** Set when bytes after the last whole record are not a valid record; they are not decoded. */
  trailing?: { offset: number; length: number; reason: string };
}

/** Decodes concatenated records (a PULL body), stopping at the end or at the first invalid record. */
export function scanRecords(buf: Buffer, maxRecordSize = DEFAULT_MAX_RECORD_SIZE): RecordScan {
  const records: DecodedRecord[] = [];
  let at = 0;
  while (at < buf.length) {
    const check = checkRecord(buf, at, buf.length - at, maxRecordSize);
    if (!check.ok) return { records, trailing: { offset: at, length: buf.length - at, reason: check.reason } };
    records.push(decodeRecord(buf.subarray(0, at + check.size), at));
    at += check.size;
  }
  return { records };
}

/** The records of a PULL body; a trailing non-record is dropped (see `scanRecords` to see it). */
export function decodeRecords(buf: Buffer): DecodedRecord[] {
  return scanRecords(buf).records;
}
