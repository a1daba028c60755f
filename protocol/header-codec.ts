/**
 * Remoting header codecs. A frame's header is either JSON (serialize type 0; what ali-ons and Java
 * clients send by default) or RocketMQ's compact binary layout (serialize type 1, Java's
 * `RocketMQSerializable`):
 *
 *   JSON:   {"code":10,"language":"JAVA","version":409,"opaque":1,"flag":0,"remark":"…","extFields":{"k":"v"}}
 *
 *   binary (big-endian):
 *   | code      int16 |
 *   | language  int8  |  LanguageCode ordinal
 *   | version   int16 |
 *   | opaque    int32 |
 *   | flag      int32 |
 *   | remarkLen int32 |  then remarkLen bytes of UTF-8 (0 = no remark)
 *   | extLen    int32 |  then extLen bytes of: keyLen int16, key UTF-8, valLen int32, value UTF-8, repeated
 *
 * Decoders throw `FrameError`: a header that does not parse means the connection is out of sync.
 */
import { FrameError, InvalidArgumentError } from './errors.js';
import { putInt32 } from './int-codec.js';
import { writeUtf8 } from './utf8.js';
import type { RemotingCommand } from './remoting-command.js';

/** Java `LanguageCode` names by ordinal (the byte in binary headers). */
export const LanguageCode = {
  JAVA: 0,
  CPP: 1,
  DOTNET: 2,
  PYTHON: 3,
  DELPHI: 4,
  ERLANG: 5,
  RUBY: 6,
  OTHER: 7,
  HTTP: 8,
  GO: 9,
  PHP: 10,
  OMS: 11,
  RUST: 12,
} as const;
export type LanguageName = keyof typeof LanguageCode;

const LANGUAGE_BY_ORDINAL: readonly string[] = Object.keys(LanguageCode);

/** The ordinal for a language name; names outside Java's enum are sent as OTHER. */
export function languageOrdinal(name: string): number {
  return Object.hasOwn(LanguageCode, name) ? LanguageCode[name as LanguageName] : LanguageCode.OTHER;
}

/** The name for an ordinal; an ordinal a newer peer added is kept visible as `UNKNOWN_<n>`. */
export function languageName(ordinal: number): string {
  return LANGUAGE_BY_ORDINAL[ordinal] ?? `UNKNOWN_${ordinal}`;
}

/** The header fields of a command: everything but the body and the serialize type. */
export type CommandHeader = Omit<RemotingCommand, 'body' | 'serializeType'>;

export function encodeJsonHeader(cmd: CommandHeader): string {
  const header: Record<string, unknown> = {
    code: cmd.code,
    language: cmd.language,
    version: cmd.version,
    opaque: cmd.opaque,
    flag: cmd.flag,
  };
  if (cmd.remark !== undefined && cmd.remark !== null) header.remark = cmd.remark;
  header.extFields = cmd.extBytes === undefined ? withoutNulls(cmd.extFields) : withExtBytes(cmd.extFields, cmd.extBytes);
  // No replacer function: it would take JSON.stringify off its fast path on every frame.
  return JSON.stringify(header);
}

/** The fields themselves unless a value is null (JSON.stringify already drops undefined). */
function withoutNulls(fields: Record<string, string>): Record<string, string> {
  for (const key in fields) {
    if (fields[key] === null) {
      const copy: Record<string, string> = {};
      for (const k in fields) if (fields[k] !== null) copy[k] = fields[k];
      return copy;
    }
  }
  return fields;
}

/** The fields and those of `extBytes` in one object (a JSON header has no other place for them). */
function withExtBytes(fields: Record<string, string>, extBytes: Buffer): Record<string, string> {
  const all = { ...withoutNulls(fields) };
  readExtEntries(extBytes, 0, extBytes.length, all);
  return all;
}

function intField(obj: Record<string, unknown>, key: string, required: boolean): number {
  const value = obj[key];
  if (value === undefined || value === null) {
    if (required) throw new FrameError(`header has no "${key}"`);
    return 0;
  }
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new FrameError(`header "${key}" is not an integer: ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * Parses a JSON header (`bytes[start, end)`); extFields values that are numbers or booleans (as
 * ali-ons sends them) become strings.
 */
export function decodeJsonHeader(bytes: Buffer, start = 0, end = bytes.length): CommandHeader {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8', start, end));
  } catch (err) {
    throw new FrameError(`header does not parse as JSON: ${(err as Error).message}`, { cause: err });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new FrameError('header JSON is not an object');
  }
  const obj = parsed as Record<string, unknown>;
  const header: CommandHeader = {
    code: intField(obj, 'code', true),
    language: decodeLanguage(obj.language),
    version: intField(obj, 'version', false),
    opaque: intField(obj, 'opaque', false),
    flag: intField(obj, 'flag', false),
    extFields: decodeJsonExtFields(obj.extFields),
  };
  if (typeof obj.remark === 'string') header.remark = obj.remark;
  else if (obj.remark !== undefined && obj.remark !== null) throw new FrameError('header "remark" is not a string');
  return header;
}

function decodeLanguage(value: unknown): string {
  if (value === undefined || value === null) return 'JAVA';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return languageName(value);
  throw new FrameError(`header "language" is neither a name nor an ordinal: ${JSON.stringify(value)}`);
}

/** Coerces in place: the object is fresh from JSON.parse, and most frames need no change at all. */
function decodeJsonExtFields(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new FrameError('header "extFields" is not an object');
  const fields = value as Record<string, unknown>;
  for (const key in fields) {
    const v = fields[key];
    if (typeof v === 'string') continue;
    if (typeof v === 'number' || typeof v === 'boolean') fields[key] = String(v);
    else if (v === null) delete fields[key];
    else throw new FrameError(`header extFields "${key}" is not a string, number or boolean`);
  }
  return fields as Record<string, string>;
}

const BINARY_FIXED = 2 + 1 + 2 + 4 + 4 + 4 + 4;
const MAX_KEY_BYTES = 0x7fff;
/** Strings up to this many UTF-16 units are copied in JS: cheaper than a call into C++. */
const SHORT_STRING = 32;

/** Bytes `text` can take in UTF-8 at most: 3 per UTF-16 unit (a surrogate pair takes 4 for 2). */
function utf8Bound(text: string): number {
  return 3 * text.length;
}

/**
 * An upper bound of the binary header's size: `writeBinaryHeader` needs that much room. Cheap (no
 * pass over the characters), so a header is written in one pass and never measured first.
 */
export function binaryHeaderBound(cmd: CommandHeader): number {
  const remarkBound = cmd.remark === undefined || cmd.remark === null ? 0 : utf8Bound(cmd.remark);
  return BINARY_FIXED + remarkBound + extEntriesBound(cmd.extFields) + (cmd.extBytes?.length ?? 0);
}

/** Room `writeExtEntries` needs for `fields`. */
function extEntriesBound(fields: Record<string, string>): number {
  let bound = 0;
  for (const key in fields) {
    const value: unknown = fields[key];
    if (value === undefined || value === null) continue;
    bound += 6 + utf8Bound(key) + utf8Bound(typeof value === 'string' ? value : String(value));
  }
  return bound;
}

/**
 * Writes the binary header at `out[pos]`, which has `binaryHeaderBound(cmd)` bytes of room, and
 * returns the position after it. Each string goes in one pass, its length field filled in after;
 * integers are stored byte by byte (the Buffer write methods cost a call and range checks each).
 * `for...in` rather than `Object.keys`: V8 reads the values through the enum cache instead of a
 * megamorphic keyed load per field (extFields are plain objects, as everywhere in the codecs).
 */
export function writeBinaryHeader(cmd: CommandHeader, out: Buffer, pos: number): number {
  const code = cmd.code;
  const version = cmd.version;
  out[pos] = code >>> 8;
  out[pos + 1] = code;
  out[pos + 2] = languageOrdinal(cmd.language);
  out[pos + 3] = version >>> 8;
  out[pos + 4] = version;
  pos = putInt32(out, pos + 5, cmd.opaque);
  pos = putInt32(out, pos, cmd.flag);
  const remark = cmd.remark;
  const remarkEnd = remark === undefined || remark === null ? pos + 4 : writeText(out, pos + 4, remark);
  putInt32(out, pos, remarkEnd - pos - 4);
  const extStart = remarkEnd + 4;
  pos = writeExtEntries(cmd.extFields, out, extStart);
  const extBytes = cmd.extBytes;
  if (extBytes !== undefined) pos += extBytes.copy(out, pos);
  putInt32(out, remarkEnd, pos - extStart);
  return pos;
}

/** Writes `fields` as binary extFields entries at `out[pos]` (room for `extEntriesBound`); returns the position after. */
function writeExtEntries(fields: Record<string, string>, out: Buffer, pos: number): number {
  for (const key in fields) {
    const value: unknown = fields[key];
    if (value === undefined || value === null) continue;
    const keyEnd = writeText(out, pos + 2, key);
    const keyLen = keyEnd - pos - 2;
    if (keyLen > MAX_KEY_BYTES) throw new InvalidArgumentError(`extFields name of ${keyLen} bytes exceeds the int16 length field`);
    out[pos] = keyLen >>> 8;
    out[pos + 1] = keyLen;
    const valueEnd = writeText(out, keyEnd + 4, typeof value === 'string' ? value : String(value));
    putInt32(out, keyEnd, valueEnd - keyEnd - 4);
    pos = valueEnd;
  }
  return pos;
}

/** `fields` as binary extFields entries, for a command's `extBytes`. */
export function encodeExtEntries(fields: Record<string, string>): Buffer {
  const out = Buffer.allocUnsafe(extEntriesBound(fields));
  return out.subarray(0, writeExtEntries(fields, out, 0));
}

/** The binary header in a buffer of its own, after `reserve` bytes left for the caller. */
export function encodeBinaryHeader(cmd: CommandHeader, reserve = 0): Buffer {
  const out = Buffer.allocUnsafe(reserve + binaryHeaderBound(cmd));
  return out.subarray(0, writeBinaryHeader(cmd, out, reserve));
}

/** Writes `text` as UTF-8 at `pos` (room for `utf8Bound(text)` bytes); returns the position after. */
function writeText(out: Buffer, pos: number, text: string): number {
  return pos + writeUtf8(out, pos, text, SHORT_STRING);
}

/**
 * Short ASCII strings recur in every header (field names, and most values: group, topic, queue
 * numbers, flags): one is looked up in a table instead of being decoded into a new string. The
 * slot comes from the length and the outer bytes, so a hit costs one comparing pass over the bytes
 * and nothing else; a slot holds the last string that went to it, and a copy of its bytes to
 * compare against (typed-array loads cost a third of `charCodeAt`'s). The pass runs from the end:
 * values that never repeat (message ids, offsets, timestamps) share their first bytes with the one
 * in the slot and differ in their last. Names and values have a table each, so such values do not
 * push the names out.
 */
const SLOT_BITS = 10;

class InternTable {
  private readonly strings: (string | undefined)[] = new Array<string | undefined>(1 << SLOT_BITS).fill(undefined);
  private readonly bytes = new Uint8Array((1 << SLOT_BITS) * SHORT_STRING);

  decode(bytes: Buffer, start: number, end: number): string {
    const length = end - start;
    if (length > SHORT_STRING) return bytes.toString('utf8', start, end);
    if (length === 0) return '';
    const slot =
      (Math.imul(length, 0x9e3779b1) ^ Math.imul(bytes[start]!, 0x85ebca6b) ^ Math.imul(bytes[end - 1]!, 0xc2b2ae35) ^ Math.imul(bytes[start + (length >> 1)]!, 0x27d4eb2f)) >>>
      (32 - SLOT_BITS);
    const cached = this.strings[slot];
    const base = slot * SHORT_STRING;
    const copy = this.bytes;
    if (cached !== undefined && cached.length === length) {
      let i = length - 1;
      while (i >= 0 && copy[base + i] === bytes[start + i]) i--;
      if (i < 0) return cached;
    }
    for (let i = start; i < end; i++) if (bytes[i]! >= 0x80) return bytes.toString('utf8', start, end);
    const text = bytes.toString('latin1', start, end);
    this.strings[slot] = text;
    for (let i = 0; i < length; i++) copy[base + i] = bytes[start + i]!;
    return text;
  }
}

const internedNames = new InternTable();
const internedValues = new InternTable();

function int32(bytes: Buffer, pos: number): number {
  return (bytes[pos]! << 24) | (bytes[pos + 1]! << 16) | (bytes[pos + 2]! << 8) | bytes[pos + 3]!;
}

function int16(bytes: Buffer, pos: number): number {
  return (((bytes[pos]! << 8) | bytes[pos + 1]!) << 16) >> 16;
}

/** Decodes the binary header in `bytes[start, end)`. */
export function decodeBinaryHeader(bytes: Buffer, start = 0, end = bytes.length): CommandHeader {
  if (end - start < BINARY_FIXED) {
    throw new FrameError(`binary header is ${end - start} bytes, shorter than the ${BINARY_FIXED}-byte minimum`);
  }
  const code = int16(bytes, start);
  const language = languageName((bytes[start + 2]! << 24) >> 24);
  const version = int16(bytes, start + 3);
  const opaque = int32(bytes, start + 5);
  const flag = int32(bytes, start + 9);
  let pos = start + 13;
  const remarkLen = int32(bytes, pos);
  pos += 4;
  if (remarkLen < 0 || remarkLen > end - pos - 4) {
    throw new FrameError(`binary header remark length ${remarkLen} runs past the header`);
  }
  const extFields: Record<string, string> = {};
  const header: CommandHeader = { code, language, version, opaque, flag, extFields };
  if (remarkLen > 0) header.remark = bytes.toString('utf8', pos, pos + remarkLen);
  pos += remarkLen;
  const extLen = int32(bytes, pos);
  pos += 4;
  if (extLen < 0 || extLen !== end - pos) {
    throw new FrameError(`binary header extFields length ${extLen} does not match the ${end - pos} bytes left`);
  }
  readExtEntries(bytes, pos, end, extFields);
  return header;
}

/** Reads the binary extFields entries in `bytes[pos, end)` into `into`. */
function readExtEntries(bytes: Buffer, pos: number, end: number, into: Record<string, string>): void {
  while (pos < end) {
    if (end - pos < 2) throw new FrameError('binary header extFields: truncated key length');
    const keyLen = int16(bytes, pos);
    pos += 2;
    if (keyLen < 0 || end - pos < keyLen + 4) throw new FrameError('binary header extFields: key runs past the end');
    const key = internedNames.decode(bytes, pos, pos + keyLen);
    pos += keyLen;
    const valLen = int32(bytes, pos);
    pos += 4;
    if (valLen < 0 || end - pos < valLen) throw new FrameError(`binary header extFields: value of "${key}" runs past the end`);
    into[key] = valLen === 0 ? '' : internedValues.decode(bytes, pos, pos + valLen);
    pos += valLen;
  }
}
