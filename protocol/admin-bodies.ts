/**
 * Bodies of the admin request codes (RocketMQ 4.9 `common/admin/*` and `common/protocol/body/*`),
 * and the fastjson text they travel as.
 *
 * fastjson writes a Java Map whose keys are objects with each key as a JSON object, unquoted:
 *
 *   {"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"T"}:{"maxOffset":5,"minOffset":0}}}
 *
 * No standard JSON parser accepts that, and Java admin tools (mqadmin) only accept that, so
 * `encodeFastjson` writes a JS `Map` this way and `parseFastjson` reads it back into a `Map`.
 * Bodies whose maps are keyed by strings or numbers are plain JSON (fastjson reads `{"0":…}` for a
 * `Map<Long,…>`), and are written as such.
 *
 *   code  body (response unless noted)
 *     21  TopicConfigSerializeWrapper {topicConfigTable:{name:TopicConfig}, dataVersion}
 *     28  KVTable {table:{key:"string value"}}
 *     43  ConsumerOffsetSerializeWrapper {offsetTable:{"topic@group":{queueId:offset}}}
 *    106  ClusterInfo {brokerAddrTable:{brokerName:BrokerData}, clusterAddrTable:{cluster:[brokerName]}}
 *    200  SubscriptionGroupConfig (request body)
 *    201  SubscriptionGroupWrapper {subscriptionGroupTable:{name:SubscriptionGroupConfig}, dataVersion}
 *    202  TopicStatsTable {offsetTable:{MessageQueue:{minOffset,maxOffset,lastUpdateTimestamp}}}
 *    203  ConsumerConnection {connectionSet:[Connection], subscriptionTable:{topic:SubscriptionData},
 *         consumeType, messageModel, consumeFromWhere}
 *    204  ProducerConnection {connectionSet:[Connection]}
 *    206  TopicList {topicList:[name], brokerAddr?}   (also 224)
 *    208  ConsumeStats {offsetTable:{MessageQueue:{brokerOffset,consumerOffset,lastTimestamp}}, consumeTps}
 *    222  ResetOffsetBody {offsetTable:{MessageQueue:offset}}   (also the body of 220, broker → client)
 */
import { InvalidArgumentError } from './errors.js';

export interface MessageQueueKey {
  topic: string;
  brokerName: string;
  queueId: number;
}

/** A `Map<MessageQueue, V>` as a list; `encodeMessageQueueTable` / `decodeMessageQueueTable` convert. */
export interface QueueEntry<V> {
  queue: MessageQueueKey;
  value: V;
}

export interface TopicOffset {
  minOffset: number;
  maxOffset: number;
  /** Store time of the newest message; 0 when the queue is empty. */
  lastUpdateTimestamp: number;
}

export interface OffsetWrapper {
  brokerOffset: number;
  consumerOffset: number;
  /** Store time of the last consumed message; 0 when unknown. */
  lastTimestamp: number;
}

export interface ConsumeStats {
  offsetTable: QueueEntry<OffsetWrapper>[];
  consumeTps: number;
}

/** One client connection of a group, as 203/204 report it. */
export interface ConnectionInfo {
  clientId: string;
  clientAddr: string;
  language: string;
  version: number;
}

export interface ConsumerConnection {
  connectionSet: ConnectionInfo[];
  subscriptionTable: Record<string, { topic: string; subString: string; tagsSet?: string[]; codeSet?: number[]; subVersion?: number; expressionType?: string }>;
  consumeType: string;
  messageModel: string;
  consumeFromWhere: string;
}

/** RocketMQ's TopicConfig as it appears in the 21 body. */
export interface TopicConfigBody {
  topicName: string;
  readQueueNums: number;
  writeQueueNums: number;
  perm: number;
  topicFilterType: string;
  topicSysFlag: number;
  order: boolean;
}

export interface DataVersion {
  timestamp: number;
  counter: number;
}

/** RocketMQ's SubscriptionGroupConfig (200 request body, 201 table values). */
export interface SubscriptionGroupBody {
  groupName: string;
  consumeEnable: boolean;
  consumeFromMinEnable: boolean;
  consumeBroadcastEnable: boolean;
  retryQueueNums: number;
  retryMaxTimes: number;
  brokerId: number;
  whichBrokerWhenConsumeSlowly: number;
  notifyConsumerIdsChangedEnable: boolean;
}

const MAX_DEPTH = 64;

/**
 * JSON text of `value`, where a `Map` becomes an object whose keys are written as JSON values:
 * a string key quoted, anything else (number, object) as its own JSON. `undefined` fields are dropped.
 */
export function encodeFastjson(value: unknown): string {
  if (value instanceof Map) {
    const parts: string[] = [];
    for (const [k, v] of value) {
      if (v === undefined) continue;
      parts.push(`${typeof k === 'string' ? JSON.stringify(k) : encodeFastjson(k)}:${encodeFastjson(v)}`);
    }
    return `{${parts.join(',')}}`;
  }
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : encodeFastjson(v))).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const parts: string[] = [];
    for (const [k, v] of Object.entries(value)) if (v !== undefined) parts.push(`${JSON.stringify(k)}:${encodeFastjson(v)}`);
    return `{${parts.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function encodeFastjsonBody(value: unknown): Buffer {
  return Buffer.from(encodeFastjson(value), 'utf8');
}

/**
 * Parses fastjson output. Objects whose keys are all strings or bare numbers become plain objects
 * (number keys as strings); an object with any object- or array-valued key becomes a `Map`.
 * Nesting is limited to 64 levels, so hostile input cannot overflow the stack.
 */
export function parseFastjson(input: Buffer | string): unknown {
  const text = typeof input === 'string' ? input : input.toString('utf8');
  const parser = new FastjsonParser(text);
  const value = parser.value(0);
  parser.end();
  return value;
}

class FastjsonParser {
  private at = 0;

  constructor(private readonly text: string) {}

  end(): void {
    this.skipSpace();
    if (this.at < this.text.length) this.fail('unexpected text after the value');
  }

  value(depth: number): unknown {
    if (depth > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH}`);
    this.skipSpace();
    const c = this.text[this.at];
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    if (c === '"') return this.string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
    for (const [word, result] of [['true', true], ['false', false], ['null', null]] as const) {
      if (this.text.startsWith(word, this.at)) {
        this.at += word.length;
        return result;
      }
    }
    return this.fail(c === undefined ? 'unexpected end of text' : `unexpected character ${JSON.stringify(c)}`);
  }

  private object(depth: number): unknown {
    this.at++; // {
    const entries: [unknown, unknown][] = [];
    let objectKeys = false;
    this.skipSpace();
    if (this.text[this.at] === '}') {
      this.at++;
      return {};
    }
    for (;;) {
      this.skipSpace();
      const key = this.value(depth + 1);
      if (key !== null && typeof key === 'object') objectKeys = true;
      this.skipSpace();
      this.expect(':');
      entries.push([key, this.value(depth + 1)]);
      this.skipSpace();
      if (this.text[this.at] === ',') {
        this.at++;
        continue;
      }
      this.expect('}');
      break;
    }
    if (objectKeys) return new Map(entries);
    const out: Record<string, unknown> = {};
    for (const [k, v] of entries) out[String(k)] = v;
    return out;
  }

  private array(depth: number): unknown[] {
    this.at++; // [
    const out: unknown[] = [];
    this.skipSpace();
    if (this.text[this.at] === ']') {
      this.at++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth + 1));
      this.skipSpace();
      if (this.text[this.at] === ',') {
        this.at++;
        continue;
      }
      this.expect(']');
      return out;
    }
  }

  private string(): string {
    const start = this.at;
    this.at++; // opening quote
    for (;;) {
      const c = this.text[this.at];
      if (c === undefined) this.fail('unterminated string');
      if (c === '\\') this.at += 2;
      else if (c === '"') break;
      else this.at++;
    }
    this.at++;
    try {
      return JSON.parse(this.text.slice(start, this.at)) as string;
    } catch {
      return this.fail('bad string escape');
    }
  }

  private number(): number {
    const match = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(this.text.slice(this.at, this.at + 64));
    if (!match) return this.fail('bad number');
    this.at += match[0].length;
    return Number(match[0]);
  }

  private skipSpace(): void {
    while (this.at < this.text.length && ' \t\r\n'.includes(this.text[this.at]!)) this.at++;
  }

  private expect(c: string): void {
    if (this.text[this.at] !== c) this.fail(`expected ${JSON.stringify(c)}`);
    this.at++;
  }

  private fail(why: string): never {
    throw new InvalidArgumentError(`malformed JSON body at character ${this.at}: ${why}`);
  }
}

/** `Map<MessageQueue, V>` in fastjson form, keys ordered as Java's MessageQueue.compareTo. */
export function encodeMessageQueueTable<V>(entries: readonly QueueEntry<V>[]): Map<MessageQueueKey, V> {
  const sorted = [...entries].sort((a, b) => compareQueueKeys(a.queue, b.queue));
  // fastjson writes fields in name order: brokerName, queueId, topic.
  return new Map(sorted.map((e) => [{ brokerName: e.queue.brokerName, queueId: e.queue.queueId, topic: e.queue.topic }, e.value]));
}

/** Reads a parsed `Map<MessageQueue, V>` (or `{}` for an empty one) into sorted entries. */
export function decodeMessageQueueTable<V>(table: unknown, readValue: (raw: unknown) => V): QueueEntry<V>[] {
  if (table === undefined || table === null) return [];
  if (!(table instanceof Map)) {
    if (typeof table === 'object' && Object.keys(table).length === 0) return [];
    throw new InvalidArgumentError('expected a table keyed by message queue');
  }
  const out: QueueEntry<V>[] = [];
  for (const [k, v] of table) {
    const key = k as Partial<MessageQueueKey>;
    if (typeof key.topic !== 'string' || typeof key.brokerName !== 'string' || typeof key.queueId !== 'number') {
      throw new InvalidArgumentError('a message-queue key lacks topic, brokerName or queueId');
    }
    out.push({ queue: { topic: key.topic, brokerName: key.brokerName, queueId: key.queueId }, value: readValue(v) });
  }
  return out.sort((a, b) => compareQueueKeys(a.queue, b.queue));
}

function compareQueueKeys(a: MessageQueueKey, b: MessageQueueKey): number {
  if (a.topic !== b.topic) return a.topic < b.topic ? -1 : 1;
  if (a.brokerName !== b.brokerName) return a.brokerName < b.brokerName ? -1 : 1;
  return a.queueId - b.queueId;
}

function numberField(raw: unknown, field: string): number {
  const value = raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>)[field] : undefined;
  return typeof value === 'number' ? value : 0;
}

export function decodeTopicStatsTable(body: Buffer): QueueEntry<TopicOffset>[] {
  const parsed = parseFastjson(body) as { offsetTable?: unknown };
  return decodeMessageQueueTable(parsed.offsetTable, (v) => ({
    minOffset: numberField(v, 'minOffset'),
    maxOffset: numberField(v, 'maxOffset'),
    lastUpdateTimestamp: numberField(v, 'lastUpdateTimestamp'),
  }));
}

export function decodeConsumeStats(body: Buffer): ConsumeStats {
  const parsed = parseFastjson(body) as { offsetTable?: unknown; consumeTps?: unknown };
  return {
    offsetTable: decodeMessageQueueTable(parsed.offsetTable, (v) => ({
      brokerOffset: numberField(v, 'brokerOffset'),
      consumerOffset: numberField(v, 'consumerOffset'),
      lastTimestamp: numberField(v, 'lastTimestamp'),
    })),
    consumeTps: typeof parsed.consumeTps === 'number' ? parsed.consumeTps : 0,
  };
}

export function decodeResetOffsetBody(body: Buffer): QueueEntry<number>[] {
  const parsed = parseFastjson(body) as { offsetTable?: unknown };
  return decodeMessageQueueTable(parsed.offsetTable, (v) => (typeof v === 'number' ? v : 0));
}
