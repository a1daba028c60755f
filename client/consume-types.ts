import type { Logger } from './logger.js';
import type { Clock } from '../storage/clock.js';
import type { DuplicateCounter } from './duplicate-counter.js';
import type { ReceivedMessage } from './message.js';
import type { MessageQueue } from './message-queue.js';
import type { OffsetStore } from './offset-store.js';
import type { ProcessQueue } from './process-queue.js';
import type { TaskPool } from './task-pool.js';

/** What a listener returns. Returning nothing means SUCCESS; throwing means RECONSUME_LATER. */
export const ConsumeStatus = {
  SUCCESS: 'SUCCESS',
  /** Concurrent mode: send the batch back for a later retry. Orderly mode: suspend the queue briefly, then retry locally. */
  RECONSUME_LATER: 'RECONSUME_LATER',
} as const;
export type ConsumeStatus = (typeof ConsumeStatus)[keyof typeof ConsumeStatus];

export interface ConsumeContext {
  /** The queue the batch came from (the `%RETRY%` queue for a redelivery). */
  queue: MessageQueue;
}

export type MessageListener = (messages: ReceivedMessage[], context: ConsumeContext) => Promise<ConsumeStatus | void> | ConsumeStatus | void;

export type MessageModel = 'CLUSTERING' | 'BROADCASTING';

/** Counters a user can read from `consumer.stats()`. */
export interface ConsumeStats {
  /** Messages whose listener call succeeded. */
  consumed: number;
  /** Messages whose listener call failed (returned RECONSUME_LATER or threw). */
  failed: number;
  /** Failed messages handed back to the broker (36) or re-published to the retry topic. */
  sentBack: number;
  /** Deliveries of a message this consumer had already received (bounded window by uniqKey/msgId). */
  duplicates: number;
}

/** What the consume services need from the push consumer. */
export interface ConsumeHost {
  readonly group: string;
  readonly messageModel: MessageModel;
  readonly listener: MessageListener;
  readonly batchSize: number;
  readonly maxReconsumeTimes: number;
  readonly offsetStore: OffsetStore;
  readonly pool: TaskPool;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly duplicates: DuplicateCounter;
  readonly counters: Omit<ConsumeStats, 'duplicates'>;
  /** Sends a failed message back (36, falling back to publishing to `%RETRY%<group>`); false if both failed. */
  sendBack(msg: ReceivedMessage, delayLevel: number): Promise<boolean>;
}

/** Runs the listener; a throw or RECONSUME_LATER is a failure. */
export async function callListener(host: ConsumeHost, batch: ReceivedMessage[], queue: MessageQueue): Promise<boolean> {
  try {
    const status = await host.listener(batch, { queue });
    return status === undefined || status === ConsumeStatus.SUCCESS;
  } catch (err) {
    host.logger.warn({ err, queue, count: batch.length }, 'listener threw; treating the batch as RECONSUME_LATER');
    return false;
  }
}

export type ReceivedProcessQueue = ProcessQueue<ReceivedMessage>;
