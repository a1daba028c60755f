/**
 * JSON bodies of the remoting requests FerryMQ speaks (RocketMQ 4.9.8 classes of the same names).
 * Java brokers and name servers serialise them with fastjson, which writes integer map keys
 * unquoted (`"brokerAddrs":{0:"127.0.0.1:10911"}`); `parseRocketMQJson` reads that as well as
 * standard JSON. FerryMQ itself always writes standard JSON (`encodeJsonBody`).
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

export function encodeJsonBody(obj: unknown): Buffer {
  return Buffer.from(JSON.stringify(obj), 'utf8');
}

/** Deeper nesting than this is refused rather than risking the stack. */
export const MAX_JSON_DEPTH = 256;

/**
 * Parses a JSON body as Java RocketMQ writes it. Standard JSON takes the fast path (`JSON.parse`);
 * otherwise a linear-time parser also accepts unquoted object keys (fastjson's integer keys, or
 * identifier-like keys). Garbage gives an `InvalidArgumentError` with the byte position.
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

  private parseObject(depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.pos++; // {
    this.skipWhitespace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipWhitespace();
      const key = this.text[this.pos] === '"' ? this.parseString() : this.parseBareKey();
      this.skipWhitespace();
      if (this.text[this.pos] !== ':') this.fail('expected ":" after an object key');
      this.pos++;
      this.skipWhitespace();
      const value = this.parseValue(depth + 1);
      // defineProperty so a "__proto__" key stays data, as with JSON.parse.
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      this.skipWhitespace();
      const sep = this.text[this.pos++];
      if (sep === '}') return out;
      if (sep !== ',') {
        this.pos--;
        this.fail('expected "," or "}" in an object');
      }
    }
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
    // Each search result is reused until passed, so many escapes in one string stay linear.
    let quote = -1;
    let escape = -1;
    for (;;) {
      if (quote < this.pos) quote = t.indexOf('"', this.pos);
      if (quote < 0) this.fail('unterminated string');
      if (escape < this.pos) {
        escape = t.indexOf('\\', this.pos);
        if (escape < 0) escape = Infinity;
      }
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
