/**
 * JSON bodies of the remoting requests FerryMQ speaks (RocketMQ 4.9.8 classes of the same names),
 * and the one reader and writer of body JSON for all request codes, admin ones included.
 *
 * Java brokers and name servers serialise bodies with fastjson, which differs from JSON in two ways:
 *
 *   integer map keys are unquoted      {"brokerAddrs":{0:"127.0.0.1:10911"}}
 *   object map keys are JSON objects   {"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:5}}
 *
 * The second form is how a Java `Map<MessageQueue, V>` travels, and the only form Java reads for one.
 * `parseRocketMQJson` reads both (an object with any object- or array-valued key becomes a `Map`);
 * `encodeJsonBody` writes standard JSON, except that a JS `Map` is written in the second form.
 */
import { InvalidArgumentError } from './errors.js';

export interface MessageQueue {
  topic: string;
  brokerName: string;
  queueId: number;
}

export interface QueueData {
  brokerName: string;
  readQueueNums: number;
  writeQueueNums: number;
  /** 4 read, 2 write, 1 inherit; 6 = read-write. */
  perm: number;
  topicSysFlag: number;
}

export interface BrokerData {
  cluster: string;
  brokerName: string;
  /** brokerId → "host:port"; id 0 is the master. */
  brokerAddrs: Record<string, string>;
}

export interface TopicRouteData {
  /** `brokerName:queueNums;…` for ordered topics; when present clients build publish queues from it. */
  orderTopicConf?: string;
  queueDatas: QueueData[];
  brokerDatas: BrokerData[];
  filterServerTable: Record<string, string[]>;
}

export interface SubscriptionData {
  classFilterMode: boolean;
  topic: string;
  subString: string;
  tagsSet: string[];
  codeSet: number[];
  subVersion: number;
  /** "TAG" (default) or "SQL92". */
  expressionType?: string;
}

export interface ProducerData {
  groupName: string;
}

export interface ConsumerData {
  groupName: string;
  /** CONSUME_ACTIVELY (pull) | CONSUME_PASSIVELY (push). */
  consumeType: string;
  /** CLUSTERING | BROADCASTING. */
  messageModel: string;
  consumeFromWhere: string;
  subscriptionDataSet: SubscriptionData[];
  unitMode: boolean;
}

export interface HeartbeatData {
  clientID: string;
  producerDataSet: ProducerData[];
  consumerDataSet: ConsumerData[];
}

export interface ConsumerListBody {
  consumerIdList: string[];
}

export interface LockBatchRequestBody {
  consumerGroup: string;
  clientId: string;
  mqSet: MessageQueue[];
}

export interface LockBatchResponseBody {
  lockOKMQSet: MessageQueue[];
}

export interface UnlockBatchRequestBody {
  consumerGroup: string;
  clientId: string;
  mqSet: MessageQueue[];
}

/**
 * UTF-8 JSON of `value`, where a `Map` becomes an object whose keys are written as JSON values: a
 * string key quoted, a number or object key as its own JSON (fastjson's form, see the top of the file).
 * `undefined` fields are dropped, as `JSON.stringify` does.
 */
export function encodeJsonBody(value: unknown): Buffer {
  return Buffer.from(jsonText(value), 'utf8');
}

function jsonText(value: unknown): string {
  if (value instanceof Map) {
    const parts: string[] = [];
    for (const [k, v] of value) {
      if (v !== undefined) parts.push(`${typeof k === 'string' ? JSON.stringify(k) : jsonText(k)}:${jsonText(v)}`);
    }
    return `{${parts.join(',')}}`;
  }
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : jsonText(v))).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const parts: string[] = [];
    for (const [k, v] of Object.entries(value)) if (v !== undefined) parts.push(`${JSON.stringify(k)}:${jsonText(v)}`);
    return `{${parts.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Deeper nesting than this is refused rather than risking the stack. */
export const MAX_JSON_DEPTH = 256;

/**
 * Parses a JSON body as Java RocketMQ writes it. Standard JSON takes the fast path (`JSON.parse`);
 * otherwise a linear-time parser also accepts unquoted object keys (fastjson's integer keys, or
 * identifier-like keys, read as strings) and object- or array-valued keys, which turn their object
 * into a `Map` (fastjson's `Map<MessageQueue, V>`). Garbage gives an `InvalidArgumentError` with the
 * position; nesting (keys included) deeper than `MAX_JSON_DEPTH` is refused.
 */
export function parseRocketMQJson<T = unknown>(input: Buffer | string): T {
  const text = typeof input === 'string' ? input : input.toString('utf8');
  try {
    return JSON.parse(text) as T;
  } catch {
    return new LenientJsonParser(text).parseDocument() as T;
  }
}

const WS_SPACE = 32;
const WS_TAB = 9;
const WS_LF = 10;
const WS_CR = 13;

class LenientJsonParser {
  private pos = 0;
  /** Next backslash at or after some earlier position (Infinity: none left); see parseString. */
  private nextBackslash = -1;

  constructor(private readonly text: string) {}

  parseDocument(): unknown {
    this.skipWhitespace();
    if (this.pos >= this.text.length) this.fail('empty body');
    const value = this.parseValue(0);
    this.skipWhitespace();
    if (this.pos < this.text.length) this.fail('unexpected text after the value');
    return value;
  }

  private fail(what: string): never {
    const near = this.text.slice(this.pos, this.pos + 20);
    throw new InvalidArgumentError(`invalid JSON body at position ${this.pos}: ${what}${near ? ` (near ${JSON.stringify(near)})` : ''}`);
  }

  private skipWhitespace(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c !== WS_SPACE && c !== WS_TAB && c !== WS_LF && c !== WS_CR) break;
      this.pos++;
    }
  }

  private parseValue(depth: number): unknown {
    if (depth > MAX_JSON_DEPTH) this.fail(`nesting deeper than ${MAX_JSON_DEPTH}`);
    const c = this.text[this.pos];
    if (c === '{') return this.parseObject(depth);
    if (c === '[') return this.parseArray(depth);
    if (c === '"') return this.parseString();
    if (c === '-' || (c >= '0' && c <= '9')) return this.parseNumber();
    if (this.text.startsWith('true', this.pos)) return this.literal(4, true);
    if (this.text.startsWith('false', this.pos)) return this.literal(5, false);
    if (this.text.startsWith('null', this.pos)) return this.literal(4, null);
    return this.fail(c === undefined ? 'unexpected end' : `unexpected character ${JSON.stringify(c)}`);
  }

  private literal<V>(length: number, value: V): V {
    this.pos += length;
    return value;
  }

  private parseObject(depth: number): Record<string, unknown> | Map<unknown, unknown> {
    const out: Record<string, unknown> = {};
    // Takes over from `out` at the first object- or array-valued key.
    let map: Map<unknown, unknown> | undefined;
    this.pos++; // {
    this.skipWhitespace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipWhitespace();
      const key = this.parseKey(depth);
      this.skipWhitespace();
      if (this.text[this.pos] !== ':') this.fail('expected ":" after an object key');
      this.pos++;
      this.skipWhitespace();
      const value = this.parseValue(depth + 1);
      if (map === undefined && typeof key === 'string') {
        // defineProperty so a "__proto__" key stays data, as with JSON.parse.
        Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      } else {
        map ??= new Map(Object.entries(out));
        map.set(key, value);
      }
      this.skipWhitespace();
      const sep = this.text[this.pos++];
      if (sep === '}') return map ?? out;
      if (sep !== ',') {
        this.pos--;
        this.fail('expected "," or "}" in an object');
      }
    }
  }

  /** A quoted or bare key is a string; `{…}` or `[…]` is a key value, counted in the nesting depth. */
  private parseKey(depth: number): unknown {
    const c = this.text[this.pos];
    if (c === '"') return this.parseString();
    if (c === '{' || c === '[') return this.parseValue(depth + 1);
    return this.parseBareKey();
  }

  private parseBareKey(): string {
    const start = this.pos;
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      const ok =
        (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36 || c === 45 || c === 46;
      if (!ok) break;
      this.pos++;
    }
    if (this.pos === start) this.fail('expected an object key');
    return t.slice(start, this.pos);
  }

  private parseArray(depth: number): unknown[] {
    const out: unknown[] = [];
    this.pos++; // [
    this.skipWhitespace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipWhitespace();
      out.push(this.parseValue(depth + 1));
      this.skipWhitespace();
      const sep = this.text[this.pos++];
      if (sep === ']') return out;
      if (sep !== ',') {
        this.pos--;
        this.fail('expected "," or "]" in an array');
      }
    }
  }

  private parseString(): string {
    const t = this.text;
    this.pos++; // opening quote
    let out = '';
    // Each search result is reused until passed, so many escapes in one string stay linear; the
    // backslash search is kept across strings, or each string would scan the rest of the body.
    let quote = -1;
    for (;;) {
      if (quote < this.pos) quote = t.indexOf('"', this.pos);
      if (quote < 0) this.fail('unterminated string');
      if (this.nextBackslash < this.pos) {
        const found = t.indexOf('\\', this.pos);
        this.nextBackslash = found < 0 ? Infinity : found;
      }
      const escape = this.nextBackslash;
      if (quote < escape) {
        out += t.slice(this.pos, quote);
        this.pos = quote + 1;
        return out;
      }
      out += t.slice(this.pos, escape);
      this.pos = escape + 1;
      const e = t[this.pos++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          const hex = t.slice(this.pos, this.pos + 4);
          const code = hex.length === 4 && isHex4(hex) ? parseInt(hex, 16) : -1;
          if (code < 0) this.fail('bad \\u escape');
          out += String.fromCharCode(code);
          this.pos += 4;
          break;
        }
        default:
          this.pos--;
          this.fail('bad escape in string');
      }
    }
  }

  private parseNumber(): number {
    const t = this.text;
    const start = this.pos;
    if (t[this.pos] === '-') this.pos++;
    const digits = () => {
      const from = this.pos;
      while (this.pos < t.length && t.charCodeAt(this.pos) >= 48 && t.charCodeAt(this.pos) <= 57) this.pos++;
      if (this.pos === from) this.fail('expected a digit');
    };
    digits();
    if (t[this.pos] === '.') {
      this.pos++;
      digits();
    }
    if (t[this.pos] === 'e' || t[this.pos] === 'E') {
      this.pos++;
      if (t[this.pos] === '+' || t[this.pos] === '-') this.pos++;
      digits();
    }
    return Number(t.slice(start, this.pos));
  }
}

function isHex4(s: string): boolean {
  for (let i = 0; i < 4; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}
