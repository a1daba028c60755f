/**
 * GET_KV_CONFIG (101): FerryMQ keeps no name-server KV table, so every key is "not found" (22),
 * which Java clients treat as "no such setting" (e.g. no ORDER_TOPIC_CONFIG).
 */
import { createResponse } from '../../protocol/remoting-command.js';
import { ResponseCode } from '../../protocol/response-code.js';
import type { RequestHandler } from '../broker-context.js';

export const getKvConfig: RequestHandler = async (_ctx, request) => {
  const { namespace = '', key = '' } = request.extFields;
  return createResponse(request, ResponseCode.QUERY_NOT_FOUND, undefined, `No config item, Namespace: ${namespace} Key: ${key}`);
};
