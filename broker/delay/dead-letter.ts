/**
 * Where a retry goes when it has been retried enough: the group's dead-letter queue `%DLQ%<group>`,
 * one queue, read and write (RocketMQ 4.9.8), a normal topic that can be consumed or viewed by id.
 */
import { ResponseCode } from '../../protocol/response-code.js';
import type { TopicConfig } from '../../storage/types.js';
import { RequestRejectedError } from '../handlers/request-fields.js';
import {
  DLQ_GROUP_TOPIC_PREFIX,
  PERM_READ,
  PERM_WRITE,
  RETRY_GROUP_TOPIC_PREFIX,
  newTopicConfig,
  type TopicConfigManager,
} from '../topic-config-manager.js';

/** RocketMQ `DLQ_NUMS_PER_GROUP`. */
export const DLQ_QUEUE_NUMS = 1;

/** `MQVersion.Version.V3_4_9.ordinal()`: from this client version on, the request's maxReconsumeTimes wins. */
export const VERSION_WITH_MAX_RECONSUME_TIMES = 121;

export function dlqTopicOf(group: string): string {
  return `${DLQ_GROUP_TOPIC_PREFIX}${group}`;
}

export function ensureDlqTopic(topics: TopicConfigManager, group: string): TopicConfig {
  const topic = dlqTopicOf(group);
  const existing = topics.get(topic);
  if (existing) return existing;
  const config = newTopicConfig(topic, DLQ_QUEUE_NUMS, PERM_READ | PERM_WRITE);
  topics.put(config);
  return config;
}

/** The group's max reconsume times: the request's value when the client is new enough to send one. */
export function maxReconsumeTimesOf(groupRetryMaxTimes: number, requestVersion: number, requested: number | undefined): number {
  return requestVersion >= VERSION_WITH_MAX_RECONSUME_TIMES && requested !== undefined ? requested : groupRetryMaxTimes;
}

/**
 * The send-path rule for a producer writing straight to `%RETRY%<group>` (a client's fall-back after a
 * failed send-back): once `reconsumeTimes` reaches the max, the message goes to `%DLQ%<group>` queue 0
 * instead. Returns undefined for every other topic, or when the message stays on the retry topic.
 * Throws SUBSCRIPTION_GROUP_NOT_EXIST when the group is unknown and cannot be created.
 */
export function deadLetterRedirect(
  topics: TopicConfigManager,
  topic: string,
  reconsumeTimes: number,
  requestVersion: number,
  requestedMaxReconsumeTimes: number | undefined,
): { topic: string; queueId: number } | undefined {
  if (!topic.startsWith(RETRY_GROUP_TOPIC_PREFIX)) return undefined;
  const group = topic.slice(RETRY_GROUP_TOPIC_PREFIX.length);
  const groupConfig = topics.ensureGroup(group);
  if (!groupConfig) {
    throw new RequestRejectedError(ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST, `subscription group not exist, ${group}`);
  }
  const max = maxReconsumeTimesOf(groupConfig.retryMaxTimes, requestVersion, requestedMaxReconsumeTimes);
  if (reconsumeTimes < max) return undefined;
  return { topic: ensureDlqTopic(topics, group).topicName, queueId: 0 };
}
