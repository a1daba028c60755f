/** UNREGISTER_CLIENT (35): the client leaves a producer or consumer group (one call per group). */
import { createResponse } from '../../protocol/remoting-command.js';
import { ResponseCode } from '../../protocol/response-code.js';
import type { RequestHandler } from '../broker-context.js';
import { optionalString } from './request-fields.js';

export const unregisterClient: RequestHandler = async ({ broker, connection }, request) => {
  broker.clients.unregister(connection, {
    producerGroup: optionalString(request, 'producerGroup'),
    consumerGroup: optionalString(request, 'consumerGroup'),
  });
  return createResponse(request, ResponseCode.SUCCESS);
};
