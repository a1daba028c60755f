/**
 * LOCK_BATCH_MQ (41): body `{consumerGroup, clientId, mqSet:[{topic, brokerName, queueId}]}`; the
 * answer body `{lockOKMQSet:[...]}` lists the queues the client now holds (locked or renewed).
 */
import { encodeJsonBody } from '../../protocol/bodies.js';
import { createResponse } from '../../protocol/remoting-command.js';
import { ResponseCode } from '../../protocol/response-code.js';
import type { RequestHandler } from '../broker-context.js';
import { parseLockBody } from './lock-body.js';

export const lockBatchMq: RequestHandler = async ({ broker }, request) => {
  const { consumerGroup, clientId, mqSet } = parseLockBody(request);
  const lockOKMQSet = broker.locks.tryLock(consumerGroup, clientId, mqSet);
  return createResponse(request, ResponseCode.SUCCESS, undefined, undefined, encodeJsonBody({ lockOKMQSet }));
};
