import { inflateSync } from 'node:zlib';
import { decodeRecords, MessageSysFlag, type DecodedRecord } from '../protocol/message-codec.js';
import { MessageConst } from '../protocol/properties.js';
import { tagMatches, type TagExpression } from '../protocol/tag-filter.js';
import type { MessageQueue } from './message-queue.js';

/** A message to send. */
export interface Message {
  topic: string;
  body: Buffer | string;
  /** One tag; consumers filter on it (`TagA || TagB`). */
  tags?: string;
  /** Business keys for lookup and idempotency; sent space-separated. */
  keys?: string | readonly string[];
  /** User properties. Names used by RocketMQ itself (TAGS, KEYS, UNIQ_KEY, DELAY, ...) are rejected. */
  properties?: Record<string, string>;
  /** 1..18: deliver after that level's delay (1s 5s 10s 30s 1m ... 2h by default). */
  delayLevel?: number;
  /** User int carried as is. */
  flag?: number;
  /** Messages with one sharding key go to one queue, in send order (`shardingKeySelector` unless the send names another selector). */
  shardingKey?: string;
}

/** A message as a consumer receives it. */
export interface ReceivedMessage {
  /** The original topic (restored from RETRY_TOPIC for a redelivery). */
  topic: string;
  tags: string | undefined;
  keys: string[];
  body: Buffer;
  properties: Record<string, string>;
  /** Offset msgId of this stored record (host, port, physical offset); what ali-ons calls msgId. */
  msgId: string;
  /** Client-generated UNIQ_KEY, the same across retries; undefined for producers that do not set it (ali-ons). */
  uniqKey: string | undefined;
  /** For a redelivery, the msgId of the first delivery. */
  originMessageId: string | undefined;
  /** The queue it was pulled from (a `%RETRY%` queue for redeliveries). */
  queue: MessageQueue;
  queueOffset: number;
  /** Physical offset on the broker; CONSUMER_SEND_MSG_BACK finds the original by it. */
  commitLogOffset: number;
  reconsumeTimes: number;
  bornTimestamp: number;
  storeTimestamp: number;
  flag: number;
  sysFlag: number;
}

/** The id used for duplicate detection: the producer's unique id when present, else the record id, per delivery attempt. */
export function deliveryId(msg: ReceivedMessage): string {
  return `${msg.uniqKey ?? msg.originMessageId ?? msg.msgId}#${msg.reconsumeTimes}`;
}

/**
 * A pulled record as the user sees it: body inflated, and for a redelivery from `%RETRY%<group>`
 * the original topic restored from RETRY_TOPIC (the queue stays the retry queue, which is where
 * its offset is committed).
 */
function toReceivedMessage(record: DecodedRecord, brokerName: string, retryTopic: string | undefined): ReceivedMessage {
  const props = record.propertyMap;
  const compressed = (record.sysFlag & MessageSysFlag.COMPRESSED) !== 0;
  const keys = props[MessageConst.KEYS];
  const restored = retryTopic !== undefined && record.topic === retryTopic && props[MessageConst.RETRY_TOPIC] ? props[MessageConst.RETRY_TOPIC] : record.topic;
  return {
    topic: restored,
    tags: props[MessageConst.TAGS] || undefined,
    keys: keys ? keys.split(' ').filter(Boolean) : [],
    body: compressed ? inflateSync(record.body) : record.body,
    properties: props,
    msgId: record.msgId,
    uniqKey: props[MessageConst.UNIQ_KEY],
    originMessageId: props[MessageConst.ORIGIN_MESSAGE_ID],
    queue: { topic: record.topic, brokerName, queueId: record.queueId },
    queueOffset: record.queueOffset,
    commitLogOffset: record.physicalOffset,
    reconsumeTimes: record.reconsumeTimes,
    bornTimestamp: record.bornTimestamp,
    storeTimestamp: record.storeTimestamp,
    flag: record.flag,
    sysFlag: record.sysFlag,
  };
}

/**
 * The records of a FOUND pull answer that pass the tag filter, as received messages. Everything in
 * the retry queue is kept: a redelivery carries its original tags, already filtered once.
 */
export function receivedFromPull(body: Buffer | undefined, mq: MessageQueue, filter: TagExpression, retryTopic: string | undefined): ReceivedMessage[] {
  const messages: ReceivedMessage[] = [];
  if (!body) return messages;
  const keepAll = mq.topic === retryTopic;
  for (const record of decodeRecords(body)) {
    const msg = toReceivedMessage(record, mq.brokerName, retryTopic);
    if (keepAll || tagMatches(filter, msg.tags)) messages.push(msg);
  }
  return messages;
}
