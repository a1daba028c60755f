/**
 * Transactional messages, the two record forms (RocketMQ `TransactionalMessageBridge` and
 * `EndTransactionProcessor`):
 *
 *   half:      topic RMQ_SYS_TRANS_HALF_TOPIC, queue 0, properties + REAL_TOPIC / REAL_QID,
 *              transaction bits of sysFlag cleared; invisible to consumers of the real topic
 *   committed: topic REAL_TOPIC, queue REAL_QID, properties minus REAL_TOPIC / REAL_QID / TRAN_MSG,
 *              sysFlag transaction type = commit; then the ordinary put hooks (a DELAY applies now)
 *
 * A rollback writes nothing. Resolutions and the state check: transaction-check-service.ts.
 */
import { MessageSysFlag, type DecodedRecord } from '../../protocol/message-codec.js';
import { MessageConst, encodeProperties, type PropertyMap } from '../../protocol/properties.js';
import { javaStringHashCode } from '../../protocol/tag-filter.js';
import { CRC_PROPERTY_NAME } from '../../storage/record-crc.js';
import type { MessageToAppend } from '../../storage/types.js';
import type { PutMessageHook } from '../broker-context.js';
import { indexKeysOf } from '../handlers/put-message.js';

export const TRANS_HALF_TOPIC = 'RMQ_SYS_TRANS_HALF_TOPIC';

const TRANSACTION_TYPE_MASK = MessageSysFlag.TRANSACTION_ROLLBACK;

/** `sysFlag` with its transaction type (bits 2-3) replaced. */
export function withTransactionType(sysFlag: number, type: number): number {
  return (sysFlag & ~TRANSACTION_TYPE_MASK) | type;
}

/** The send path's hook that parks a producer's half message; other messages pass unchanged. */
export function transactionPutMessageHook(): PutMessageHook {
  return (message, properties) => {
    if (properties.get(MessageConst.TRAN_MSG) !== 'true') return message;
    const parked: PropertyMap = {
      ...properties.map(),
      [MessageConst.REAL_TOPIC]: message.topic,
      [MessageConst.REAL_QID]: String(message.queueId),
    };
    return {
      ...message,
      topic: TRANS_HALF_TOPIC,
      queueId: 0,
      sysFlag: withTransactionType(message.sysFlag, 0),
      properties: encodeProperties(parked),
    };
  };
}

/** What a commit needs from the half record. */
export type HalfRecord = Pick<DecodedRecord, 'body' | 'flag' | 'sysFlag' | 'bornTimestamp' | 'bornHost' | 'reconsumeTimes' | 'propertyMap'>;

/** The committed message for the real topic, or the reason the half record cannot be committed. */
export function committedMessageOf(half: HalfRecord): { message: MessageToAppend; properties: PropertyMap } | { invalid: string } {
  const topic = half.propertyMap[MessageConst.REAL_TOPIC];
  const queueId = Number(half.propertyMap[MessageConst.REAL_QID]);
  if (!topic || !Number.isInteger(queueId) || queueId < 0) return { invalid: 'the half message has no REAL_TOPIC/REAL_QID' };
  const properties: PropertyMap = { ...half.propertyMap };
  delete properties[MessageConst.REAL_TOPIC];
  delete properties[MessageConst.REAL_QID];
  delete properties[MessageConst.TRAN_MSG];
  delete properties[CRC_PROPERTY_NAME];
  const tags = properties[MessageConst.TAGS];
  return {
    properties,
    message: {
      topic,
      queueId,
      body: half.body,
      flag: half.flag,
      properties: encodeProperties(properties),
      sysFlag: withTransactionType(half.sysFlag, MessageSysFlag.TRANSACTION_COMMIT),
      bornTimestamp: half.bornTimestamp,
      bornHost: half.bornHost,
      reconsumeTimes: half.reconsumeTimes,
      tagsCode: tags ? javaStringHashCode(tags) : 0,
      keys: indexKeysOf(properties),
    },
  };
}
