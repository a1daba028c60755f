/** UNLOCK_BATCH_MQ (42): same body as LOCK_BATCH_MQ; releases the listed queues the client holds. */
import { createResponse } from '../../protocol/remoting-command.js';
import { ResponseCode } from '../../protocol/response-code.js';
import type { RequestHandler } from '../broker-context.js';
import { parseLockBody } from './lock-body.js';

export const unlockBatchMq: RequestHandler = async ({ broker }, request) => {
  const { consumerGroup, clientId, mqSet } = parseLockBody(request);
  broker.locks.unlock(consumerGroup, clientId, mqSet);
  return createResponse(request, ResponseCode.SUCCESS);
};
