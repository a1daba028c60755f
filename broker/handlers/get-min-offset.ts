/** GET_MIN_OFFSET (31): the queue's first retained offset. */
import { createResponse } from '../../protocol/remoting-command.js';
import { ResponseCode } from '../../protocol/response-code.js';
import type { RequestHandler } from '../broker-context.js';
import { requireQueue } from './queue-fields.js';

export const getMinOffset: RequestHandler = async ({ broker }, request) => {
  const { topic, queueId } = requireQueue(request);
  return createResponse(request, ResponseCode.SUCCESS, { offset: broker.store.minOffset(topic, queueId) });
};
