/**
 * Message properties: a string map stored and sent as `name\x01value\x02name\x01value\x02` (UTF-8,
 * trailing `\x02`). Keys are the `MessageConst` names below (RocketMQ 4.9.8 `MessageConst` values;
 * ali-ons adds `__SHARDING_KEY` and `__STARTDELIVERTIME`).
 */
import { InvalidArgumentError } from './errors.js';

export const NAME_VALUE_SEPARATOR = '\u0001';
export const PROPERTY_SEPARATOR = '\u0002';
/** Separator between the keys in `KEYS`. */
export const KEY_SEPARATOR = ' ';

export const MessageConst = {
  TAGS: 'TAGS',
  KEYS: 'KEYS',
  /** Client-generated unique id (Java clients; ali-ons never sets it). */
  UNIQ_KEY: 'UNIQ_KEY',
  /** Delay level, 1..18. */
  DELAY: 'DELAY',
  /** "true"/"false": whether the producer waits for the store to be durable. */
  WAIT: 'WAIT',
  /** Original topic of a message on a %RETRY% topic. */
  RETRY_TOPIC: 'RETRY_TOPIC',
  /** Where a delayed message goes when due (and stays on the delivered copy). */
  REAL_TOPIC: 'REAL_TOPIC',
  REAL_QID: 'REAL_QID',
  /** First offset msgId of a retry chain. */
  ORIGIN_MESSAGE_ID: 'ORIGIN_MESSAGE_ID',
  RECONSUME_TIME: 'RECONSUME_TIME',
  MAX_RECONSUME_TIMES: 'MAX_RECONSUME_TIMES',
  TRAN_MSG: 'TRAN_MSG',
  TRAN_PREPARED_QUEUE_OFFSET: 'TRAN_PREPARED_QUEUE_OFFSET',
  TRANSACTION_CHECK_TIMES: 'TRANSACTION_CHECK_TIMES',
  CHECK_IMMUNITY_TIME_IN_SECONDS: 'CHECK_IMMUNITY_TIME_IN_SECONDS',
  PGROUP: 'PGROUP',
  /** Set by clients on pulled messages from the pull response. */
  MIN_OFFSET: 'MIN_OFFSET',
  MAX_OFFSET: 'MAX_OFFSET',
  /** Added by the broker on store. */
  CLUSTER: 'CLUSTER',
  MSG_REGION: 'MSG_REGION',
  TRACE_ON: 'TRACE_ON',
  BUYER_ID: 'BUYER_ID',
  SHARDING_KEY: '__SHARDING_KEY',
  /** ali-ons `setStartDeliverTime()`: Aliyun ONS only, ignored by open-source brokers and FerryMQ. */
  START_DELIVER_TIME: '__STARTDELIVERTIME',
  CONSUME_START_TIME: 'CONSUME_START_TIME',
  INSTANCE_ID: 'INSTANCE_ID',
  CORRELATION_ID: 'CORRELATION_ID',
  REPLY_TO_CLIENT: 'REPLY_TO_CLIENT',
  TTL: 'TTL',
  ARRIVE_TIME: 'ARRIVE_TIME',
  MSG_TYPE: 'MSG_TYPE',
} as const;

export type PropertyMap = Record<string, string>;

/**
 * Encodes a map; null/undefined values are skipped. A name or value containing a separator
 * character would change the meaning of the stored string, so it is refused.
 */
export function encodeProperties(
  map: Readonly<Record<string, string | number | boolean | null | undefined>> | ReadonlyMap<string, string>,
): string {
  let out = '';
  const entries = map instanceof Map ? map.entries() : Object.entries(map);
  for (const [name, raw] of entries) {
    if (raw === undefined || raw === null) continue;
    const value = String(raw);
    if (name.length === 0) throw new InvalidArgumentError('property name is empty');
    if (hasSeparator(name) || hasSeparator(value)) {
      throw new InvalidArgumentError(`property "${printable(name)}" contains a \\x01 or \\x02 separator character`);
    }
    out += name + NAME_VALUE_SEPARATOR + value + PROPERTY_SEPARATOR;
  }
  return out;
}

function hasSeparator(s: string): boolean {
  return s.includes(NAME_VALUE_SEPARATOR) || s.includes(PROPERTY_SEPARATOR);
}

function printable(s: string): string {
  return s.replaceAll(NAME_VALUE_SEPARATOR, '\\x01').replaceAll(PROPERTY_SEPARATOR, '\\x02');
}

/**
 * Decodes a properties string. Like Java's `string2messageProperties`, a pair without `\x01` is
 * skipped and a later duplicate wins. The result has no prototype, so a name such as `__proto__`
 * is just a name.
 */
export function decodeProperties(str: string): PropertyMap {
  const out: PropertyMap = Object.create(null) as PropertyMap;
  let start = 0;
  while (start < str.length) {
    let end = str.indexOf(PROPERTY_SEPARATOR, start);
    if (end < 0) end = str.length;
    const eq = str.indexOf(NAME_VALUE_SEPARATOR, start);
    if (eq >= 0 && eq < end && eq > start) out[str.slice(start, eq)] = str.slice(eq + 1, end);
    start = end + 1;
  }
  return out;
}

const MAX_SCANNED_PAIRS = 64;
/** Name start and end of each pair seen by `scanProperties` (for the duplicate check). */
const nameBounds = new Int32Array(MAX_SCANNED_PAIRS * 2);

/**
 * One pass over a properties string for a hot path that must not decode it into a map: fills
 * `values[i]` with the value of `names[i]` (last duplicate wins, as `decodeProperties`), and returns
 * whether the string is canonical — exactly what `encodeProperties(decodeProperties(str))` gives:
 * every pair `name\x01value\x02` with one `\x01`, names non-empty, unique and not starting with a
 * digit (an integer-like name would be reordered by the object map). Appending pairs to a canonical
 * string gives the same bytes as adding them to its decoded map and re-encoding. The values are
 * only exact when the string is canonical.
 */
export function scanProperties(str: string, names: readonly string[], values: (string | undefined)[]): boolean {
  for (let n = 0; n < names.length; n++) values[n] = undefined;
  if (str.length > 0 && str.charCodeAt(str.length - 1) !== 2) return false;
  let pairs = 0;
  let start = 0;
  while (start < str.length) {
    const end = str.indexOf(PROPERTY_SEPARATOR, start);
    const eq = str.indexOf(NAME_VALUE_SEPARATOR, start);
    const first = str.charCodeAt(start);
    if (eq <= start || eq >= end || (first >= 48 && first <= 57) || pairs === MAX_SCANNED_PAIRS) return false;
    const second = str.indexOf(NAME_VALUE_SEPARATOR, eq + 1);
    if (second >= 0 && second < end) return false;
    const length = eq - start;
    for (let p = 0; p < pairs; p++) {
      const otherStart = nameBounds[2 * p]!;
      if (nameBounds[2 * p + 1]! - otherStart === length && sameChars(str, otherStart, start, length)) return false;
    }
    nameBounds[2 * pairs] = start;
    nameBounds[2 * pairs + 1] = eq;
    pairs++;
    for (let n = 0; n < names.length; n++) {
      const name = names[n]!;
      if (name.length === length && str.startsWith(name, start)) values[n] = str.slice(eq + 1, end);
    }
    start = end + 1;
  }
  return true;
}

function sameChars(str: string, a: number, b: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (str.charCodeAt(a + i) !== str.charCodeAt(b + i)) return false;
  return true;
}
