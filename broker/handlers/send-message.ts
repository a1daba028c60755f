/**
 * SEND_MESSAGE (10) and SEND_MESSAGE_V2 (310, the same header with one-letter names). Checks as
 * RocketMQ's msgCheck: topic name, topic existence (auto-created when enabled), write permission,
 * queueId range (a negative queueId picks a random queue). The answer carries msgId =
 * hex(storeHost, port, physicalOffset) of the stored record, queueId and queueOffset.
 */
import { decodeSendHeader } from '../../protocol/send-header.js';
import { createResponse, type RemotingCommand } from '../../protocol/remoting-command.js';
import { ResponseCode } from '../../protocol/response-code.js';
import { validateTopicName } from '../../storage/topic-name.js';
import { AppendStatus, type AppendResult, type TopicConfig } from '../../storage/types.js';
import type { RequestContext, RequestHandler } from '../broker-context.js';
import { deadLetterRedirect } from '../delay/dead-letter.js';
import { crashPoint } from '../../storage/crash-point.js';
import { appendStatusToCode } from '../status-map.js';
import { PERM_WRITE } from '../topic-config-manager.js';
import { bornHostOf, buildMessageToAppend, SendProperties } from './put-message.js';
import { RequestRejectedError } from './request-fields.js';

export type SendHeader = ReturnType<typeof decodeSendHeader>;

/** Decodes the send header; a malformed one is refused with the decoder's reason. */
export function readSendHeader(request: RemotingCommand): SendHeader {
  try {
    return decodeSendHeader(request.code, request.extFields);
  } catch (err) {
    throw new RequestRejectedError(ResponseCode.SYSTEM_ERROR, (err as Error).message);
  }
}

/** The last topic name that passed `validateTopicName`: a producer sends to one topic again and again. */
let lastValidTopic: string | undefined;

/** The target topic of a send, after the checks every send shares. */
export function checkSendTopic(ctx: RequestContext, header: SendHeader): TopicConfig {
  const { broker } = ctx;
  if (header.topic !== lastValidTopic) {
    const problem = validateTopicName(header.topic);
    if (problem) throw new RequestRejectedError(ResponseCode.SYSTEM_ERROR, `bad topic: ${problem}`);
    lastValidTopic = header.topic;
  }
  const topicConfig = broker.topics.getForSend(header.topic, header.defaultTopicQueueNums);
  if (!topicConfig) {
    throw new RequestRejectedError(ResponseCode.TOPIC_NOT_EXIST, `topic[${header.topic}] not exist, apply first please!`);
  }
  if ((topicConfig.perm & PERM_WRITE) === 0) {
    throw new RequestRejectedError(ResponseCode.NO_PERMISSION, `the topic[${header.topic}] sending message is forbidden`);
  }
  return topicConfig;
}

/** The queue a send goes to: the requested one, or a random writable one when it is negative. */
export function targetQueueId(header: SendHeader, topicConfig: TopicConfig): number {
  if (header.queueId < 0) return Math.floor(Math.random() * topicConfig.writeQueueNums);
  const limit = Math.max(topicConfig.readQueueNums, topicConfig.writeQueueNums);
  if (header.queueId >= limit) {
    throw new RequestRejectedError(ResponseCode.SYSTEM_ERROR, `request queueId[${header.queueId}] is illegal, topic ${header.topic} has ${limit} queues`);
  }
  return header.queueId;
}

/** Not async: the answer is one `then` from the store's append (a request per message). */
export const sendMessage: RequestHandler = (ctx, request) => {
  const header = readSendHeader(request);
  const topicConfig = checkSendTopic(ctx, header);
  // A client's own retry past the max goes to the group's DLQ (issue #7, broker/delay/dead-letter.ts).
  const deadLetter = deadLetterRedirect(ctx.broker.topics, header.topic, header.reconsumeTimes ?? 0, request.version, header.maxReconsumeTimes);
  const queueId = deadLetter?.queueId ?? targetQueueId(header, topicConfig);
  const message = buildMessageToAppend(
    ctx.broker,
    {
      topic: deadLetter?.topic ?? header.topic,
      queueId,
      body: request.body ?? Buffer.alloc(0),
      flag: header.flag,
      properties: SendProperties.fromProducer(header.properties, ctx.broker.config.clusterName),
      sysFlag: header.sysFlag,
      bornTimestamp: header.bornTimestamp,
      reconsumeTimes: header.reconsumeTimes ?? 0,
    },
    bornHostOf(ctx),
  );
  return ctx.broker.store.append(message).then((result) => sendResponse(request, result, queueId));
};

function sendResponse(request: RemotingCommand, result: AppendResult, queueId: number): RemotingCommand {
  if (result.status !== AppendStatus.PUT_OK) return createResponse(request, appendStatusToCode(result.status), undefined, result.reason);
  crashPoint('fsync-before-reply');
  const response = createResponse(request, ResponseCode.SUCCESS);
  // Strings already: no conversion pass over an input object on every send.
  response.extFields = {
    msgId: result.msgId,
    // The queue asked for, as RocketMQ answers: a delayed message is stored on the schedule queue
    // for now, but clients build their SendResult's queue from this field.
    queueId: String(queueId),
    queueOffset: String(result.queueOffset),
    MSG_REGION: 'DefaultRegion',
    TRACE_ON: 'true',
  };
  return response;
}
