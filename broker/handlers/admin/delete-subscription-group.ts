/**
 * DELETE_SUBSCRIPTIONGROUP (207). Header: groupName, removeOffset (optional, default false: the
 * group's committed offsets are kept, as in RocketMQ). Deleting an unknown group succeeds.
 */
import { createResponse } from '../../../protocol/remoting-command.js';
import { ResponseCode } from '../../../protocol/response-code.js';
import type { RequestHandler } from '../../broker-context.js';
import { optionalBool, requireString } from '../request-fields.js';

export const deleteSubscriptionGroup: RequestHandler = async ({ broker }, request) => {
  const group = requireString(request, 'groupName');
  const removeOffset = optionalBool(request, 'removeOffset', false);
  broker.topics.deleteGroup(group);
  if (removeOffset) broker.offsets.deleteGroup(group);
  broker.logger.info({ group, removeOffset }, 'subscription group deleted');
  return createResponse(request, ResponseCode.SUCCESS);
};
