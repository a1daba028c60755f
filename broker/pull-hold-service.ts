/**
 * Long polling (RocketMQ's PullRequestHoldService, minus its 5 s scan): a pull that finds nothing
 * new is parked until its exact deadline. An append to its queue wakes it at once; otherwise the
 * deadline does. Either way the pull is re-run once with suspension disallowed, so it answers
 * whatever it finds. Holds are bounded per connection and in total; past a bound the caller
 * answers at once.
 *
 * One timer serves all held pulls: pulls with the same timeout are parked in deadline order, so
 * the earliest deadline is the first of one of a few lists. A pull woken by an append leaves the
 * timer alone (it fires later, finds nothing due and re-arms), so a pull costs no timer of its own.
 */
import { systemClock, type Clock, type TimerHandle } from '../storage/clock.js';

export interface PullToHold {
  topic: string;
  queueId: number;
  /** The offset the pull asked for; an append that moves maxOffset past it wakes the pull. */
  offset: number;
  connectionId: number;
  timeoutMs: number;
  /** Re-runs the pull without suspension and writes its answer. */
  rerun: () => void;
}

export interface PullHoldServiceOptions {
  maxPerConnection: number;
  maxTotal: number;
  /** The queue's current next offset, checked at hold time so an append racing the hold is not missed. */
  maxOffsetOf: (topic: string, queueId: number) => number;
  clock?: Clock;
}

export class PullHoldService {
  /** Held pulls by topic and queue id (a queue's set is kept when it empties: queues are few and reused). */
  private readonly byQueue = new Map<string, Map<number, Set<PullToHold>>>();
  /** Deadlines by timeout: each map is in insertion order, which is deadline order. */
  private readonly byTimeout = new Map<number, Map<PullToHold, number>>();
  private readonly perConnection = new Map<number, number>();
  private total = 0;
  private running = false;
  private timer: TimerHandle | undefined;
  private timerAt = Infinity;
  private readonly clock: Clock;
  /**
   * Time for deadlines. The system clock's now() is wall time, which can step (NTP, an operator):
   * a step back would hold every parked pull that much longer. Its timers do not step, and neither
   * does performance.now().
   */
  private readonly now: () => number;

  constructor(private readonly options: PullHoldServiceOptions) {
    const clock = (this.clock = options.clock ?? systemClock);
    this.now = clock === systemClock ? () => performance.now() : () => clock.now();
  }

  start(): void {
    this.running = true;
  }

  /** Forgets every held pull without answering (the connections are closing). */
  shutdown(): void {
    this.running = false;
    this.disarm();
    this.byQueue.clear();
    this.byTimeout.clear();
    this.perConnection.clear();
    this.total = 0;
  }

  /** Parks a pull; false when a bound is reached or the service is stopped (answer now instead). */
  hold(pull: PullToHold): boolean {
    if (!this.running) return false;
    const connectionCount = this.perConnection.get(pull.connectionId) ?? 0;
    if (this.total >= this.options.maxTotal || connectionCount >= this.options.maxPerConnection) return false;
    if (this.options.maxOffsetOf(pull.topic, pull.queueId) > pull.offset) {
      // Data arrived between the read and now: answer on the next turn rather than wait for a wake-up.
      setImmediate(pull.rerun);
      return true;
    }
    this.queueHolds(pull.topic, pull.queueId).add(pull);
    let deadlines = this.byTimeout.get(pull.timeoutMs);
    if (!deadlines) this.byTimeout.set(pull.timeoutMs, (deadlines = new Map()));
    const deadline = this.now() + pull.timeoutMs;
    deadlines.set(pull, deadline);
    this.perConnection.set(pull.connectionId, connectionCount + 1);
    this.total += 1;
    if (deadline < this.timerAt) this.arm(deadline);
    return true;
  }

  /** Messages were appended to a queue: wake the pulls waiting below `maxOffset`. */
  notify(topic: string, queueId: number, maxOffset: number): void {
    const held = this.byQueue.get(topic)?.get(queueId);
    if (!held || held.size === 0) return;
    // Deleting during iteration is safe for a Set; a re-run never holds again synchronously.
    for (const pull of held) if (pull.offset < maxOffset) this.release(pull);
  }

  /** A connection closed: drop its held pulls silently. */
  dropConnection(connectionId: number): void {
    if (!this.perConnection.has(connectionId)) return;
    for (const queues of this.byQueue.values()) {
      for (const held of queues.values()) for (const pull of held) if (pull.connectionId === connectionId) this.remove(pull);
    }
    this.perConnection.delete(connectionId);
  }

  /** Number of held pulls (all, or of one connection). */
  heldCount(connectionId?: number): number {
    return connectionId === undefined ? this.total : (this.perConnection.get(connectionId) ?? 0);
  }

  /** Number of pulls held on a topic's queues. */
  heldOnTopic(topic: string): number {
    let count = 0;
    for (const held of this.byQueue.get(topic)?.values() ?? []) count += held.size;
    return count;
  }

  /** Forgets the held pulls of a deleted topic's queues after answering them. */
  wakeTopic(topic: string): void {
    const queues = this.byQueue.get(topic);
    if (!queues) return;
    for (const held of queues.values()) for (const pull of held) this.release(pull);
    this.byQueue.delete(topic);
  }

  private queueHolds(topic: string, queueId: number): Set<PullToHold> {
    let queues = this.byQueue.get(topic);
    if (!queues) this.byQueue.set(topic, (queues = new Map()));
    let held = queues.get(queueId);
    if (!held) queues.set(queueId, (held = new Set()));
    return held;
  }

  private release(pull: PullToHold): void {
    if (this.remove(pull)) pull.rerun();
  }

  private remove(pull: PullToHold): boolean {
    const held = this.byQueue.get(pull.topic)?.get(pull.queueId);
    if (!held || !held.delete(pull)) return false;
    this.byTimeout.get(pull.timeoutMs)?.delete(pull);
    this.perConnection.set(pull.connectionId, (this.perConnection.get(pull.connectionId) ?? 1) - 1);
    this.total -= 1;
    return true;
  }

  /** Re-runs every pull whose deadline has come, then waits for the next deadline. */
  private readonly expire = (): void => {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = this.now();
    let next = Infinity;
    for (const [timeoutMs, deadlines] of this.byTimeout) {
      // Clients pick their timeouts: a value nobody uses any more is dropped here, not per pull.
      if (deadlines.size === 0) this.byTimeout.delete(timeoutMs);
      for (const [pull, deadline] of deadlines) {
        if (deadline > now) {
          next = Math.min(next, deadline);
          break;
        }
        this.release(pull);
      }
    }
    if (next < this.timerAt) this.arm(next);
  };

  private arm(at: number): void {
    this.disarm();
    this.timerAt = at;
    this.timer = this.clock.setTimeout(this.expire, at - this.now());
  }

  private disarm(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }
}
