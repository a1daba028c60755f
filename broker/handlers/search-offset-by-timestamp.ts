/** SEARCH_OFFSET_BY_TIMESTAMP (29): the offset whose store time is closest to `timestamp` (ms); 0 when empty. */
import { createResponse } from '../../protocol/remoting-command.js';
import { ResponseCode } from '../../protocol/response-code.js';
import type { RequestHandler } from '../broker-context.js';
import { requireQueue } from './queue-fields.js';
import { requireLong } from './request-fields.js';

export const searchOffsetByTimestamp: RequestHandler = async ({ broker }, request) => {
  const { topic, queueId } = requireQueue(request);
  const timestamp = requireLong(request, 'timestamp');
  const offset = await broker.store.searchOffsetByTimestamp(topic, queueId, timestamp);
  return createResponse(request, ResponseCode.SUCCESS, { offset });
};
