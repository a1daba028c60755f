import type { MessageQueue } from '../message-queue.js';

/**
 * Decides which queues of a topic one consumer of a group owns.
 * Inputs arrive sorted (queues by topic/broker/id, client ids lexicographically), so every
 * consumer computes the same table without coordination. Implementations must be pure.
 */
export interface AllocateStrategy {
  readonly name: string;
  allocate(input: { group: string; clientId: string; queues: readonly MessageQueue[]; clientIds: readonly string[] }): MessageQueue[];
}
