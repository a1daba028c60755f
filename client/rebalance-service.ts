import type { AllocateStrategy } from './allocate/strategy.js';
import { IntervalTask, type Clock } from '../storage/clock.js';
import type { Logger } from './logger.js';
import type { MessageQueue } from './message-queue.js';

/** How a topic's queues are spread over a group, as every member computes it. */
export interface AllocationReport {
  topic: string;
  queues: number;
  consumers: number;
  /** Client id → number of queues it owns. */
  queuesPerConsumer: Record<string, number>;
  /** Members that own no queue (more consumers than queues): they sit idle. */
  idleConsumers: string[];
}

/** Runs the strategy for every member (inputs sorted), so each consumer can report the group's skew. */
export function allocationReport(strategy: AllocateStrategy, group: string, topic: string, queues: readonly MessageQueue[], clientIds: readonly string[]): AllocationReport {
  const queuesPerConsumer: Record<string, number> = {};
  const idleConsumers: string[] = [];
  for (const clientId of clientIds) {
    const owned = strategy.allocate({ group, clientId, queues, clientIds }).length;
    queuesPerConsumer[clientId] = owned;
    if (owned === 0) idleConsumers.push(clientId);
  }
  return { topic, queues: queues.length, consumers: clientIds.length, queuesPerConsumer, idleConsumers };
}

/**
 * Rebalances every `intervalMs` (20 s by default) and at once when the broker notifies that the
 * group's members changed. Runs never overlap; a notify during a run queues one more run.
 */
export class RebalanceService {
  private readonly task: IntervalTask;
  private queued: Promise<void> | undefined;

  constructor(intervalMs: number, rebalance: () => Promise<void>, clock: Clock, logger: Logger) {
    this.task = new IntervalTask(intervalMs, rebalance, clock, (err) => logger.warn({ err }, 'rebalance failed'));
  }

  start(): void {
    this.task.start();
  }

  /** Coalesces bursts of notifications into one extra run. */
  rebalanceNow(): Promise<void> {
    this.queued ??= this.task.runNow().finally(() => {
      this.queued = undefined;
    });
    return this.queued;
  }

  async shutdown(): Promise<void> {
    await this.task.shutdown();
  }
}
