/**
 * The name-server topic lists, body TopicList `{topicList:[name]}`:
 * - GET_ALL_TOPIC_LIST_FROM_NAMESERVER (206), no header: every topic (mqadmin `topicList`);
 * - GET_TOPICS_BY_CLUSTER (224), header `cluster`: every topic of that cluster (this broker's when
 *   the name matches; any other name is 1 SYSTEM_ERROR "cluster [c] not exist").
 */
import { encodeJsonBody } from '../../../protocol/bodies.js';
import { createResponse } from '../../../protocol/remoting-command.js';
import { ResponseCode } from '../../../protocol/response-code.js';
import type { BrokerContext, RequestHandler } from '../../broker-context.js';
import { requireString } from '../request-fields.js';

function topicNames(broker: BrokerContext): string[] {
  return broker.topics.list().map((t) => t.topicName).sort();
}

export const getAllTopicListFromNameserver: RequestHandler = async ({ broker }, request) => {
  return createResponse(request, ResponseCode.SUCCESS, undefined, undefined, encodeJsonBody({ topicList: topicNames(broker) }));
};

export const getTopicsByCluster: RequestHandler = async ({ broker }, request) => {
  const cluster = requireString(request, 'cluster');
  if (cluster !== broker.config.clusterName) {
    return createResponse(request, ResponseCode.SYSTEM_ERROR, undefined, `cluster [${cluster}] not exist`);
  }
  return createResponse(request, ResponseCode.SUCCESS, undefined, undefined, encodeJsonBody({ topicList: topicNames(broker) }));
};
