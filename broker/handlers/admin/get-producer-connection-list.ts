/**
 * GET_PRODUCER_CONNECTION_LIST (204). Header: producerGroup. Body: ProducerConnection
 * `{connectionSet:[{clientId,clientAddr,language,version}]}`. An unknown or empty group: 1 SYSTEM_ERROR
 * "the producer group[g] not exist", as RocketMQ answers.
 */
import { encodeJsonBody } from '../../../protocol/bodies.js';
import { createResponse } from '../../../protocol/remoting-command.js';
import { ResponseCode } from '../../../protocol/response-code.js';
import type { RequestHandler } from '../../broker-context.js';
import { requireString } from '../request-fields.js';
import { connectionInfoOf } from './get-consumer-connection-list.js';

export const getProducerConnectionList: RequestHandler = async ({ broker }, request) => {
  const group = requireString(request, 'producerGroup');
  const clients = broker.clients.producerClients(group);
  if (clients.length === 0) {
    return createResponse(request, ResponseCode.SYSTEM_ERROR, undefined, `the producer group[${group}] not exist`);
  }
  const body = { connectionSet: clients.map(connectionInfoOf) };
  return createResponse(request, ResponseCode.SUCCESS, undefined, undefined, encodeJsonBody(body));
};
