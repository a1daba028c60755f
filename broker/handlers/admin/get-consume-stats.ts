/**
 * GET_CONSUME_STATS (208). Header: consumerGroup, topic (optional). Body: ConsumeStats
 * `{offsetTable:{MessageQueue:{brokerOffset,consumerOffset,lastTimestamp}}, consumeTps}`.
 *
 * Without a topic, the group's topics are those it has committed offsets on plus those its online
 * consumers subscribe to (RocketMQ looks at offsets only, so a group that never committed shows
 * nothing there). As in RocketMQ: a topic the online group does not subscribe to is skipped, a
 * missing committed offset counts as 0, and lastTimestamp is the store time of the last consumed
 * message. consumeTps is always 0: FerryMQ keeps no per-group rate counters.
 */
import { encodeMessageQueueTable, type OffsetWrapper, type QueueEntry } from '../../../protocol/admin-bodies.js';
import { encodeJsonBody } from '../../../protocol/bodies.js';
import { createResponse } from '../../../protocol/remoting-command.js';
import { ResponseCode } from '../../../protocol/response-code.js';
import type { BrokerContext, RequestHandler } from '../../broker-context.js';
import { requireTopic } from '../queue-fields.js';
import { optionalString, requireString } from '../request-fields.js';
import { queueIdsOf, queueKeyOf } from './admin-fields.js';

/** Topics whose consumption by `group` the broker can report. */
export function topicsOfGroup(broker: BrokerContext, group: string): string[] {
  const topics = new Set(broker.offsets.listByGroup(group).map((e) => e.topic));
  const online = broker.clients.consumerGroup(group);
  for (const topic of online?.subscriptions.keys() ?? []) topics.add(topic);
  return [...topics].sort();
}

export const getConsumeStats: RequestHandler = async ({ broker }, request) => {
  const group = requireString(request, 'consumerGroup');
  const topicField = optionalString(request, 'topic');
  const topics = topicField ? [requireTopic(request)] : topicsOfGroup(broker, group);
  const online = broker.clients.consumerGroup(group);
  const entries: QueueEntry<OffsetWrapper>[] = [];
  for (const topic of topics) {
    const config = broker.topics.get(topic);
    if (!config) continue;
    if (online && online.subscriptions.size > 0 && !online.subscriptions.has(topic)) continue;
    for (const queueId of queueIdsOf(config)) {
      const brokerOffset = broker.store.maxOffset(topic, queueId);
      const consumerOffset = broker.offsets.query(group, topic, queueId) ?? 0;
      const lastTimestamp = consumerOffset > 0 ? ((await broker.store.storeTimestampAt(topic, queueId, consumerOffset - 1)) ?? 0) : 0;
      entries.push({ queue: queueKeyOf(broker, topic, queueId), value: { brokerOffset, consumerOffset, lastTimestamp } });
    }
  }
  const body = { offsetTable: encodeMessageQueueTable(entries), consumeTps: 0 };
  return createResponse(request, ResponseCode.SUCCESS, undefined, undefined, encodeJsonBody(body));
};
