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
  /** A run asked for and not started yet: notifications until it starts share it. */
  private pending: Promise<void> | undefined;

  constructor(intervalMs: number, rebalance: () => Promise<void>, clock: Clock, logger: Logger) {
    const run = async () => {
      // Any run that starts from here on reads the group's members after the notifications so far.
      this.pending = undefined;
      await rebalance();
    };
    this.task = new IntervalTask(intervalMs, run, clock, (err) => logger.warn({ err }, 'rebalance failed'));
  }

  start(): void {
    this.task.start();
  }

  /**
   * Coalesces bursts of notifications into one extra run. A notification that comes while a run is
   * in progress queues another: that run may have read the member list before the change (members
   * joining at once otherwise kept allocations computed from different lists, and read the same
   * queues, until the next periodic run 20 s later).
   */
  rebalanceNow(): Promise<void> {
    this.pending ??= this.task.runNow();
    return this.pending;
  }

  async shutdown(): Promise<void> {
    await this.task.shutdown();
  }
}
