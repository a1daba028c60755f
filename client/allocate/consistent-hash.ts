import { createHash } from 'node:crypto';
import type { MessageQueue } from '../message-queue.js';
import type { AllocateStrategy } from './strategy.js';

/**
 * A hash ring of `virtualNodes` points per consumer; a queue belongs to the first point at or
 * after its own hash, wrapping around. Keys and hash match Java's AllocateMessageQueueConsistentHash
 * (first 4 bytes of MD5, unsigned; virtual node key `<clientId>-<i>`; queue key `MessageQueue [...]`),
 * so a mixed Java/TypeScript group agrees. Consumers joining or leaving move few queues.
 */
export function consistentHashStrategy(virtualNodes = 10): AllocateStrategy {
  if (!Number.isInteger(virtualNodes) || virtualNodes < 1) throw new RangeError(`virtualNodes must be a positive integer, got ${virtualNodes}`);
  return {
    name: 'CONSISTENT_HASH',
    allocate({ clientId, queues, clientIds }) {
      if (!clientIds.includes(clientId)) return [];
      const ring = new Map<number, string>();
      for (const id of clientIds) {
        for (let i = 0; i < virtualNodes; i++) ring.set(md5Prefix(`${id}-${i}`), id);
      }
      const points = [...ring.keys()].sort((a, b) => a - b);
      return queues.filter((mq) => ring.get(firstAtOrAfter(points, md5Prefix(javaQueueString(mq)))) === clientId);
    },
  };
}

function md5Prefix(key: string): number {
  return createHash('md5').update(key, 'utf8').digest().readUInt32BE(0);
}

function javaQueueString(mq: MessageQueue): string {
  return `MessageQueue [topic=${mq.topic}, brokerName=${mq.brokerName}, queueId=${mq.queueId}]`;
}

function firstAtOrAfter(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return sorted[lo === sorted.length ? 0 : lo]!;
}
