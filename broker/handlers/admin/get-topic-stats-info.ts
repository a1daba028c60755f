/**
 * GET_TOPIC_STATS_INFO (202). Header: topic. Body: TopicStatsTable
 * `{offsetTable:{MessageQueue:{minOffset,maxOffset,lastUpdateTimestamp}}}` (fastjson object keys),
 * one entry per queue; lastUpdateTimestamp is the store time of the newest message, 0 when empty.
 * Unknown topic: 17 TOPIC_NOT_EXIST.
 */
import { encodeMessageQueueTable, type QueueEntry, type TopicOffset } from '../../../protocol/admin-bodies.js';
import { encodeJsonBody } from '../../../protocol/bodies.js';
import { createResponse } from '../../../protocol/remoting-command.js';
import { ResponseCode } from '../../../protocol/response-code.js';
import type { RequestHandler } from '../../broker-context.js';
import { requireTopic } from '../queue-fields.js';
import { queueIdsOf, queueKeyOf, requireExistingTopic } from './admin-fields.js';

export const getTopicStatsInfo: RequestHandler = async ({ broker }, request) => {
  const topic = requireTopic(request);
  const config = requireExistingTopic(broker, topic);
  const { store } = broker;
  const entries: QueueEntry<TopicOffset>[] = [];
  for (const queueId of queueIdsOf(config)) {
    const minOffset = store.minOffset(topic, queueId);
    const maxOffset = store.maxOffset(topic, queueId);
    const lastUpdateTimestamp = maxOffset > 0 ? ((await store.storeTimestampAt(topic, queueId, maxOffset - 1)) ?? 0) : 0;
    entries.push({ queue: queueKeyOf(broker, topic, queueId), value: { minOffset, maxOffset, lastUpdateTimestamp } });
  }
  const body = { offsetTable: encodeMessageQueueTable(entries) };
  return createResponse(request, ResponseCode.SUCCESS, undefined, undefined, encodeJsonBody(body));
};
