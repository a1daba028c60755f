/** GET_MAX_OFFSET (30): the queue's next offset to be written (its entry count). */
import { createResponse } from '../../protocol/remoting-command.js';
import { ResponseCode } from '../../protocol/response-code.js';
import type { RequestHandler } from '../broker-context.js';
import { requireQueue } from './queue-fields.js';

export const getMaxOffset: RequestHandler = async ({ broker }, request) => {
  const { topic, queueId } = requireQueue(request);
  return createResponse(request, ResponseCode.SUCCESS, { offset: broker.store.maxOffset(topic, queueId) });
};
