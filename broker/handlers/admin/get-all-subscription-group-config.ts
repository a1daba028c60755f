/**
 * GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201), no header. Body: SubscriptionGroupWrapper
 * `{subscriptionGroupTable:{name:SubscriptionGroupConfig}, dataVersion:{timestamp,counter}}`.
 */
import { encodeJsonBody } from '../../../protocol/bodies.js';
import { createResponse } from '../../../protocol/remoting-command.js';
import { ResponseCode } from '../../../protocol/response-code.js';
import type { RequestHandler } from '../../broker-context.js';
import { subscriptionGroupBody } from './subscription-group-body.js';

export const getAllSubscriptionGroupConfig: RequestHandler = async ({ broker }, request) => {
  const subscriptionGroupTable = Object.fromEntries(broker.topics.listGroups().map((g) => [g.groupName, subscriptionGroupBody(g)]));
  const body = { subscriptionGroupTable, dataVersion: { timestamp: broker.startedAt, counter: 0 } };
  return createResponse(request, ResponseCode.SUCCESS, undefined, undefined, encodeJsonBody(body));
};
