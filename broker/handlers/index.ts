/**
 * The one table from request code to handler. A code missing here is answered with
 * 3 REQUEST_CODE_NOT_SUPPORTED by the server, never with silence.
 */
import { RequestCode } from '../../protocol/request-code.js';
import type { RequestHandler } from '../broker-context.js';
import { ADMIN_HANDLERS } from './admin/index.js';
import { checkClientConfig } from './check-client-config.js';
import { consumerSendMsgBack } from './consumer-send-msg-back.js';
import { deleteTopicInBroker } from './delete-topic-in-broker.js';
import { endTransaction } from './end-transaction.js';
import { getConsumerListByGroup } from './get-consumer-list-by-group.js';
import { getEarliestMsgStoretime } from './get-earliest-msg-storetime.js';
import { getKvConfig } from './get-kv-config.js';
import { getKvConfigByValue } from './get-kv-config-by-value.js';
import { getMaxOffset } from './get-max-offset.js';
import { getMinOffset } from './get-min-offset.js';
import { getRouteInfoByTopic } from './get-route-info-by-topic.js';
import { heartBeat } from './heart-beat.js';
import { lockBatchMq } from './lock-batch-mq.js';
import { pullMessage } from './pull-message.js';
import { queryConsumerOffset } from './query-consumer-offset.js';
import { queryMessage } from './query-message.js';
import { searchOffsetByTimestamp } from './search-offset-by-timestamp.js';
import { sendBatchMessage } from './send-batch-message.js';
import { sendMessage } from './send-message.js';
import { unlockBatchMq } from './unlock-batch-mq.js';
import { unregisterClient } from './unregister-client.js';
import { updateAndCreateTopic } from './update-and-create-topic.js';
import { updateConsumerOffset } from './update-consumer-offset.js';
import { viewMessageById } from './view-message-by-id.js';

const HANDLERS = new Map<number, RequestHandler>([
  // name server
  [RequestCode.GET_ROUTEINFO_BY_TOPIC, getRouteInfoByTopic],
  [RequestCode.GET_KV_CONFIG, getKvConfig],
  [RequestCode.GET_KV_CONFIG_BY_VALUE, getKvConfigByValue],
  // clients
  [RequestCode.HEART_BEAT, heartBeat],
  [RequestCode.UNREGISTER_CLIENT, unregisterClient],
  [RequestCode.GET_CONSUMER_LIST_BY_GROUP, getConsumerListByGroup],
  [RequestCode.CHECK_CLIENT_CONFIG, checkClientConfig],
  // produce
  [RequestCode.SEND_MESSAGE, sendMessage],
  [RequestCode.SEND_MESSAGE_V2, sendMessage],
  [RequestCode.SEND_BATCH_MESSAGE, sendBatchMessage],
  [RequestCode.END_TRANSACTION, endTransaction],
  // consume
  [RequestCode.PULL_MESSAGE, pullMessage],
  [RequestCode.QUERY_CONSUMER_OFFSET, queryConsumerOffset],
  [RequestCode.UPDATE_CONSUMER_OFFSET, updateConsumerOffset],
  [RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, searchOffsetByTimestamp],
  [RequestCode.GET_MAX_OFFSET, getMaxOffset],
  [RequestCode.GET_MIN_OFFSET, getMinOffset],
  [RequestCode.CONSUMER_SEND_MSG_BACK, consumerSendMsgBack],
  [RequestCode.GET_EARLIEST_MSG_STORETIME, getEarliestMsgStoretime],
  // orderly consumption
  [RequestCode.LOCK_BATCH_MQ, lockBatchMq],
  [RequestCode.UNLOCK_BATCH_MQ, unlockBatchMq],
  // lookup
  [RequestCode.VIEW_MESSAGE_BY_ID, viewMessageById],
  [RequestCode.QUERY_MESSAGE, queryMessage],
  // topics
  [RequestCode.UPDATE_AND_CREATE_TOPIC, updateAndCreateTopic],
  [RequestCode.DELETE_TOPIC_IN_BROKER, deleteTopicInBroker],
  // admin (issue #8)
  ...ADMIN_HANDLERS,
]);

export function findHandler(code: number): RequestHandler | undefined {
  return HANDLERS.get(code);
}

/** Codes with a handler, ascending (docs and tests). */
export function supportedRequestCodes(): number[] {
  return [...HANDLERS.keys()].sort((a, b) => a - b);
}

