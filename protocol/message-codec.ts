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
import { inspect } from 'node:util';
import { crc32 } from 'node:zlib';
import { FrameError, InvalidArgumentError } from './errors.js';
import { getInt32, getInt64, putInt32, putInt64 } from './int-codec.js';
import { decodeProperties, type PropertyMap } from './properties.js';
import { formatIPv4, formatIPv6, ipv4Bytes, type SocketAddress } from './socket-address.js';
import { writeUtf8 } from './utf8.js';

/** Topics and typical properties are short ASCII: copied in a loop (see utf8.ts). */
const SHORT_ASCII = 64;

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
  putInt32(buf, pos + 4, host.port);
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
  // Bounds checked above for the whole record: fields go in without per-field checks.
  putInt32(buf, p + RecordPos.TOTAL_SIZE, size);
  putInt32(buf, p + RecordPos.MAGIC, MESSAGE_MAGIC_INT32);
  putInt32(buf, p + RecordPos.BODY_CRC, fields.bodyCrc ?? bodyCrc(fields.body));
  putInt32(buf, p + RecordPos.QUEUE_ID, fields.queueId);
  putInt32(buf, p + RecordPos.FLAG, fields.flag);
  putInt64(buf, p + RecordPos.QUEUE_OFFSET, fields.queueOffset);
  putInt64(buf, p + RecordPos.PHYSICAL_OFFSET, fields.physicalOffset);
  const sysFlag = fields.sysFlag & ~(MessageSysFlag.BORNHOST_V6 | MessageSysFlag.STOREHOST_V6);
  putInt32(buf, p + RecordPos.SYSFLAG, sysFlag);
  putInt64(buf, p + RecordPos.BORN_TIMESTAMP, fields.bornTimestamp);
  writeHost(buf, p + RecordPos.BORN_HOST, fields.bornHost);
  putInt64(buf, p + RecordPos.STORE_TIMESTAMP, fields.storeTimestamp);
  writeHost(buf, p + RecordPos.STORE_HOST, fields.storeHost);
  putInt32(buf, p + RecordPos.RECONSUME_TIMES, fields.reconsumeTimes);
  putInt64(buf, p + RecordPos.PREPARED_TRANSACTION_OFFSET, fields.preparedTransactionOffset ?? 0);
  putInt32(buf, p + RecordPos.BODY_LENGTH, fields.body.length);
  buf.set(fields.body, p + RecordPos.BODY);
  let pos = p + RecordPos.BODY + fields.body.length;
  buf[pos++] = topicLen;
  pos += writeUtf8(buf, pos, fields.topic, SHORT_ASCII);
  buf[pos++] = propsLen >>> 8;
  buf[pos++] = propsLen;
  if (givenLen > 0) pos += writeUtf8(buf, pos, fields.properties, SHORT_ASCII);
  if (suffix) buf.set(suffix, pos);
  return target ? size : buf;
}

export type RecordCheck =
  | { status: 'OK'; ok: true; size: number }
  | { status: 'INCOMPLETE'; ok: false; reason: string; size?: number }
  | { status: 'CORRUPT'; ok: false; reason: string };

type RecordFailure = Extract<RecordCheck, { ok: false }>;

function corrupt(reason: string): RecordFailure {
  return { status: 'CORRUPT', ok: false, reason };
}

function incomplete(size: number, avail: number): RecordFailure {
  return { status: 'INCOMPLETE', ok: false, size, reason: `record of ${size} bytes, only ${avail} available` };
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
  const checked = checkLayout(buf, offset, available, maxRecordSize);
  if (typeof checked !== 'number') return checked;
  const bodyStart = bodyLengthPos(buf, offset) + 4;
  const body = buf.subarray(bodyStart, bodyStart + buf.readInt32BE(bodyStart - 4));
  const problem = crcMismatch(buf.readInt32BE(offset + RecordPos.BODY_CRC), body);
  return problem === undefined ? { status: 'OK', ok: true, size: checked } : corrupt(problem);
}

/** Position of BODYLENGTH in the record at `offset` (after the hosts, whose size sysFlag gives). */
function bodyLengthPos(buf: Buffer, offset: number): number {
  const sysFlag = getInt32(buf, offset + RecordPos.SYSFLAG);
  return offset + RecordPos.BODY_LENGTH + (sysFlag & MessageSysFlag.BORNHOST_V6 ? 12 : 0) + (sysFlag & MessageSysFlag.STOREHOST_V6 ? 12 : 0);
}

/** Why a body does not match its stored CRC, or undefined when it does. */
function crcMismatch(storedCrc: number, body: Buffer): string | undefined {
  const actualCrc = bodyCrc(body);
  if (actualCrc === storedCrc) return undefined;
  return `body CRC 0x${actualCrc.toString(16)} does not match stored 0x${(storedCrc >>> 0).toString(16)}`;
}

/** `checkRecord` without the CRC: the record's size when its layout holds, else the failed check. */
function checkLayout(buf: Buffer, offset: number, available: number, maxRecordSize: number): number | RecordFailure {
  // Every load comes after the `avail` check that covers it, so unchecked loads are safe.
  const avail = Math.min(available, buf.length - offset);
  if (avail < 4) return { status: 'INCOMPLETE', ok: false, reason: `only ${Math.max(avail, 0)} bytes for the size field` };
  const size = getInt32(buf, offset);
  if (size < MIN_RECORD_SIZE) return corrupt(`total size ${size} is below the ${MIN_RECORD_SIZE}-byte minimum`);
  if (size > maxRecordSize) return corrupt(`total size ${size} exceeds the ${maxRecordSize}-byte maximum`);
  if (avail < 8) return incomplete(size, avail);
  if (getInt32(buf, offset + RecordPos.MAGIC) !== MESSAGE_MAGIC_INT32) {
    return corrupt(`bad magic 0x${buf.readUInt32BE(offset + RecordPos.MAGIC).toString(16)}`);
  }
  if (avail < RecordPos.SYSFLAG + 4) return incomplete(size, avail);
  const bodyLenPos = bodyLengthPos(buf, offset) - offset;
  if (avail < bodyLenPos + 4) return incomplete(size, avail);
  const bodyLen = getInt32(buf, offset + bodyLenPos);
  if (bodyLen < 0 || bodyLenPos + 4 + bodyLen + 3 > size) {
    return corrupt(`body length ${bodyLen} does not fit in a record of ${size} bytes`);
  }
  const topicLenPos = bodyLenPos + 4 + bodyLen;
  if (avail < topicLenPos + 1) return incomplete(size, avail);
  const topicLen = buf[offset + topicLenPos];
  if (topicLen === 0 || topicLen > MAX_TOPIC_BYTES) return corrupt(`topic length ${topicLen} is outside 1..${MAX_TOPIC_BYTES}`);
  const propsLenPos = topicLenPos + 1 + topicLen;
  if (propsLenPos + 2 > size) return corrupt(`topic length ${topicLen} does not fit in a record of ${size} bytes`);
  if (avail < propsLenPos + 2) return incomplete(size, avail);
  const propsLen = ((buf[offset + propsLenPos]! << 24) >> 16) | buf[offset + propsLenPos + 1]!;
  if (propsLen < 0 || propsLenPos + 2 + propsLen !== size) {
    return corrupt(`total size ${size} does not match body ${bodyLen}, topic ${topicLen} and properties ${propsLen} lengths`);
  }
  if (avail < size) return incomplete(size, avail);
  return size;
}

function readHost(buf: Buffer, pos: number, v6: boolean): SocketAddress {
  return v6
    ? { ip: formatIPv6(buf, pos), port: buf.readInt32BE(pos + 16) }
    : { ip: formatIPv4(buf, pos), port: buf.readInt32BE(pos + 4) };
}

/**
 * Where the parts of one record sit in its buffer, as `decodeRecordAt` found them: one object,
 * refilled for every record, so a caller that builds its own object per record (the SDK's received
 * messages) allocates nothing more.
 */
export interface RecordParts {
  /** Start of the record. */
  offset: number;
  sysFlag: number;
  reconsumeTimes: number;
  storeHostPos: number;
  body: Buffer;
  topic: string;
  propsPos: number;
  propsEnd: number;
}

/** Hex of the store host's address bytes and port, then of the physical offset: the offset msgId of the record at `offset`. */
export function recordMsgId(buf: Buffer, offset: number, storeHostPos: number, sysFlag: number): string {
  const hostEnd = storeHostPos + ((sysFlag & MessageSysFlag.STOREHOST_V6) !== 0 ? 20 : 8);
  const physical = offset + RecordPos.PHYSICAL_OFFSET;
  return (buf.toString('hex', storeHostPos, hostEnd) + buf.toString('hex', physical, physical + 8)).toUpperCase();
}

/**
 * A decoded record as a view (`scanRecordViews`). The 32-bit fields, queue offset, body and topic
 * are read at once; the other 64-bit fields are getters over the bytes, and the hosts, the
 * properties (string and map) and the msgId getters that read the bytes on first use and keep the
 * value, so a consumer that only wants bodies and offsets pays for none of them.
 * Assigning one of them replaces the kept value. A spread (`{ ...view }`) copies only the fields
 * read at once: callers that copy records get plain objects from `decodeRecord`/`scanRecords`.
 */
class RecordView implements DecodedRecord {
  readonly totalSize: number;
  readonly bodyCrc: number;
  readonly queueId: number;
  readonly flag: number;
  readonly queueOffset: number;
  readonly sysFlag: number;
  readonly reconsumeTimes: number;
  readonly body: Buffer;
  readonly topic: string;
  private readonly buf: Buffer;
  private readonly offset: number;
  private readonly storeHostPos: number;
  private readonly propsPos: number;
  private readonly propsEnd: number;
  private bornHostValue: SocketAddress | undefined = undefined;
  private storeHostValue: SocketAddress | undefined = undefined;
  private propertiesValue: string | undefined = undefined;
  private propertyMapValue: PropertyMap | undefined = undefined;
  private msgIdValue: string | undefined = undefined;

  constructor(buf: Buffer, parts: RecordParts) {
    const offset = parts.offset;
    this.buf = buf;
    this.offset = offset;
    this.storeHostPos = parts.storeHostPos;
    this.propsPos = parts.propsPos;
    this.propsEnd = parts.propsEnd;
    this.totalSize = getInt32(buf, offset);
    this.bodyCrc = getInt32(buf, offset + RecordPos.BODY_CRC);
    this.queueId = getInt32(buf, offset + RecordPos.QUEUE_ID);
    this.flag = getInt32(buf, offset + RecordPos.FLAG);
    this.queueOffset = getInt64(buf, offset + RecordPos.QUEUE_OFFSET);
    this.sysFlag = parts.sysFlag;
    this.reconsumeTimes = parts.reconsumeTimes;
    this.body = parts.body;
    this.topic = parts.topic;
  }

  // The other 64-bit fields are read when asked: a consumer of bodies and offsets needs none of them.
  get physicalOffset(): number {
    return getInt64(this.buf, this.offset + RecordPos.PHYSICAL_OFFSET);
  }

  get bornTimestamp(): number {
    return getInt64(this.buf, this.offset + RecordPos.BORN_TIMESTAMP);
  }

  get storeTimestamp(): number {
    return getInt64(this.buf, this.storeHostPos - 8);
  }

  get preparedTransactionOffset(): number {
    return getInt64(this.buf, this.body.byteOffset - this.buf.byteOffset - 12);
  }

  get bornHost(): SocketAddress {
    return (this.bornHostValue ??= readHost(this.buf, this.offset + RecordPos.BORN_HOST, (this.sysFlag & MessageSysFlag.BORNHOST_V6) !== 0));
  }

  set bornHost(value: SocketAddress) {
    this.bornHostValue = value;
  }

  get storeHost(): SocketAddress {
    return (this.storeHostValue ??= readHost(this.buf, this.storeHostPos, (this.sysFlag & MessageSysFlag.STOREHOST_V6) !== 0));
  }

  set storeHost(value: SocketAddress) {
    this.storeHostValue = value;
  }

  get properties(): string {
    return (this.propertiesValue ??= this.buf.toString('utf8', this.propsPos, this.propsEnd));
  }

  set properties(value: string) {
    this.propertiesValue = value;
  }

  get propertyMap(): PropertyMap {
    return (this.propertyMapValue ??= decodeProperties(this.properties));
  }

  set propertyMap(value: PropertyMap) {
    this.propertyMapValue = value;
  }

  get msgId(): string {
    return (this.msgIdValue ??= recordMsgId(this.buf, this.offset, this.storeHostPos, this.sysFlag));
  }

  set msgId(value: string) {
    this.msgIdValue = value;
  }

  /** The same fields as a plain object, so JSON and logs show the record rather than its buffer. */
  toJSON(): DecodedRecord {
    return this.toObject();
  }

  [inspect.custom](): DecodedRecord {
    return this.toObject();
  }

  /** Every field, the lazy ones read now, as a plain object. */
  toObject(): DecodedRecord {
    return {
      totalSize: this.totalSize,
      bodyCrc: this.bodyCrc,
      queueId: this.queueId,
      flag: this.flag,
      queueOffset: this.queueOffset,
      physicalOffset: this.physicalOffset,
      sysFlag: this.sysFlag,
      bornTimestamp: this.bornTimestamp,
      bornHost: this.bornHost,
      storeTimestamp: this.storeTimestamp,
      storeHost: this.storeHost,
      reconsumeTimes: this.reconsumeTimes,
      preparedTransactionOffset: this.preparedTransactionOffset,
      body: this.body,
      topic: this.topic,
      properties: this.properties,
      propertyMap: this.propertyMap,
      msgId: this.msgId,
    };
  }
}

/**
 * Decodes the record at `offset` into a plain object. The body is a view into `buf` (no copy).
 * Only lengths are checked (a `FrameError` when they run past the buffer); use `checkRecord` first
 * to verify magic, sizes and CRC, and pass a buffer ending at the record when it must not read further.
 */
export function decodeRecord(buf: Buffer, offset = 0): DecodedRecord {
  // decodeRecordAt reads bytes unchecked below `end`: an offset must be a position in the buffer.
  if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`record offset must be a non-negative integer, got ${offset}`);
  return new RecordView(buf, decodeRecordAt(buf, offset, buf.length)).toObject();
}

function decodeFailure(offset: number, reason: string): FrameError {
  return new FrameError(`record at ${offset}: ${reason}`);
}

/** The topic decoded last, and its bytes: the records of a pull answer all name the same topic. */
let lastTopic = { bytes: Buffer.alloc(0), name: '' };

function topicAt(buf: Buffer, pos: number, length: number): string {
  const { bytes, name } = lastTopic;
  if (bytes.length === length) {
    let i = 0;
    while (i < length && buf[pos + i] === bytes[i]) i++;
    if (i === length) return name;
  }
  const topic = buf.toString('utf8', pos, pos + length);
  lastTopic = { bytes: Buffer.from(buf.subarray(pos, pos + length)), name: topic };
  return topic;
}

/** Filled by `decodeRecordAt`. */
const parts: RecordParts = { offset: 0, sysFlag: 0, reconsumeTimes: 0, storeHostPos: 0, body: Buffer.alloc(0), topic: '', propsPos: 0, propsEnd: 0 };

/** Finds the parts of the record at `offset`, reading no byte at or past `end`; the result is refilled by the next call. */
function decodeRecordAt(buf: Buffer, offset: number, end: number): RecordParts {
  if (end - offset < MIN_RECORD_SIZE) throw decodeFailure(offset, `only ${end - offset} bytes, less than a minimal record`);
  // Fields are read by their own lengths, bounded by the buffer, as ali-ons and Java's
  // MessageDecoder do; TOTALSIZE is reported, not trusted (checkRecord is the strict check).
  const sysFlag = getInt32(buf, offset + RecordPos.SYSFLAG);
  const bornExtra = sysFlag & MessageSysFlag.BORNHOST_V6 ? 12 : 0;
  const hostExtra = bornExtra + (sysFlag & MessageSysFlag.STOREHOST_V6 ? 12 : 0);
  if (end - offset < RecordPos.BODY + hostExtra) throw decodeFailure(offset, 'header runs past the buffer');
  const storeHostPos = offset + RecordPos.STORE_HOST + bornExtra;
  let pos = offset + RecordPos.BODY + hostExtra;
  const bodyLen = getInt32(buf, pos - 4);
  if (bodyLen < 0 || pos + bodyLen + 3 > end) throw decodeFailure(offset, `body length ${bodyLen} runs past the record`);
  const bodyPos = pos;
  const body = buf.subarray(pos, pos + bodyLen);
  pos += bodyLen;
  const topicLen = buf[pos++];
  if (pos + topicLen + 2 > end) throw decodeFailure(offset, `topic length ${topicLen} runs past the record`);
  const topic = topicAt(buf, pos, topicLen);
  pos += topicLen;
  const propsLen = (buf[pos]! << 8) | buf[pos + 1]!;
  pos += 2;
  if (pos + propsLen > end) throw decodeFailure(offset, `properties length ${propsLen} runs past the record`);
  parts.offset = offset;
  parts.sysFlag = sysFlag;
  // RECONSUMETIMES (4) and PREPARED TX OFFSET (8) sit just before BODYLENGTH.
  parts.reconsumeTimes = getInt32(buf, bodyPos - 16);
  parts.storeHostPos = storeHostPos;
  parts.body = body;
  parts.topic = topic;
  parts.propsPos = pos;
  parts.propsEnd = pos + propsLen;
  return parts;
}

export interface RecordScan<T = DecodedRecord> {
  records: T[];
  /** Set when bytes after the last whole record are not a valid record; they are not decoded. */
  trailing?: { offset: number; length: number; reason: string };
}

/** Decodes concatenated records (a PULL body) into plain objects, as `scanRecordsWith` finds them. */
export function scanRecords(buf: Buffer, maxRecordSize = DEFAULT_MAX_RECORD_SIZE): RecordScan {
  return scanRecordsWith(buf, maxRecordSize, true, (b, at) => new RecordView(b, at).toObject());
}

/**
 * Decodes concatenated records (a PULL body) as lazily read views (see `RecordView`), stopping at
 * the end or at the first invalid record, as `scanRecordsWith` does. For hot paths that read the
 * records in place.
 */
export function scanRecordViews(buf: Buffer, maxRecordSize = DEFAULT_MAX_RECORD_SIZE): RecordScan {
  return scanRecordsWith(buf, maxRecordSize, true, newView);
}

function newView(buf: Buffer, at: RecordParts): RecordView {
  return new RecordView(buf, at);
}

/**
 * Makes `create(buf, parts)` of each of the concatenated records in `buf` (a PULL body), stopping
 * at the end or at the first invalid record. Each record is checked as `checkRecord` does, with its
 * CRC taken once, over the body view; `checkBodyCrc: false` skips the CRC (it is most of the
 * decoding cost). `parts` is refilled for the next record after `create` returns.
 */
export function scanRecordsWith<T>(buf: Buffer, maxRecordSize: number, checkBodyCrc: boolean, create: (buf: Buffer, parts: RecordParts) => T): RecordScan<T> {
  const records: T[] = [];
  let at = 0;
  while (at < buf.length) {
    const size = checkLayout(buf, at, buf.length - at, maxRecordSize);
    if (typeof size !== 'number') return { records, trailing: { offset: at, length: buf.length - at, reason: size.reason } };
    const found = decodeRecordAt(buf, at, at + size);
    const problem = checkBodyCrc ? crcMismatch(getInt32(buf, at + RecordPos.BODY_CRC), found.body) : undefined;
    if (problem !== undefined) return { records, trailing: { offset: at, length: buf.length - at, reason: problem } };
    records.push(create(buf, found));
    at += size;
  }
  return { records };
}

/** The records of a PULL body; a trailing non-record is dropped (see `scanRecords` to see it). */
export function decodeRecords(buf: Buffer): DecodedRecord[] {
  return scanRecords(buf).records;
}
