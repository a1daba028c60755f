/**
 * The delay queue's record forms (RocketMQ `CommitLog.putMessage` + `ScheduleMessageService.messageTimeup`).
 *
 *   parked:    topic SCHEDULE_TOPIC_XXXX, queueId = level - 1, tagsCode = delivery time (ms),
 *              properties + REAL_TOPIC = original topic, REAL_QID = original queue, DELAY = level (clamped)
 *   delivered: topic REAL_TOPIC, queueId REAL_QID, tagsCode = hash of TAGS, properties minus DELAY
 *              plus WAIT=false (REAL_TOPIC/REAL_QID stay, as in RocketMQ); body, flag, sysFlag, born
 *              time and host, reconsumeTimes copied
 *
 * One queue per level holds entries in delivery order by construction: same delay, appended in time order.
 */
import type { DecodedRecord } from '../../protocol/message-codec.js';
import { MessageConst, decodeProperties, encodeProperties, type PropertyMap } from '../../protocol/properties.js';
import { javaStringHashCode } from '../../protocol/tag-filter.js';
import type { Clock } from '../../storage/clock.js';
import type { MessageToAppend } from '../../storage/types.js';
import type { PutMessageHook } from '../broker-context.js';
import { indexKeysOf } from '../handlers/put-message.js';
import type { DelaySchedule } from './delay-schedule.js';

export const SCHEDULE_TOPIC = 'SCHEDULE_TOPIC_XXXX';

/** The delay level a message asks for through its `DELAY` property; 0 when none or not a positive integer. */
export function delayLevelOf(properties: Readonly<PropertyMap>): number {
  const value = properties[MessageConst.DELAY];
  if (value === undefined || !/^\d{1,9}$/.test(value)) return 0;
  return Number(value);
}

/**
 * Parks a message with `DELAY` > 0 on the schedule topic; returns any other message unchanged.
 * Transaction-prepared messages are never delayed (RocketMQ does the same). `properties` is the
 * decoded form of `message.properties`.
 */
export function routeDelayedMessage(
  message: MessageToAppend,
  properties: Readonly<PropertyMap>,
  schedule: DelaySchedule,
  now: number,
): MessageToAppend {
  const requested = delayLevelOf(properties);
  if (requested <= 0 || properties[MessageConst.TRAN_MSG] === 'true') return message;
  const level = schedule.clampLevel(requested);
  const parked: PropertyMap = {
    ...properties,
    [MessageConst.REAL_TOPIC]: message.topic,
    [MessageConst.REAL_QID]: String(message.queueId),
    [MessageConst.DELAY]: String(level),
  };
  return {
    ...message,
    topic: SCHEDULE_TOPIC,
    queueId: level - 1,
    properties: encodeProperties(parked),
    tagsCode: now + schedule.delayMs(level),
  };
}

/** The send path's hook (`BrokerContext.putMessageHooks`) that parks delayed messages. */
export function delayPutMessageHook(schedule: DelaySchedule, clock: Pick<Clock, 'now'>): PutMessageHook {
  return (message, properties) =>
    properties.get(MessageConst.DELAY) === undefined ? message : routeDelayedMessage(message, properties.map(), schedule, clock.now());
}

/** What delivery needs from a parked record. */
export type ParkedRecord = Pick<
  DecodedRecord,
  'queueOffset' | 'storeTimestamp' | 'body' | 'flag' | 'sysFlag' | 'bornTimestamp' | 'bornHost' | 'reconsumeTimes' | 'properties'
>;

/**
 * When a parked record is due: store time + the level's delay, but never later than now + delay, so
 * a store clock that ran ahead (or a shortened level table) cannot hold a message back for long.
 */
export function deliveryTimeOf(record: Pick<ParkedRecord, 'storeTimestamp'>, level: number, schedule: DelaySchedule, now: number): number {
  const delay = schedule.delayMs(level);
  const due = record.storeTimestamp + delay;
  return due > now + delay ? now : due;
}

/** The message to append on the real topic, or a reason it cannot be delivered. */
export function deliveredMessageOf(record: ParkedRecord): MessageToAppend | { undeliverable: string } {
  const properties = decodeProperties(record.properties);
  const topic = properties[MessageConst.REAL_TOPIC];
  const queueText = properties[MessageConst.REAL_QID];
  if (!topic || queueText === undefined || !/^\d{1,9}$/.test(queueText)) {
    return { undeliverable: `parked record at offset ${record.queueOffset} has no valid REAL_TOPIC/REAL_QID` };
  }
  delete properties[MessageConst.DELAY];
  properties[MessageConst.WAIT] = 'false';
  const tags = properties[MessageConst.TAGS];
  return {
    topic,
    queueId: Number(queueText),
    body: record.body,
    flag: record.flag,
    properties: encodeProperties(properties),
    sysFlag: record.sysFlag,
    bornTimestamp: record.bornTimestamp,
    bornHost: record.bornHost,
    reconsumeTimes: record.reconsumeTimes,
    tagsCode: tags ? javaStringHashCode(tags) : 0,
    keys: indexKeysOf(properties),
  };
}
