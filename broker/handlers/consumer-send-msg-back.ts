/**
 * CONSUMER_SEND_MSG_BACK (36): a clustering consumer hands back a message it failed to consume
 * (RocketMQ 4.9.8 `SendMessageProcessor.asyncConsumerSendMsgBack`).
 *
 * request extFields: offset (physical offset of the failed record), group, delayLevel,
 *                    originMsgId, originTopic, unitMode, maxReconsumeTimes (optional)
 * response:          SUCCESS, or 26 / 16 / 1 with a remark
 *
 * The original is found by its physical offset and copied to `%RETRY%<group>` with reconsumeTimes + 1,
 * RETRY_TOPIC (first topic of the chain) and ORIGIN_MESSAGE_ID (first msgId of the chain), and with
 * DELAY = delayLevel, or 3 + reconsumeTimes when the client sent 0, so it waits in the delay queue.
 * At reconsumeTimes >= max, or with a negative delayLevel, the copy goes to `%DLQ%<group>` instead.
 */
import { randomInt } from 'node:crypto';
import { decodeRecord } from '../../protocol/message-codec.js';
import { MessageConst } from '../../protocol/properties.js';
import { createResponse } from '../../protocol/remoting-command.js';
import { ResponseCode } from '../../protocol/response-code.js';
import { validateTopicName } from '../../storage/topic-name.js';
import { AppendStatus } from '../../storage/types.js';
import type { RequestHandler } from '../broker-context.js';
import { ensureDlqTopic, maxReconsumeTimesOf } from '../delay/dead-letter.js';
import { appendStatusToCode } from '../status-map.js';
import { PERM_WRITE, retryTopicOf } from '../topic-config-manager.js';
import { buildMessageToAppend, SendProperties } from './put-message.js';
import { RequestRejectedError, optionalString, requireInt, requireLong, requireString } from './request-fields.js';

/** RocketMQ's rule for a consumer that leaves the level to the broker: 10 s, 30 s, 1 m, 2 m, ... */
const FIRST_RETRY_LEVEL = 3;

export const consumerSendMsgBack: RequestHandler = async (ctx, request) => {
  const { topics, store } = ctx.broker;
  const physicalOffset = requireLong(request, 'offset');
  const group = requireString(request, 'group');
  const requestedLevel = requireInt(request, 'delayLevel');
  const requestedMax = optionalString(request, 'maxReconsumeTimes') ? requireInt(request, 'maxReconsumeTimes') : undefined;

  // The group names two topics (and so two directories): refuse a name they cannot carry.
  const problem = validateTopicName(retryTopicOf(group));
  if (problem) throw new RequestRejectedError(ResponseCode.SYSTEM_ERROR, `bad group "${group}": ${problem}`);
  const groupConfig = topics.ensureGroup(group);
  if (!groupConfig) {
    throw new RequestRejectedError(ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST, `subscription group not exist, ${group}`);
  }
  // A group configured without retry queues drops failed messages (RocketMQ answers success).
  if (groupConfig.retryQueueNums <= 0) return createResponse(request, ResponseCode.SUCCESS);

  const retryTopic = topics.ensureRetryTopic(group);
  if ((retryTopic.perm & PERM_WRITE) === 0) {
    throw new RequestRejectedError(ResponseCode.NO_PERMISSION, `the topic[${retryTopic.topicName}] sending message is forbidden`);
  }
  const location = await store.lookup(physicalOffset);
  if (!location) throw new RequestRejectedError(ResponseCode.SYSTEM_ERROR, `look message by offset failed, ${physicalOffset}`);
  const original = decodeRecord(location.bytes);
  const properties = original.propertyMap;
  properties[MessageConst.RETRY_TOPIC] ||= original.topic;
  properties[MessageConst.ORIGIN_MESSAGE_ID] ||= original.msgId;
  properties[MessageConst.WAIT] = 'false';

  const maxReconsumeTimes = maxReconsumeTimesOf(groupConfig.retryMaxTimes, request.version, requestedMax);
  let topic = retryTopic.topicName;
  let queueId = randomInt(Math.max(1, retryTopic.writeQueueNums));
  if (original.reconsumeTimes >= maxReconsumeTimes || requestedLevel < 0) {
    topic = ensureDlqTopic(topics, group).topicName;
    queueId = 0;
    delete properties[MessageConst.DELAY];
  } else {
    const level = requestedLevel === 0 ? FIRST_RETRY_LEVEL + original.reconsumeTimes : requestedLevel;
    properties[MessageConst.DELAY] = String(level);
  }

  // The producer's path from here: tag hash, keys, and the delay hook that parks the retry.
  const message = buildMessageToAppend(
    ctx.broker,
    {
      topic,
      queueId,
      body: original.body,
      flag: original.flag,
      properties: SendProperties.fromMap(properties, ctx.broker.config.clusterName),
      sysFlag: original.sysFlag,
      bornTimestamp: original.bornTimestamp,
      reconsumeTimes: original.reconsumeTimes + 1,
    },
    original.bornHost,
  );
  const result = await store.append(message);
  if (result.status !== AppendStatus.PUT_OK) {
    return createResponse(request, appendStatusToCode(result.status), undefined, `${result.status}: ${result.reason}`);
  }
  return createResponse(request, ResponseCode.SUCCESS);
};
