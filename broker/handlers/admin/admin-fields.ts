/**
 * Shared pieces of the admin handlers: the queue key RocketMQ puts in admin tables, the topic lookup
 * that answers 17 for an unknown topic.
 */
import type { MessageQueueKey } from '../../../protocol/admin-bodies.js';
import { ResponseCode } from '../../../protocol/response-code.js';
import type { MessageStoreApi, TopicConfig } from '../../../storage/types.js';
import type { BrokerContext } from '../../broker-context.js';
import { RequestRejectedError } from '../request-fields.js';

export function queueKeyOf(broker: BrokerContext, topic: string, queueId: number): MessageQueueKey {
  return { topic, brokerName: broker.config.brokerName, queueId };
}

/** The topic's config, or TOPIC_NOT_EXIST with RocketMQ's remark. */
export function requireExistingTopic(broker: BrokerContext, topic: string): TopicConfig {
  const config = broker.topics.get(topic);
  if (!config) throw new RequestRejectedError(ResponseCode.TOPIC_NOT_EXIST, `topic[${topic}] not exist`);
  return config;
}

/** Queue ids a consumer reads: 0 .. max(read, write) − 1 (the two only differ while a topic shrinks). */
export function queueIdsOf(config: TopicConfig): number[] {
  return Array.from({ length: Math.max(config.readQueueNums, config.writeQueueNums) }, (_, i) => i);
}

/**
 * The first offset whose message was stored at or after `timestamp`: max offset when every message is
 * older. Binary search over store times, which never decrease within a queue. RocketMQ's
 * SEARCH_OFFSET_BY_TIMESTAMP returns the *closest* entry instead, which can be one too early.
 */
export async function firstOffsetAtOrAfter(store: MessageStoreApi, topic: string, queueId: number, timestamp: number): Promise<number> {
  let lo = store.minOffset(topic, queueId);
  let hi = store.maxOffset(topic, queueId);
  while (lo < hi) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const storedAt = await store.storeTimestampAt(topic, queueId, mid);
    // An entry gone under retention counts as old.
    if (storedAt === undefined || storedAt < timestamp) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

