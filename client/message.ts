import { inspect } from 'node:util';
import { inflateSync } from 'node:zlib';
import { getInt32, getInt64 } from '../protocol/int-codec.js';
import { DEFAULT_MAX_RECORD_SIZE, MessageSysFlag, RecordPos, recordMsgId, scanRecordsWith, type RecordParts } from '../protocol/message-codec.js';
import { decodeProperties, MessageConst } from '../protocol/properties.js';
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

/** What a pull answer says of the queue, added to each of its messages' properties (push consumers). */
export interface PullOffsets {
  minOffset: string;
  maxOffset: string;
}

/**
 * A pulled record as the user sees it: body inflated, and for a redelivery from `%RETRY%<group>`
 * the original topic restored from RETRY_TOPIC (the queue stays the retry queue, which is where
 * its offset is committed). The fields that need the properties, the msgId or the record's 64-bit
 * fields other than the queue offset are computed on first read and then kept (a consumer that
 * reads only bodies and offsets never parses properties); assigning
 * any field replaces its value, as on a plain object.
 */
/** A lazily read field whose value may be undefined has not been read yet. */
const UNREAD: unique symbol = Symbol('unread');

/** What the messages of one pull answer share. */
interface PullContext {
  brokerName: string;
  retryTopic: string | undefined;
  pullOffsets: PullOffsets | undefined;
}

class PulledMessage implements ReceivedMessage {
  body: Buffer;
  queueOffset: number;
  reconsumeTimes: number;
  flag: number;
  sysFlag: number;
  /** The pull answer's bytes and where this record's lazily read parts sit in them. */
  private readonly buf: Buffer;
  private readonly offset: number;
  private readonly storeHostPos: number;
  private readonly propsPos: number;
  private readonly propsEnd: number;
  private readonly recordTopic: string;
  private readonly queueId: number;
  private readonly context: PullContext;
  private propertiesValue: Record<string, string> | undefined = undefined;
  private topicValue: string | undefined = undefined;
  private keysValue: string[] | undefined = undefined;
  private queueValue: MessageQueue | undefined = undefined;
  private msgIdValue: string | undefined = undefined;
  private tagsValue: string | undefined | typeof UNREAD = UNREAD;
  private uniqKeyValue: string | undefined | typeof UNREAD = UNREAD;
  private originMessageIdValue: string | undefined | typeof UNREAD = UNREAD;
  private commitLogOffsetValue: number | typeof UNREAD = UNREAD;
  private bornTimestampValue: number | typeof UNREAD = UNREAD;
  private storeTimestampValue: number | typeof UNREAD = UNREAD;

  constructor(buf: Buffer, parts: RecordParts, context: PullContext) {
    const offset = parts.offset;
    this.buf = buf;
    this.offset = offset;
    this.storeHostPos = parts.storeHostPos;
    this.propsPos = parts.propsPos;
    this.propsEnd = parts.propsEnd;
    this.recordTopic = parts.topic;
    this.queueId = getInt32(buf, offset + RecordPos.QUEUE_ID);
    this.context = context;
    this.body = (parts.sysFlag & MessageSysFlag.COMPRESSED) !== 0 ? inflateSync(parts.body) : parts.body;
    this.queueOffset = getInt64(buf, offset + RecordPos.QUEUE_OFFSET);
    this.reconsumeTimes = parts.reconsumeTimes;
    this.flag = getInt32(buf, offset + RecordPos.FLAG);
    this.sysFlag = parts.sysFlag;
  }

  get commitLogOffset(): number {
    if (this.commitLogOffsetValue === UNREAD) this.commitLogOffsetValue = getInt64(this.buf, this.offset + RecordPos.PHYSICAL_OFFSET);
    return this.commitLogOffsetValue;
  }

  set commitLogOffset(value: number) {
    this.commitLogOffsetValue = value;
  }

  get bornTimestamp(): number {
    if (this.bornTimestampValue === UNREAD) this.bornTimestampValue = getInt64(this.buf, this.offset + RecordPos.BORN_TIMESTAMP);
    return this.bornTimestampValue;
  }

  set bornTimestamp(value: number) {
    this.bornTimestampValue = value;
  }

  get storeTimestamp(): number {
    if (this.storeTimestampValue === UNREAD) this.storeTimestampValue = getInt64(this.buf, this.storeHostPos - 8);
    return this.storeTimestampValue;
  }

  set storeTimestamp(value: number) {
    this.storeTimestampValue = value;
  }

  get properties(): Record<string, string> {
    if (this.propertiesValue === undefined) {
      const props = decodeProperties(this.buf.toString('utf8', this.propsPos, this.propsEnd));
      const pullOffsets = this.context.pullOffsets;
      if (pullOffsets) {
        props[MessageConst.MIN_OFFSET] = pullOffsets.minOffset;
        props[MessageConst.MAX_OFFSET] = pullOffsets.maxOffset;
      }
      this.propertiesValue = props;
    }
    return this.propertiesValue;
  }

  set properties(value: Record<string, string>) {
    this.propertiesValue = value;
  }

  get topic(): string {
    if (this.topicValue === undefined) {
      const retryTopic = this.context.retryTopic;
      const restored = retryTopic !== undefined && this.recordTopic === retryTopic ? this.properties[MessageConst.RETRY_TOPIC] : undefined;
      this.topicValue = restored || this.recordTopic;
    }
    return this.topicValue;
  }

  set topic(value: string) {
    this.topicValue = value;
  }

  get tags(): string | undefined {
    if (this.tagsValue === UNREAD) this.tagsValue = this.properties[MessageConst.TAGS] || undefined;
    return this.tagsValue;
  }

  set tags(value: string | undefined) {
    this.tagsValue = value;
  }

  get keys(): string[] {
    if (this.keysValue === undefined) {
      const keys = this.properties[MessageConst.KEYS];
      this.keysValue = keys ? keys.split(' ').filter(Boolean) : [];
    }
    return this.keysValue;
  }

  set keys(value: string[]) {
    this.keysValue = value;
  }

  get msgId(): string {
    return (this.msgIdValue ??= recordMsgId(this.buf, this.offset, this.storeHostPos, this.sysFlag));
  }

  set msgId(value: string) {
    this.msgIdValue = value;
  }

  get uniqKey(): string | undefined {
    if (this.uniqKeyValue === UNREAD) this.uniqKeyValue = this.properties[MessageConst.UNIQ_KEY];
    return this.uniqKeyValue;
  }

  set uniqKey(value: string | undefined) {
    this.uniqKeyValue = value;
  }

  get originMessageId(): string | undefined {
    if (this.originMessageIdValue === UNREAD) this.originMessageIdValue = this.properties[MessageConst.ORIGIN_MESSAGE_ID];
    return this.originMessageIdValue;
  }

  set originMessageId(value: string | undefined) {
    this.originMessageIdValue = value;
  }

  get queue(): MessageQueue {
    return (this.queueValue ??= { topic: this.recordTopic, brokerName: this.context.brokerName, queueId: this.queueId });
  }

  set queue(value: MessageQueue) {
    this.queueValue = value;
  }

  /** The fields as a plain object, in the order of `ReceivedMessage`: what JSON, logs and spreads should see. */
  toJSON(): ReceivedMessage {
    return {
      topic: this.topic,
      tags: this.tags,
      keys: this.keys,
      body: this.body,
      properties: this.properties,
      msgId: this.msgId,
      uniqKey: this.uniqKey,
      originMessageId: this.originMessageId,
      queue: this.queue,
      queueOffset: this.queueOffset,
      commitLogOffset: this.commitLogOffset,
      reconsumeTimes: this.reconsumeTimes,
      bornTimestamp: this.bornTimestamp,
      storeTimestamp: this.storeTimestamp,
      flag: this.flag,
      sysFlag: this.sysFlag,
    };
  }

  [inspect.custom](): ReceivedMessage {
    return this.toJSON();
  }
}

/**
 * The records of a FOUND pull answer that pass the tag filter, as received messages. Everything in
 * the retry queue is kept: a redelivery carries its original tags, already filtered once. With
 * `checkBodyCrc`, a record whose body does not match its CRC ends the answer: it and the records
 * after it are not delivered.
 */
export function receivedFromPull(
  body: Buffer | undefined,
  mq: MessageQueue,
  filter: TagExpression,
  retryTopic: string | undefined,
  checkBodyCrc: boolean,
  pullOffsets?: PullOffsets,
): ReceivedMessage[] {
  if (!body) return [];
  const keepAll = filter.all || mq.topic === retryTopic;
  const context: PullContext = { brokerName: mq.brokerName, retryTopic, pullOffsets };
  const messages = scanRecordsWith(body, DEFAULT_MAX_RECORD_SIZE, checkBodyCrc, (buf, parts): ReceivedMessage => new PulledMessage(buf, parts, context)).records;
  return keepAll ? messages : messages.filter((msg) => tagMatches(filter, msg.tags));
}
