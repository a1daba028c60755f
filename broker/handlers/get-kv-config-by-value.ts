/**
 * 217, sent by ali-ons as GET_KV_CONFIG_BY_VALUE (a 3.x code; 4.9 reuses 217 for something else).
 * Only ali-ons' tests call it and they accept any answer: say clearly that it is not supported.
 */
import { createResponse } from '../../protocol/remoting-command.js';
import { ResponseCode } from '../../protocol/response-code.js';
import type { RequestHandler } from '../broker-context.js';

export const getKvConfigByValue: RequestHandler = async (_ctx, request) =>
  createResponse(request, ResponseCode.REQUEST_CODE_NOT_SUPPORTED, undefined, 'request code 217 (KV config lookup by value) is not supported by FerryMQ');
