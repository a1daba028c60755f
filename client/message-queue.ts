import type { MessageQueue } from '../protocol/bodies.js';

/** One queue of a topic on one broker: the unit of allocation, pulling and offset tracking. */
export type { MessageQueue };

/** Stable map key for a queue. */
export function queueKey(mq: MessageQueue): string {
  return `${mq.topic}@${mq.brokerName}@${mq.queueId}`;
}

/** Java's `MessageQueue.compareTo`: topic, then brokerName, then queueId. Every client sorts this way. */
export function compareQueues(a: MessageQueue, b: MessageQueue): number {
  if (a.topic !== b.topic) return a.topic < b.topic ? -1 : 1;
  if (a.brokerName !== b.brokerName) return a.brokerName < b.brokerName ? -1 : 1;
  return a.queueId - b.queueId;
}
