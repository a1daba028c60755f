/**
 * SEND_BATCH_MESSAGE (320): the send header (with batch=true) plus a body of many messages for one
 * queue (see protocol/batch-codec.ts). All are appended together with consecutive offsets. As in RocketMQ,
 * a batch cannot target a %RETRY% topic nor carry delayed or transactional messages. The answer's msgId is the
 * records' msgIds joined by commas; queueOffset is the first record's.
 */
import { FrameError } from '../../protocol/errors.js';
import { MessageConst } from '../../protocol/properties.js';
import { createResponse } from '../../protocol/remoting-command.js';
import { ResponseCode } from '../../protocol/response-code.js';
import { AppendStatus } from '../../storage/types.js';
import type { RequestHandler } from '../broker-context.js';
import { crashPoint } from '../../storage/crash-point.js';
import { appendStatusToCode } from '../status-map.js';
import { RETRY_GROUP_TOPIC_PREFIX } from '../topic-config-manager.js';
import { decodeBatchBody, type BatchEntry } from '../../protocol/batch-codec.js';
import { bornHostOf, buildMessageToAppend, SendProperties } from './put-message.js';
import { RequestRejectedError } from './request-fields.js';
import { checkSendTopic, readSendHeader, targetQueueId } from './send-message.js';

export const sendBatchMessage: RequestHandler = async (ctx, request) => {
  const header = readSendHeader(request);
  if (header.topic.startsWith(RETRY_GROUP_TOPIC_PREFIX)) {
    throw new RequestRejectedError(ResponseCode.MESSAGE_ILLEGAL, 'batch request does not support retry group topic');
  }
  const topicConfig = checkSendTopic(ctx, header);
  const queueId = targetQueueId(header, topicConfig);
  let entries: BatchEntry[];
  try {
    entries = decodeBatchBody(request.body ?? Buffer.alloc(0));
  } catch (err) {
    throw new RequestRejectedError(ResponseCode.MESSAGE_ILLEGAL, `bad batch body: ${err instanceof FrameError ? err.reason : String(err)}`);
  }
  if (entries.length === 0) throw new RequestRejectedError(ResponseCode.MESSAGE_ILLEGAL, 'batch body holds no message');
  const bornHost = bornHostOf(ctx);
  const { clusterName } = ctx.broker.config;
  const messages = entries.map((entry) => {
    const properties = SendProperties.fromProducer(entry.properties, clusterName);
    if (Number(properties.delay ?? 0) > 0) {
      throw new RequestRejectedError(ResponseCode.MESSAGE_ILLEGAL, 'batch messages do not support delay levels');
    }
    if (properties.tranMsg === 'true') {
      throw new RequestRejectedError(ResponseCode.MESSAGE_ILLEGAL, 'batch messages cannot be transactional');
    }
    return buildMessageToAppend(
      ctx.broker,
      {
        topic: header.topic,
        queueId,
        body: entry.body,
        flag: entry.flag,
        properties,
        sysFlag: header.sysFlag,
        bornTimestamp: header.bornTimestamp,
        reconsumeTimes: header.reconsumeTimes ?? 0,
      },
      bornHost,
    );
  });
  const results = await ctx.broker.store.appendBatch(messages);
  const msgIds: string[] = [];
  for (const result of results) {
    if (result.status !== AppendStatus.PUT_OK) return createResponse(request, appendStatusToCode(result.status), undefined, result.reason);
    msgIds.push(result.msgId);
  }
  const first = results[0];
  crashPoint('fsync-before-reply');
  return createResponse(request, ResponseCode.SUCCESS, {
    msgId: msgIds.join(','),
    queueId,
    queueOffset: first.status === AppendStatus.PUT_OK ? first.queueOffset : 0,
    MSG_REGION: 'DefaultRegion',
    TRACE_ON: 'true',
  });
};
