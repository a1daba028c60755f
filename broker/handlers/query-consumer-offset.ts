/**
 * QUERY_CONSUMER_OFFSET (14). A committed offset is returned as is. Without one, a queue that still
 * starts at 0 answers 0, so a brand-new group reads a young topic from its first message whatever
 * its consumeFromWhere (RocketMQ does the same); otherwise 22 QUERY_NOT_FOUND lets the client apply
 * consumeFromWhere.
 */
import { createResponse } from '../../protocol/remoting-command.js';
import { ResponseCode } from '../../protocol/response-code.js';
import type { RequestHandler } from '../broker-context.js';
import { requireQueue } from './queue-fields.js';
import { requireString } from './request-fields.js';

export const queryConsumerOffset: RequestHandler = async ({ broker }, request) => {
  const group = requireString(request, 'consumerGroup');
  const { topic, queueId } = requireQueue(request);
  const committed = broker.offsets.query(group, topic, queueId);
  if (committed !== undefined && committed >= 0) {
    return createResponse(request, ResponseCode.SUCCESS, { offset: committed });
  }
  if (broker.store.minOffset(topic, queueId) <= 0) {
    return createResponse(request, ResponseCode.SUCCESS, { offset: 0 });
  }
  return createResponse(request, ResponseCode.QUERY_NOT_FOUND, undefined, 'Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first');
};
