import type { MessageQueue } from '../message-queue.js';
import type { AllocateStrategy } from './strategy.js';

/**
 * Contiguous blocks, the first `queues % consumers` consumers taking one extra queue
 * (Java's AllocateMessageQueueAveragely, "AVG"). With more consumers than queues, the
 * last consumers get nothing.
 */
export const averageStrategy: AllocateStrategy = {
  name: 'AVG',
  allocate({ clientId, queues, clientIds }) {
    const index = clientIds.indexOf(clientId);
    if (index < 0 || queues.length === 0) return [];
    const n = queues.length;
    const c = clientIds.length;
    const mod = n % c;
    const size = n <= c ? 1 : Math.floor(n / c) + (index < mod ? 1 : 0);
    const start = index < mod ? index * size : index * size + mod;
    const count = Math.min(size, n - start);
    const owned: MessageQueue[] = [];
    for (let i = 0; i < count; i++) owned.push(queues[(start + i) % n]!);
    return owned;
  },
};
