/**
 * Long polling (RocketMQ's PullRequestHoldService, minus its 5 s scan): a pull that finds nothing
 * new is parked with its own exact timer. An append to its queue wakes it at once; otherwise the
 * timer does. Either way the pull is re-run once with suspension disallowed, so it answers whatever
 * it finds. Holds are bounded per connection and in total; past a bound the caller answers at once.
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

interface HeldPull extends PullToHold {
  timer: TimerHandle;
}

export interface PullHoldServiceOptions {
  maxPerConnection: number;
  maxTotal: number;
  /** The queue's current next offset, checked at hold time so an append racing the hold is not missed. */
  maxOffsetOf: (topic: string, queueId: number) => number;
  clock?: Clock;
}

export class PullHoldService {
  private readonly byQueue = new Map<string, Set<HeldPull>>();
  private readonly perConnection = new Map<number, number>();
  private total = 0;
  private running = false;
  private readonly clock: Clock;

  constructor(private readonly options: PullHoldServiceOptions) {
    this.clock = options.clock ?? systemClock;
  }

  start(): void {
    this.running = true;
  }

  /** Forgets every held pull without answering (the connections are closing). */
  shutdown(): void {
    this.running = false;
    for (const held of this.byQueue.values()) for (const pull of held) this.clock.clearTimeout(pull.timer);
    this.byQueue.clear();
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
    const key = queueKey(pull.topic, pull.queueId);
    let held = this.byQueue.get(key);
    if (!held) this.byQueue.set(key, (held = new Set()));
    const entry: HeldPull = { ...pull, timer: undefined as unknown as TimerHandle };
    entry.timer = this.clock.setTimeout(() => this.release(key, entry), pull.timeoutMs);
    held.add(entry);
    this.perConnection.set(pull.connectionId, connectionCount + 1);
    this.total += 1;
    return true;
  }

  /** Messages were appended to a queue: wake the pulls waiting below `maxOffset`. */
  notify(topic: string, queueId: number, maxOffset: number): void {
    const key = queueKey(topic, queueId);
    const held = this.byQueue.get(key);
    if (!held) return;
    for (const pull of [...held]) if (pull.offset < maxOffset) this.release(key, pull);
  }

  /** A connection closed: drop its held pulls silently. */
  dropConnection(connectionId: number): void {
    if (!this.perConnection.has(connectionId)) return;
    for (const [key, held] of this.byQueue) {
      for (const pull of held) if (pull.connectionId === connectionId) this.remove(key, pull);
    }
  }

  /** Number of held pulls (all, or of one connection). */
  heldCount(connectionId?: number): number {
    return connectionId === undefined ? this.total : (this.perConnection.get(connectionId) ?? 0);
  }

  /** Number of pulls held on a topic's queues. */
  heldOnTopic(topic: string): number {
    let count = 0;
    for (const held of this.byQueue.values()) if (topicOf(held) === topic) count += held.size;
    return count;
  }

  /** Forgets the held pulls of a deleted topic's queues after answering them. */
  wakeTopic(topic: string): void {
    for (const [key, held] of this.byQueue) {
      if (topicOf(held) === topic) for (const pull of [...held]) this.release(key, pull);
    }
  }

  private release(key: string, pull: HeldPull): void {
    if (!this.remove(key, pull)) return;
    pull.rerun();
  }

  private remove(key: string, pull: HeldPull): boolean {
    const held = this.byQueue.get(key);
    if (!held || !held.delete(pull)) return false;
    if (held.size === 0) this.byQueue.delete(key);
    this.clock.clearTimeout(pull.timer);
    const left = (this.perConnection.get(pull.connectionId) ?? 1) - 1;
    if (left === 0) this.perConnection.delete(pull.connectionId);
    else this.perConnection.set(pull.connectionId, left);
    this.total -= 1;
    return true;
  }
}

/** The topic of one queue's held pulls (a set is dropped when it empties). */
function topicOf(held: ReadonlySet<HeldPull>): string | undefined {
  for (const pull of held) return pull.topic;
  return undefined;
}

function queueKey(topic: string, queueId: number): string {
  return `${topic}@${queueId}`;
}
