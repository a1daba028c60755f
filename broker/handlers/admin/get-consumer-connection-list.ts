/**
 * GET_CONSUMER_CONNECTION_LIST (203). Header: consumerGroup. Body: ConsumerConnection
 * `{connectionSet:[{clientId,clientAddr,language,version}], subscriptionTable:{topic:SubscriptionData},
 * consumeType, messageModel, consumeFromWhere}`. A group with no live consumer: 206 CONSUMER_NOT_ONLINE.
 * The registry does not keep each client's language and version, so every connection reports
 * JAVA and the 4.9.8 version ordinal.
 */
import type { ConnectionInfo, ConsumerConnection } from '../../../protocol/admin-bodies.js';
import { encodeJsonBody } from '../../../protocol/bodies.js';
import { CLIENT_VERSION, createResponse, DEFAULT_LANGUAGE } from '../../../protocol/remoting-command.js';
import { ResponseCode } from '../../../protocol/response-code.js';
import type { ClientInfo } from '../../client-registry.js';
import type { RequestHandler } from '../../broker-context.js';
import { requireString } from '../request-fields.js';

export function connectionInfoOf(client: ClientInfo): ConnectionInfo {
  return { clientId: client.clientId, clientAddr: client.channel.remoteAddress, language: DEFAULT_LANGUAGE, version: CLIENT_VERSION };
}

export const getConsumerConnectionList: RequestHandler = async ({ broker }, request) => {
  const group = requireString(request, 'consumerGroup');
  const state = broker.clients.consumerGroup(group);
  if (!state || state.clients.size === 0) {
    return createResponse(request, ResponseCode.CONSUMER_NOT_ONLINE, undefined, `the consumer group[${group}] not online`);
  }
  const body: ConsumerConnection = {
    connectionSet: [...state.clients.values()].map(connectionInfoOf).sort((a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0)),
    subscriptionTable: Object.fromEntries(state.subscriptions),
    consumeType: state.consumeType,
    messageModel: state.messageModel,
    consumeFromWhere: state.consumeFromWhere,
  };
  return createResponse(request, ResponseCode.SUCCESS, undefined, undefined, encodeJsonBody(body));
};
