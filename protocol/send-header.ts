/**
 * The SEND_MESSAGE request header. Code 10 carries it with full field names; SEND_MESSAGE_V2 (310)
 * and SEND_BATCH_MESSAGE (320) carry the same fields under one-letter names to save header bytes
 * (RocketMQ 4.9.8 `SendMessageRequestHeaderV2`):
 *
 *   a producerGroup        e queueId          i properties          m batch
 *   b topic                f sysFlag          j reconsumeTimes      n brokerName
 *   c defaultTopic         g bornTimestamp    k unitMode
 *   d defaultTopicQueueNums h flag            l maxReconsumeTimes
 */
import { InvalidArgumentError } from './errors.js';
import { encodeExtEntries } from './header-codec.js';
import { RequestCode } from './request-code.js';

export interface SendMessageRequestHeader {
  producerGroup: string;
  topic: string;
  defaultTopic: string;
  defaultTopicQueueNums: number;
  queueId: number;
  sysFlag: number;
  bornTimestamp: number;
  flag: number;
  properties?: string;
  reconsumeTimes?: number;
  unitMode?: boolean;
  maxReconsumeTimes?: number;
  batch?: boolean;
  brokerName?: string;
}

/** A received header: optional fields that have a protocol default are filled in. */
export interface DecodedSendHeader extends SendMessageRequestHeader {
  properties: string;
  reconsumeTimes: number;
  unitMode: boolean;
  batch: boolean;
}

export const SEND_HEADER_V2_NAMES = {
  producerGroup: 'a',
  topic: 'b',
  defaultTopic: 'c',
  defaultTopicQueueNums: 'd',
  queueId: 'e',
  sysFlag: 'f',
  bornTimestamp: 'g',
  flag: 'h',
  properties: 'i',
  reconsumeTimes: 'j',
  unitMode: 'k',
  maxReconsumeTimes: 'l',
  batch: 'm',
  brokerName: 'n',
} as const satisfies Record<keyof SendMessageRequestHeader, string>;

type FieldName = keyof typeof SEND_HEADER_V2_NAMES;
const FIELDS = Object.keys(SEND_HEADER_V2_NAMES) as FieldName[];
const REQUIRED: readonly FieldName[] = [
  'producerGroup',
  'topic',
  'defaultTopic',
  'defaultTopicQueueNums',
  'queueId',
  'sysFlag',
  'bornTimestamp',
  'flag',
];

/**
 * extFields for SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE; undefined fields are left out. One object
 * literal rather than a loop over the name table: it runs once per send (5% of the producer's CPU as a loop).
 */
export function toV2(h: SendMessageRequestHeader): Record<string, string> {
  const V2 = SEND_HEADER_V2_NAMES;
  const out: Record<string, string> = {
    [V2.producerGroup]: h.producerGroup,
    [V2.topic]: h.topic,
    [V2.defaultTopic]: h.defaultTopic,
    [V2.defaultTopicQueueNums]: String(h.defaultTopicQueueNums),
    [V2.queueId]: String(h.queueId),
    [V2.sysFlag]: String(h.sysFlag),
    [V2.bornTimestamp]: timestampText(h.bornTimestamp),
    [V2.flag]: String(h.flag),
  };
  if (h.properties != null) out[V2.properties] = h.properties;
  if (h.reconsumeTimes != null) out[V2.reconsumeTimes] = String(h.reconsumeTimes);
  if (h.unitMode != null) out[V2.unitMode] = String(h.unitMode);
  if (h.maxReconsumeTimes != null) out[V2.maxReconsumeTimes] = String(h.maxReconsumeTimes);
  if (h.batch != null) out[V2.batch] = String(h.batch);
  if (h.brokerName != null) out[V2.brokerName] = h.brokerName;
  return out;
}

/** The send-header fields `SendHeaderV2Cache` encodes once per topic: all but queueId, bornTimestamp and properties. */
type ConstantFields = Omit<SendMessageRequestHeader, 'queueId' | 'bornTimestamp' | 'properties'>;

interface CachedConstants extends ConstantFields {
  bytes: Buffer;
}

const MAX_CACHED_TOPICS = 1024;

/**
 * A producer's send headers in the V2 names, for binary headers: of the 13 fields only queueId,
 * bornTimestamp and properties change from send to send, so the others are encoded once per topic
 * (`extBytes`) and only those three are written per request. Kept per producer connection pool
 * (`BrokerApi`); a send whose other fields differ from the cached ones (a compressed body's sysFlag,
 * a retry's reconsumeTimes) replaces the topic's entry.
 */
export class SendHeaderV2Cache {
  /** Single sends and batches apart: a producer that sends both to a topic keeps both encodings. */
  private readonly byTopic = new Map<string, CachedConstants>();
  private readonly byTopicBatch = new Map<string, CachedConstants>();

  /** Sets `request.extFields` and `request.extBytes` to `h`, as `toV2(h)` would in one object. */
  apply(request: { extFields: Record<string, string>; extBytes?: Buffer }, h: SendMessageRequestHeader): void {
    let cached = (h.batch ? this.byTopicBatch : this.byTopic).get(h.topic);
    if (cached === undefined || !sameConstants(cached, h)) cached = this.remember(h);
    const V2 = SEND_HEADER_V2_NAMES;
    const fields: Record<string, string> = { [V2.queueId]: String(h.queueId), [V2.bornTimestamp]: timestampText(h.bornTimestamp) };
    if (h.properties != null) fields[V2.properties] = h.properties;
    request.extFields = fields;
    request.extBytes = cached.bytes;
  }

  private remember(h: SendMessageRequestHeader): CachedConstants {
    const fields = toV2(h);
    delete fields[SEND_HEADER_V2_NAMES.queueId];
    delete fields[SEND_HEADER_V2_NAMES.bornTimestamp];
    delete fields[SEND_HEADER_V2_NAMES.properties];
    const cached: CachedConstants = {
      producerGroup: h.producerGroup,
      topic: h.topic,
      defaultTopic: h.defaultTopic,
      defaultTopicQueueNums: h.defaultTopicQueueNums,
      sysFlag: h.sysFlag,
      flag: h.flag,
      reconsumeTimes: h.reconsumeTimes,
      unitMode: h.unitMode,
      maxReconsumeTimes: h.maxReconsumeTimes,
      batch: h.batch,
      brokerName: h.brokerName,
      bytes: encodeExtEntries(fields),
    };
    const byTopic = h.batch ? this.byTopicBatch : this.byTopic;
    if (byTopic.size >= MAX_CACHED_TOPICS) byTopic.clear();
    byTopic.set(h.topic, cached);
    return cached;
  }
}

function sameConstants(c: ConstantFields, h: SendMessageRequestHeader): boolean {
  return (
    c.producerGroup === h.producerGroup &&
    c.defaultTopic === h.defaultTopic &&
    c.defaultTopicQueueNums === h.defaultTopicQueueNums &&
    c.sysFlag === h.sysFlag &&
    c.flag === h.flag &&
    c.reconsumeTimes === h.reconsumeTimes &&
    c.unitMode === h.unitMode &&
    c.maxReconsumeTimes === h.maxReconsumeTimes &&
    c.batch === h.batch &&
    c.brokerName === h.brokerName
  );
}

let lastTimestamp = Number.NaN;
let lastTimestampText = '';

/** `String(ms)`, once per millisecond: the sends of one millisecond share the text (a double does not hit V8's number-string cache). */
function timestampText(ms: number): string {
  if (ms !== lastTimestamp) {
    lastTimestamp = ms;
    lastTimestampText = String(ms);
  }
  return lastTimestampText;
}

/** extFields for SEND_MESSAGE (code 10). */
export function toV1(h: SendMessageRequestHeader): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of FIELDS) {
    const value = h[name];
    if (value !== undefined && value !== null) out[name] = String(value);
  }
  return out;
}

/**
 * A decimal integer as Java's `Long.parseLong` reads it (optional sign, digits only), within the
 * safe-integer range. Throws `InvalidArgumentError` naming the field.
 */
export function parseIntegerField(name: string, value: string): number {
  const negative = value.charCodeAt(0) === 45;
  let i = negative || value.charCodeAt(0) === 43 ? 1 : 0;
  if (i === value.length) throw new InvalidArgumentError(`header field ${name} is not an integer: "${value}"`);
  // Digits are summed as they are checked: exact up to 2^53, and anything larger fails the range check.
  let n = 0;
  for (; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 48 || c > 57) throw new InvalidArgumentError(`header field ${name} is not an integer: "${value}"`);
    n = n * 10 + (c - 48);
  }
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`header field ${name} is out of range: ${value}`);
  return negative ? -n : n;
}

/** The fields as received, by their long names (undefined when absent). */
type RawSendHeader = { [K in FieldName]: string | undefined };

/**
 * Reads the fields by literal property names: the extFields of every send share one shape, so
 * these loads stay monomorphic (a loop over a name table costs as much as the JSON parse).
 */
function rawV2(ext: Readonly<Record<string, string | undefined>>): RawSendHeader {
  return {
    producerGroup: ext.a,
    topic: ext.b,
    defaultTopic: ext.c,
    defaultTopicQueueNums: ext.d,
    queueId: ext.e,
    sysFlag: ext.f,
    bornTimestamp: ext.g,
    flag: ext.h,
    properties: ext.i,
    reconsumeTimes: ext.j,
    unitMode: ext.k,
    maxReconsumeTimes: ext.l,
    batch: ext.m,
    brokerName: ext.n,
  };
}

function rawV1(ext: Readonly<Record<string, string | undefined>>): RawSendHeader {
  return {
    producerGroup: ext.producerGroup,
    topic: ext.topic,
    defaultTopic: ext.defaultTopic,
    defaultTopicQueueNums: ext.defaultTopicQueueNums,
    queueId: ext.queueId,
    sysFlag: ext.sysFlag,
    bornTimestamp: ext.bornTimestamp,
    flag: ext.flag,
    properties: ext.properties,
    reconsumeTimes: ext.reconsumeTimes,
    unitMode: ext.unitMode,
    maxReconsumeTimes: ext.maxReconsumeTimes,
    batch: ext.batch,
    brokerName: ext.brokerName,
  };
}

function required(raw: RawSendHeader, name: FieldName, v2: boolean): string {
  const value = raw[name];
  if (value === undefined) throw new InvalidArgumentError(`send header is missing ${name} (${v2 ? SEND_HEADER_V2_NAMES[name] : name})`);
  return value;
}

/** Java's Boolean.parseBoolean: "true" in any case is true, anything else false. */
function parseBooleanField(value: string | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  // toLowerCase copies the string even when it is already lower case: two per send.
  return value === 'true' || (value !== 'false' && value.toLowerCase() === 'true');
}

function decodeRaw(raw: RawSendHeader, v2: boolean, batchDefault: boolean): DecodedSendHeader {
  // Field by field first: a loop over the names is a megamorphic keyed load per name on every send.
  if (
    raw.producerGroup === undefined ||
    raw.topic === undefined ||
    raw.defaultTopic === undefined ||
    raw.defaultTopicQueueNums === undefined ||
    raw.queueId === undefined ||
    raw.sysFlag === undefined ||
    raw.bornTimestamp === undefined ||
    raw.flag === undefined
  ) {
    for (const name of REQUIRED) required(raw, name, v2);
  }
  const header: DecodedSendHeader = {
    producerGroup: raw.producerGroup!,
    topic: raw.topic!,
    defaultTopic: raw.defaultTopic!,
    defaultTopicQueueNums: parseIntegerField('defaultTopicQueueNums', raw.defaultTopicQueueNums!),
    queueId: parseIntegerField('queueId', raw.queueId!),
    sysFlag: parseIntegerField('sysFlag', raw.sysFlag!),
    bornTimestamp: parseIntegerField('bornTimestamp', raw.bornTimestamp!),
    flag: parseIntegerField('flag', raw.flag!),
    properties: raw.properties ?? '',
    reconsumeTimes: raw.reconsumeTimes === undefined ? 0 : parseIntegerField('reconsumeTimes', raw.reconsumeTimes),
    unitMode: parseBooleanField(raw.unitMode, false),
    batch: parseBooleanField(raw.batch, batchDefault),
  };
  if (raw.maxReconsumeTimes !== undefined) header.maxReconsumeTimes = parseIntegerField('maxReconsumeTimes', raw.maxReconsumeTimes);
  if (raw.brokerName !== undefined) header.brokerName = raw.brokerName;
  return header;
}

export function fromV2(ext: Readonly<Record<string, string>>): DecodedSendHeader {
  return decodeRaw(rawV2(ext), true, false);
}

export function fromV1(ext: Readonly<Record<string, string>>): DecodedSendHeader {
  return decodeRaw(rawV1(ext), false, false);
}

/** The send header of a SEND_MESSAGE (10), SEND_MESSAGE_V2 (310) or SEND_BATCH_MESSAGE (320) request. */
export function decodeSendHeader(code: number, extFields: Readonly<Record<string, string>>): DecodedSendHeader {
  switch (code) {
    case RequestCode.SEND_MESSAGE:
      return fromV1(extFields);
    case RequestCode.SEND_MESSAGE_V2:
      return fromV2(extFields);
    case RequestCode.SEND_BATCH_MESSAGE:
      return decodeRaw(rawV2(extFields), true, true);
    default:
      throw new InvalidArgumentError(`request code ${code} does not carry a send header`);
  }
}
