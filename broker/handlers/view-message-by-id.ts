/** VIEW_MESSAGE_BY_ID (33): the whole stored record at a physical offset (the last 16 hex digits of an offset msgId). */
import { createResponse } from '../../protocol/remoting-command.js';
import { ResponseCode } from '../../protocol/response-code.js';
import type { RequestHandler } from '../broker-context.js';
import { requireLong } from './request-fields.js';

export const viewMessageById: RequestHandler = async ({ broker }, request) => {
  const offset = requireLong(request, 'offset');
  const found = offset >= 0 ? await broker.store.lookup(offset) : undefined;
  if (!found) return createResponse(request, ResponseCode.SYSTEM_ERROR, undefined, `can not find message by the offset, ${offset}`);
  return createResponse(request, ResponseCode.SUCCESS, undefined, undefined, found.bytes);
};
