/**
 * GET_BROKER_CLUSTER_INFO (106), the name-server role, no header. Body: ClusterInfo
 * `{brokerAddrTable:{brokerName:{cluster,brokerName,brokerAddrs:{"0":"host:port"}}}, clusterAddrTable:{cluster:[brokerName]}}`.
 * One cluster with this one master broker. mqadmin's `updateTopic -c <cluster>` reads it.
 */
import { encodeJsonBody } from '../../../protocol/bodies.js';
import { createResponse } from '../../../protocol/remoting-command.js';
import { ResponseCode } from '../../../protocol/response-code.js';
import type { RequestHandler } from '../../broker-context.js';

export const getBrokerClusterInfo: RequestHandler = async ({ broker }, request) => {
  const { brokerName, clusterName } = broker.config;
  const body = {
    brokerAddrTable: { [brokerName]: { cluster: clusterName, brokerName, brokerAddrs: { '0': broker.advertisedAddress } } },
    clusterAddrTable: { [clusterName]: [brokerName] },
  };
  return createResponse(request, ResponseCode.SUCCESS, undefined, undefined, encodeJsonBody(body));
};
