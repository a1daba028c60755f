/**
 * QUERY_MESSAGE (12): messages of a topic whose KEYS (or UNIQ_KEY) contain `key`, optionally within
 * [beginTimestamp, endTimestamp]. The body is the stored records back to back, as a pull answer.
 */
import { createResponse } from '../../protocol/remoting-command.js';
import { ResponseCode } from '../../protocol/response-code.js';
import type { RequestHandler } from '../broker-context.js';
import { requireTopic } from './queue-fields.js';
import { optionalInt, optionalLongClamped, requireString } from './request-fields.js';

/** RocketMQ's defaultQueryMaxNum. */
const MAX_QUERY_RESULTS = 32;

export const queryMessage: RequestHandler = async ({ broker }, request) => {
  const topic = requireTopic(request);
  const key = requireString(request, 'key');
  const maxNum = Math.min(Math.max(optionalInt(request, 'maxNum', MAX_QUERY_RESULTS), 1), MAX_QUERY_RESULTS);
  const begin = optionalLongClamped(request, 'beginTimestamp', 0);
  const end = optionalLongClamped(request, 'endTimestamp', Number.MAX_SAFE_INTEGER);
  const found = await broker.store.queryByKey(topic, key, maxNum, begin, end);
  if (found.length === 0) {
    return createResponse(request, ResponseCode.QUERY_NOT_FOUND, undefined, 'can not find message, maybe time range not correct');
  }
  return createResponse(
    request,
    ResponseCode.SUCCESS,
    { indexLastUpdateTimestamp: broker.clock.now(), indexLastUpdatePhyoffset: 0 },
    undefined,
    Buffer.concat(found.map((r) => r.bytes)),
  );
};
