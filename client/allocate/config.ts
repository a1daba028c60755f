import { compareQueues, queueKey, type MessageQueue } from '../message-queue.js';
import type { AllocateStrategy } from './strategy.js';

/**
 * An explicit list of queues for this consumer (Java's AllocateMessageQueueByConfig, "CONFIG").
 * Queues not currently in the route are left out, so a stale list cannot pull a missing queue.
 */
export function configStrategy(ownedQueues: readonly MessageQueue[]): AllocateStrategy {
  const wanted = new Set(ownedQueues.map(queueKey));
  return {
    name: 'CONFIG',
    allocate({ queues }) {
      return queues.filter((mq) => wanted.has(queueKey(mq))).sort(compareQueues);
    },
  };
}
