import { javaStringHashCode } from '../protocol/tag-filter.js';
import { InvalidArgumentError } from '../protocol/errors.js';
import type { Message } from './message.js';
import type { MessageQueue } from './message-queue.js';

/** Picks the queue for one send. `queues` are the topic's writable queues, sorted. */
export interface QueueSelector {
  select(queues: readonly MessageQueue[], msg: Message): MessageQueue;
}

/** Round robin from a random start: spreads load, keeps no order across messages. */
export function roundRobinSelector(start = Math.floor(Math.random() * 1024)): QueueSelector {
  let next = start;
  return {
    select(queues) {
      return queues[next++ % queues.length]!;
    },
  };
}

/**
 * Same sharding key → same queue, so one key's messages are consumed in send order (with an
 * orderly consumer). Uses Java's `String.hashCode` modulo the queue count, like
 * `SelectMessageQueueByHash`, so Java and TypeScript producers agree on the queue.
 */
export const shardingKeySelector: QueueSelector = {
  select(queues, msg) {
    if (msg.shardingKey === undefined || msg.shardingKey === '') throw new InvalidArgumentError('shardingKeySelector needs msg.shardingKey');
    const value = javaStringHashCode(msg.shardingKey) % queues.length;
    return queues[Math.abs(value)]!;
  },
};
