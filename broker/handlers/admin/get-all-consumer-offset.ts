/**
 * GET_ALL_CONSUMER_OFFSET (43), no header. Body: ConsumerOffsetSerializeWrapper
 * `{offsetTable:{"topic@group":{"queueId":offset}}}`: every committed offset the broker holds,
 * including commits not yet flushed to SQLite.
 */
import { encodeJsonBody } from '../../../protocol/bodies.js';
import { createResponse } from '../../../protocol/remoting-command.js';
import { ResponseCode } from '../../../protocol/response-code.js';
import type { RequestHandler } from '../../broker-context.js';

export const getAllConsumerOffset: RequestHandler = async ({ broker }, request) => {
  const offsetTable: Record<string, Record<string, number>> = {};
  for (const topic of broker.topics.list()) {
    for (const entry of broker.offsets.listByTopic(topic.topicName)) {
      (offsetTable[`${entry.topic}@${entry.group}`] ??= {})[String(entry.queueId)] = entry.offset;
    }
  }
  return createResponse(request, ResponseCode.SUCCESS, undefined, undefined, encodeJsonBody({ offsetTable }));
};
