/**
 * UPDATE_CONSUMER_OFFSET (15): a durable commit, answered once in SQLite. Negative values are ignored: ali-ons sends -1 for
 * "offset 0". ali-ons does not set the oneway bit, so it gets (and drops) an answer.
 */
import { createResponse } from '../../protocol/remoting-command.js';
import { ResponseCode } from '../../protocol/response-code.js';
import type { RequestHandler } from '../broker-context.js';
import { requireQueue } from './queue-fields.js';
import { requireLong, requireString } from './request-fields.js';

export const updateConsumerOffset: RequestHandler = async ({ broker }, request) => {
  const group = requireString(request, 'consumerGroup');
  const { topic, queueId } = requireQueue(request);
  const offset = requireLong(request, 'commitOffset');
  await broker.offsets.commitDurably(group, topic, queueId, offset);
  return createResponse(request, ResponseCode.SUCCESS);
};
