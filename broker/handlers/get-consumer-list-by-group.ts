/** GET_CONSUMER_LIST_BY_GROUP (38): client ids of the group's live consumers; 1 when there are none (as Java). */
import { encodeJsonBody } from '../../protocol/bodies.js';
import { createResponse } from '../../protocol/remoting-command.js';
import { ResponseCode } from '../../protocol/response-code.js';
import type { RequestHandler } from '../broker-context.js';
import { requireString } from './request-fields.js';

export const getConsumerListByGroup: RequestHandler = async ({ broker }, request) => {
  const group = requireString(request, 'consumerGroup');
  const consumerIdList = broker.clients.consumerIds(group);
  if (consumerIdList.length === 0) {
    return createResponse(request, ResponseCode.SYSTEM_ERROR, undefined, `no consumer for this group, ${group}`);
  }
  return createResponse(request, ResponseCode.SUCCESS, undefined, undefined, encodeJsonBody({ consumerIdList }));
};
