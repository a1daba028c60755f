/** The admin request codes, spread into the one handler table (`broker/handlers/index.ts`). */
import { RequestCode } from '../../../protocol/request-code.js';
import type { RequestHandler } from '../../broker-context.js';
import { deleteSubscriptionGroup } from './delete-subscription-group.js';
import { getAllConsumerOffset } from './get-all-consumer-offset.js';
import { getAllSubscriptionGroupConfig } from './get-all-subscription-group-config.js';
import { getAllTopicConfig } from './get-all-topic-config.js';
import { getBrokerClusterInfo } from './get-broker-cluster-info.js';
import { getBrokerRuntimeInfo } from './get-broker-runtime-info.js';
import { getConsumeStats } from './get-consume-stats.js';
import { getConsumerConnectionList } from './get-consumer-connection-list.js';
import { getProducerConnectionList } from './get-producer-connection-list.js';
import { getAllTopicListFromNameserver, getTopicsByCluster } from './get-topic-list.js';
import { getTopicStatsInfo } from './get-topic-stats-info.js';
import { invokeBrokerToResetOffset } from './invoke-broker-to-reset-offset.js';
import { updateAndCreateSubscriptionGroup } from './update-and-create-subscription-group.js';

export const ADMIN_HANDLERS: readonly (readonly [number, RequestHandler])[] = [
  // name server
  [RequestCode.GET_BROKER_CLUSTER_INFO, getBrokerClusterInfo],
  [RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER, getAllTopicListFromNameserver],
  [RequestCode.GET_TOPICS_BY_CLUSTER, getTopicsByCluster],
  // topics
  [RequestCode.GET_ALL_TOPIC_CONFIG, getAllTopicConfig],
  [RequestCode.GET_TOPIC_STATS_INFO, getTopicStatsInfo],
  // groups and offsets
  [RequestCode.GET_CONSUME_STATS, getConsumeStats],
  [RequestCode.GET_CONSUMER_CONNECTION_LIST, getConsumerConnectionList],
  [RequestCode.GET_PRODUCER_CONNECTION_LIST, getProducerConnectionList],
  [RequestCode.GET_ALL_CONSUMER_OFFSET, getAllConsumerOffset],
  [RequestCode.INVOKE_BROKER_TO_RESET_OFFSET, invokeBrokerToResetOffset],
  [RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, updateAndCreateSubscriptionGroup],
  [RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG, getAllSubscriptionGroupConfig],
  [RequestCode.DELETE_SUBSCRIPTIONGROUP, deleteSubscriptionGroup],
  // broker
  [RequestCode.GET_BROKER_RUNTIME_INFO, getBrokerRuntimeInfo],
];
