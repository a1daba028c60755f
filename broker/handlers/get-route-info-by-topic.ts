/**
 * GET_ROUTEINFO_BY_TOPIC (105), the name-server role: this broker is the topic's only broker, at
 * its advertised address, as master (id 0). Unknown topics get 17 TOPIC_NOT_EXIST; `%RETRY%<group>`
 * is created on lookup once the group is known (see TopicConfigManager.getForRoute).
 */
import { encodeJsonBody } from '../../protocol/bodies.js';
import { createResponse } from '../../protocol/remoting-command.js';
import { ResponseCode } from '../../protocol/response-code.js';
import type { RequestHandler } from '../broker-context.js';
import { requireString } from './request-fields.js';

export const getRouteInfoByTopic: RequestHandler = async ({ broker }, request) => {
  const topic = requireString(request, 'topic');
  const config = broker.topics.getForRoute(topic);
  if (!config) {
    return createResponse(request, ResponseCode.TOPIC_NOT_EXIST, undefined, `No topic route info in name server for the topic: ${topic}`);
  }
  const { brokerName, clusterName } = broker.config;
  const route = {
    queueDatas: [
      {
        brokerName,
        readQueueNums: config.readQueueNums,
        writeQueueNums: config.writeQueueNums,
        perm: config.perm,
        topicSysFlag: config.topicSysFlag,
      },
    ],
    brokerDatas: [{ cluster: clusterName, brokerName, brokerAddrs: { '0': broker.advertisedAddress } }],
    filterServerTable: {},
  };
  return createResponse(request, ResponseCode.SUCCESS, undefined, undefined, encodeJsonBody(route));
};
