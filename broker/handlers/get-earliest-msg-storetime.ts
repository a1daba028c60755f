/** GET_EARLIEST_MSG_STORETIME (32): store time of the queue's first retained message; -1 when empty (as Java). */
import { createResponse } from '../../protocol/remoting-command.js';
import { ResponseCode } from '../../protocol/response-code.js';
import type { RequestHandler } from '../broker-context.js';
import { requireQueue } from './queue-fields.js';

export const getEarliestMsgStoretime: RequestHandler = async ({ broker }, request) => {
  const { topic, queueId } = requireQueue(request);
  const timestamp = await broker.store.storeTimestampAt(topic, queueId, broker.store.minOffset(topic, queueId));
  return createResponse(request, ResponseCode.SUCCESS, { timestamp: timestamp ?? -1 });
};
