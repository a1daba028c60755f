/**
 * Bodies of the admin request codes (RocketMQ 4.9 `common/admin/*` and `common/protocol/body/*`).
 * They travel as fastjson text, read by `parseRocketMQJson` and written by `encodeJsonBody`
 * (`bodies.ts`). A Java `Map<MessageQueue, V>` has object keys there, so it is a JS `Map` on our side;
 * `encodeMessageQueueTable` / `decodeMessageQueueTable` convert. Maps keyed by strings or numbers are
 * plain JSON objects (fastjson reads `{"0":…}` for a `Map<Long,…>`).
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
import { parseRocketMQJson } from './bodies.js';
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

function parseObjectBody(body: Buffer): Record<string, unknown> {
  const parsed = parseRocketMQJson(body);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed) || parsed instanceof Map) {
    throw new InvalidArgumentError('expected a JSON object body');
  }
  return parsed as Record<string, unknown>;
}

function numberField(raw: unknown, field: string): number {
  const value = raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>)[field] : undefined;
  return typeof value === 'number' ? value : 0;
}

export function decodeTopicStatsTable(body: Buffer): QueueEntry<TopicOffset>[] {
  const parsed = parseObjectBody(body);
  return decodeMessageQueueTable(parsed.offsetTable, (v) => ({
    minOffset: numberField(v, 'minOffset'),
    maxOffset: numberField(v, 'maxOffset'),
    lastUpdateTimestamp: numberField(v, 'lastUpdateTimestamp'),
  }));
}

export function decodeConsumeStats(body: Buffer): ConsumeStats {
  const parsed = parseObjectBody(body);
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
  const parsed = parseObjectBody(body);
  return decodeMessageQueueTable(parsed.offsetTable, (v) => (typeof v === 'number' ? v : 0));
}
