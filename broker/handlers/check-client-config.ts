/**
 * CHECK_CLIENT_CONFIG (46): Java consumers send it at start for a subscription that is not a TAG
 * expression. Body `{clientId, group, subscriptionData:{topic, subString, expressionType, ...}}`.
 * TAG subscriptions are fine; anything else (SQL92) gets RocketMQ's answer for a broker without
 * property filtering, so the consumer fails in start() instead of receiving unfiltered messages.
 */
import { parseRocketMQJson } from '../../protocol/bodies.js';
import { createResponse } from '../../protocol/remoting-command.js';
import { ResponseCode } from '../../protocol/response-code.js';
import { ExpressionType } from '../../protocol/tag-filter.js';
import type { RequestHandler } from '../broker-context.js';
import { RequestRejectedError } from './request-fields.js';

export const checkClientConfig: RequestHandler = async (_ctx, request) => {
  let body: { subscriptionData?: { expressionType?: unknown } } | null = null;
  if (request.body && request.body.length > 0) {
    try {
      body = parseRocketMQJson(request.body);
    } catch (err) {
      throw new RequestRejectedError(ResponseCode.SYSTEM_ERROR, `bad client config body: ${(err as Error).message}`);
    }
  }
  const expressionType = body?.subscriptionData?.expressionType;
  if (expressionType === undefined || expressionType === null || expressionType === ExpressionType.TAG) {
    return createResponse(request, ResponseCode.SUCCESS);
  }
  return createResponse(request, ResponseCode.SYSTEM_ERROR, undefined, `The broker does not support consumer to filter message by ${String(expressionType)}`);
};
