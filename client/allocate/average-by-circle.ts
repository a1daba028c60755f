import type { AllocateStrategy } from './strategy.js';

/** Queue i goes to consumer i % consumers (Java's AllocateMessageQueueAveragelyByCircle, "AVG_BY_CIRCLE"). */
export const averageByCircleStrategy: AllocateStrategy = {
  name: 'AVG_BY_CIRCLE',
  allocate({ clientId, queues, clientIds }) {
    const index = clientIds.indexOf(clientId);
    if (index < 0) return [];
    return queues.filter((_, i) => i % clientIds.length === index);
  },
};
