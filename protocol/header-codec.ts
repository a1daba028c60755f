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
import { FrameError } from './errors.js';
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
  header.extFields = withoutNulls(cmd.extFields);
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
/** Strings up to this many UTF-16 units are measured and copied in JS: cheaper than a call into C++. */
const SHORT_STRING = 32;

/**
 * The binary header, written after `reserve` bytes left for the caller (the frame prefix), so a
 * frame needs no second buffer and copy. Strings are measured, then written in place.
 */
export function encodeBinaryHeader(cmd: CommandHeader, reserve = 0): Buffer {
  const remark = cmd.remark === undefined || cmd.remark === null ? undefined : cmd.remark;
  const remarkLen = remark === undefined ? 0 : utf8Length(remark);
  const fields = cmd.extFields;
  const keys = Object.keys(fields);
  let extLen = 0;
  for (const key of keys) {
    const value: unknown = fields[key];
    if (value === undefined || value === null) continue;
    extLen += 2 + utf8Length(key) + 4 + utf8Length(typeof value === 'string' ? value : String(value));
  }
  const out = Buffer.allocUnsafe(reserve + BINARY_FIXED + remarkLen + extLen);
  let pos = out.writeInt16BE((cmd.code << 16) >> 16, reserve);
  pos = out.writeInt8(languageOrdinal(cmd.language), pos);
  pos = out.writeInt16BE((cmd.version << 16) >> 16, pos);
  pos = out.writeInt32BE(cmd.opaque | 0, pos);
  pos = out.writeInt32BE(cmd.flag | 0, pos);
  pos = out.writeInt32BE(remarkLen, pos);
  if (remark !== undefined) pos = writeUtf8(out, pos, remark, remarkLen);
  pos = out.writeInt32BE(extLen, pos);
  for (const key of keys) {
    const value: unknown = fields[key];
    if (value === undefined || value === null) continue;
    const text = typeof value === 'string' ? value : String(value);
    const keyLen = utf8Length(key);
    pos = writeUtf8(out, out.writeInt16BE(keyLen, pos), key, keyLen);
    const textLen = utf8Length(text);
    pos = writeUtf8(out, out.writeInt32BE(textLen, pos), text, textLen);
  }
  return out;
}

function utf8Length(text: string): number {
  if (text.length > SHORT_STRING) return Buffer.byteLength(text, 'utf8');
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return Buffer.byteLength(text, 'utf8');
  return text.length;
}

/** Writes `text` (`byteLength` UTF-8 bytes, from `utf8Length`) at `pos`; returns the position after. */
function writeUtf8(out: Buffer, pos: number, text: string, byteLength: number): number {
  if (byteLength === text.length && byteLength <= SHORT_STRING) {
    // Equal lengths: every unit is ASCII (anything else takes 2+ bytes per unit).
    for (let i = 0; i < byteLength; i++) out[pos + i] = text.charCodeAt(i);
    return pos + byteLength;
  }
  return pos + out.write(text, pos, 'utf8');
}

/**
 * Field names recur in every header: a short ASCII one is looked up here by a hash of its bytes
 * instead of being decoded again. A slot holds the last name that hashed to it.
 */
const internedNames: (string | undefined)[] = new Array<string | undefined>(1024).fill(undefined);

function decodeName(bytes: Buffer, start: number, end: number): string {
  const length = end - start;
  if (length > SHORT_STRING) return bytes.toString('utf8', start, end);
  let hash = length;
  for (let i = start; i < end; i++) {
    const c = bytes[i]!;
    if (c >= 0x80) return bytes.toString('utf8', start, end);
    hash = (Math.imul(hash, 31) + c) | 0;
  }
  const slot = hash & (internedNames.length - 1);
  const cached = internedNames[slot];
  if (cached !== undefined && cached.length === length) {
    let i = 0;
    while (i < length && cached.charCodeAt(i) === bytes[start + i]) i++;
    if (i === length) return cached;
  }
  const name = bytes.toString('latin1', start, end);
  internedNames[slot] = name;
  return name;
}

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
  while (pos < end) {
    if (end - pos < 2) throw new FrameError('binary header extFields: truncated key length');
    const keyLen = int16(bytes, pos);
    pos += 2;
    if (keyLen < 0 || end - pos < keyLen + 4) throw new FrameError('binary header extFields: key runs past the end');
    const key = decodeName(bytes, pos, pos + keyLen);
    pos += keyLen;
    const valLen = int32(bytes, pos);
    pos += 4;
    if (valLen < 0 || end - pos < valLen) throw new FrameError(`binary header extFields: value of "${key}" runs past the end`);
    extFields[key] = valLen === 0 ? '' : bytes.toString('utf8', pos, pos + valLen);
    pos += valLen;
  }
  return header;
}
