import type { ClientInstance } from './client-instance.js';
import type { MessageQueue } from './message-queue.js';
import type { OffsetStore } from './offset-store.js';

export type ConsumeFromWhere = 'LAST_OFFSET' | 'FIRST_OFFSET' | 'TIMESTAMP';

export interface StartOffsetInput {
  instance: ClientInstance;
  store: OffsetStore;
  mq: MessageQueue;
  where: ConsumeFromWhere;
  /** For TIMESTAMP, ms since the epoch. */
  timestamp: number;
  /** The queue appeared in the route after the consumer first saw the topic. */
  addedLater: boolean;
  /** Whether the group already has an offset on some queue of the topic (asked lazily). */
  groupConsumesTopic: () => Promise<boolean>;
}

/**
 * Where a consumer starts on a queue: the stored offset when there is one, else Java's
 * `computePullFromWhere` table (retry topics: LAST/FIRST → 0, TIMESTAMP → max). One FerryMQ rule
 * on top: a queue without an offset on a topic the group already consumes (a queue added by topic
 * expansion) starts at its first offset, so nothing written to it is skipped.
 */
export async function computeStartOffset(input: StartOffsetInput): Promise<number> {
  const { instance, store, mq } = input;
  const stored = await store.read(mq, true);
  if (stored >= 0) return stored;
  const address = await instance.requireMaster(mq.brokerName);
  const isRetry = mq.topic.startsWith('%RETRY%');
  if (!isRetry && (input.addedLater || (await input.groupConsumesTopic()))) return instance.api.minOffset(address, mq);
  switch (input.where) {
    case 'FIRST_OFFSET':
      return isRetry ? 0 : instance.api.minOffset(address, mq);
    case 'TIMESTAMP':
      return isRetry ? instance.api.maxOffset(address, mq) : instance.api.searchOffset(address, mq, input.timestamp);
    default:
      return isRetry ? 0 : instance.api.maxOffset(address, mq);
  }
}

/**
 * Whether the group has a committed offset on any of these queues. Memory is asked first: a store
 * read replaces the cached offset, which must not happen to a queue this consumer is working on.
 */
export async function storeHasAnyOffset(store: OffsetStore, queues: readonly MessageQueue[]): Promise<boolean> {
  const unknown: MessageQueue[] = [];
  for (const mq of queues) {
    if ((await store.read(mq)) >= 0) return true;
    unknown.push(mq);
  }
  for (const mq of unknown) {
    if ((await store.read(mq, true).catch(() => -1)) >= 0) return true;
  }
  return false;
}
