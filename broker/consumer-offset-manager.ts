/**
 * Committed consumer offsets, kept in memory over the MetaStore.
 *
 * Durability rules:
 * - `commit(..., { durable: true })` is in SQLite before it returns.
 * - `commitDurably` (UPDATE_CONSUMER_OFFSET) is in SQLite when its promise resolves: the commits of
 *   one turn of the event loop (a client persists all its queues at once) share one transaction, on
 *   the next turn, instead of one synced SQLite commit each. If that write fails, the entries stay
 *   dirty for the flush loop and the promise rejects. The transaction's disk sync (SYNC_FLUSH:
 *   synchronous=FULL) runs in the threadpool, not on the event loop (`MetaStore.putOffsetsDurably`),
 *   and the promise resolves after it; the flush loop writes the same way.
 * - `commit(..., { durable: false })` (the offset piggybacked on a pull) only marks the entry dirty;
 *   a flush loop writes every dirty entry in one transaction each `flushIntervalMs`, and
 *   `shutdown()` writes the rest. A crash can lose at most the last interval of piggybacked
 *   commits; the consumer then re-reads those messages (at-least-once, as in RocketMQ).
 * - `reset`, `deleteTopic` and `deleteGroup` are durable.
 * - Negative commits are ignored: ali-ons sends -1 for "offset 0" (`offset || -1`).
 * - A commit below the stored offset is accepted, as RocketMQ does, but logged and counted.
 */
import { pino, type Logger } from 'pino';

import { IntervalTask, type Clock } from '../storage/clock.js';
import { checkOffsetEntry } from '../storage/meta-store.js';
import type { ConsumerOffsetEntry, MetaStoreApi } from '../storage/types.js';

export interface ConsumerOffsetManagerOptions {
  /** Longest time a non-durable commit stays only in memory. Default 1000. */
  flushIntervalMs?: number;
  clock?: Clock;
  logger?: Logger;
}

export const CONSUMER_OFFSET_DEFAULTS = {
  flushIntervalMs: 1000,
} as const;

type QueueOffsets = Map<number, number>;

export class ConsumerOffsetManager {
  /** group → topic → queueId → offset: the newest committed values. */
  private readonly offsets = new Map<string, Map<string, QueueOffsets>>();
  /** Committed but not yet in SQLite, keyed by `entryKey`. */
  private readonly dirty = new Map<string, ConsumerOffsetEntry>();
  private readonly flushLoop: IntervalTask;
  private readonly logger: Logger;
  private stopped = false;
  private regressionCount = 0;
  /** The write that `commitDurably` callers of this turn wait for. */
  private pendingWrite: Promise<void> | undefined;
  /** Settles when the newest `flushDurably` write is synced (or failed); undefined when none is in flight. */
  private syncing: Promise<void> | undefined;

  constructor(
    private readonly meta: MetaStoreApi,
    opts: ConsumerOffsetManagerOptions = {},
  ) {
    const flushIntervalMs = opts.flushIntervalMs ?? CONSUMER_OFFSET_DEFAULTS.flushIntervalMs;
    if (!Number.isInteger(flushIntervalMs) || flushIntervalMs <= 0) {
      throw new RangeError(`flushIntervalMs must be a positive integer, got ${flushIntervalMs}`);
    }
    this.logger = opts.logger ?? pino({ level: 'silent' });
    this.flushLoop = new IntervalTask(
      flushIntervalMs,
      async () => {
        const written = await this.flushDurably();
        if (written > 0) this.logger.debug({ written }, 'consumer offsets flushed');
      },
      opts.clock,
      // The entries stay dirty, so nothing is dropped; the next run tries again.
      (err) => this.logger.error({ err }, 'consumer offset flush failed'),
    );
    for (const e of meta.listOffsets()) this.remember(e.group, e.topic, e.queueId, e.offset);
  }

  start(): void {
    this.flushLoop.start();
  }

  /**
   * Stops the flush loop and writes every dirty entry before it returns; the promise settles once a
   * loop run in progress is over. Later commits write through. Idempotent.
   */
  shutdown(): Promise<void> {
    this.stopped = true;
    const stopped = this.flushLoop.shutdown();
    this.flush();
    return stopped;
  }

  /**
   * Records that `group` consumed `topic`/`queueId` up to (not including) `offset`.
   * Returns false when the commit was ignored (negative offset).
   */
  commit(group: string, topic: string, queueId: number, offset: number, opts: { durable: boolean }): boolean {
    if (typeof offset === 'number' && offset < 0) return false;
    const entry = { group, topic, queueId, offset };
    const key = entryKey(group, topic, queueId);
    const current = this.checkCommit(entry);
    if (opts.durable || this.stopped) {
      // Already in SQLite with this value: skip the write (clients re-send unchanged offsets every 5 s),
      // unless a write's sync is in flight (this synced write then covers it).
      if (current === offset && !this.dirty.has(key) && !this.syncing) return true;
      this.meta.putOffsets([entry]);
      this.dirty.delete(key);
    } else if (current !== offset) {
      this.dirty.set(key, entry);
    }
    this.remember(group, topic, queueId, offset);
    return true;
  }

  /**
   * `commit` that resolves once the offset is in SQLite (false: ignored, negative). Visible to
   * `query` at once, like a piggybacked commit.
   */
  commitDurably(group: string, topic: string, queueId: number, offset: number): Promise<boolean> {
    if (this.stopped || (typeof offset === 'number' && offset < 0)) {
      return Promise.resolve(this.commit(group, topic, queueId, offset, { durable: true }));
    }
    const entry = { group, topic, queueId, offset };
    const key = entryKey(group, topic, queueId);
    const current = this.checkCommit(entry);
    // Already in SQLite with this value: nothing to write (clients re-send unchanged offsets every 5 s).
    // While a write's sync is in flight the value may not be durable yet: wait for it, then look again.
    if (current === offset && !this.dirty.has(key)) {
      return this.syncing ? this.syncing.then(() => this.commitDurably(group, topic, queueId, offset)) : Promise.resolve(true);
    }
    this.dirty.set(key, entry);
    this.remember(group, topic, queueId, offset);
    this.pendingWrite ??= new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        this.pendingWrite = undefined;
        this.flushDurably().then(() => resolve(), reject);
      });
    });
    return this.pendingWrite.then(() => true);
  }

  /** Validates a commit and logs a backwards one; returns the current offset. */
  private checkCommit(entry: ConsumerOffsetEntry): number | undefined {
    checkOffsetEntry(entry, 'commit');
    const { group, topic, queueId, offset } = entry;
    const current = this.query(group, topic, queueId);
    if (current !== undefined && offset < current) {
      this.regressionCount++;
      this.logger.info({ group, topic, queueId, offset, current }, 'consumer offset moved backwards');
    }
    return current;
  }

  /** The committed offset, or undefined when the group never committed one for this queue. */
  query(group: string, topic: string, queueId: number): number | undefined {
    return this.offsets.get(group)?.get(topic)?.get(queueId);
  }

  /**
   * Admin reset: sets the given queues' offsets in one durable write, backwards too. Pending
   * piggybacked commits for those queues are dropped so the flush cannot undo the reset.
   */
  reset(group: string, topic: string, queues: readonly { queueId: number; offset: number }[]): void {
    const entries = queues.map(({ queueId, offset }, i) => {
      const entry = { group, topic, queueId, offset };
      checkOffsetEntry(entry, `reset[${i}]`);
      return entry;
    });
    this.meta.putOffsets(entries);
    for (const e of entries) {
      this.dirty.delete(entryKey(e.group, e.topic, e.queueId));
      this.remember(e.group, e.topic, e.queueId, e.offset);
    }
  }

  /** Offsets of one group, ordered by (topic, queueId). */
  listByGroup(group: string): ConsumerOffsetEntry[] {
    const out: ConsumerOffsetEntry[] = [];
    for (const [topic, queues] of this.offsets.get(group) ?? []) {
      for (const [queueId, offset] of queues) out.push({ group, topic, queueId, offset });
    }
    return out.sort((a, b) => compareText(a.topic, b.topic) || a.queueId - b.queueId);
  }

  /** Offsets of every group on one topic, ordered by (group, queueId). */
  listByTopic(topic: string): ConsumerOffsetEntry[] {
    const out: ConsumerOffsetEntry[] = [];
    for (const [group, topics] of this.offsets) {
      for (const [queueId, offset] of topics.get(topic) ?? []) out.push({ group, topic, queueId, offset });
    }
    return out.sort((a, b) => compareText(a.group, b.group) || a.queueId - b.queueId);
  }

  deleteTopic(topic: string): void {
    this.meta.deleteOffsets({ topic });
    for (const [group, topics] of this.offsets) {
      topics.delete(topic);
      if (topics.size === 0) this.offsets.delete(group);
    }
    for (const [key, e] of this.dirty) if (e.topic === topic) this.dirty.delete(key);
  }

  deleteGroup(group: string): void {
    this.meta.deleteOffsets({ group });
    this.offsets.delete(group);
    for (const [key, e] of this.dirty) if (e.group === group) this.dirty.delete(key);
  }

  /**
   * `flush` whose disk sync runs off the event loop (`MetaStore.putOffsetsDurably`): resolves
   * with how many entries were written once they are durable. If the commit or the sync fails,
   * the entries are dirty again (unless a newer commit replaced them) and the promise rejects.
   */
  async flushDurably(): Promise<number> {
    if (this.dirty.size === 0) return 0;
    const batch = [...this.dirty.values()];
    this.dirty.clear();
    let written: Promise<void>;
    try {
      written = this.meta.putOffsetsDurably(batch);
    } catch (err) {
      written = Promise.reject(err as Error);
    }
    // A sync that starts later covers the frames of every earlier commit: waiting for the newest is enough.
    const settled = written.then(
      () => undefined,
      () => undefined,
    );
    this.syncing = settled;
    void settled.then(() => {
      if (this.syncing === settled) this.syncing = undefined;
    });
    try {
      await written;
    } catch (err) {
      for (const e of batch) {
        const key = entryKey(e.group, e.topic, e.queueId);
        if (!this.dirty.has(key)) this.dirty.set(key, e);
      }
      throw err;
    }
    return batch.length;
  }

  /** Writes every dirty entry in one transaction; returns how many. On error they stay dirty. */
  flush(): number {
    if (this.dirty.size === 0) return 0;
    const batch = [...this.dirty.values()];
    this.meta.putOffsets(batch);
    this.dirty.clear();
    return batch.length;
  }

  stats(): { dirty: number; regressions: number } {
    return { dirty: this.dirty.size, regressions: this.regressionCount };
  }

  private remember(group: string, topic: string, queueId: number, offset: number): void {
    let topics = this.offsets.get(group);
    if (!topics) this.offsets.set(group, (topics = new Map()));
    let queues = topics.get(topic);
    if (!queues) topics.set(topic, (queues = new Map()));
    queues.set(queueId, offset);
  }
}

/** Group and topic names never contain NUL (RocketMQ allows `[%|a-zA-Z0-9_-]`). */
function entryKey(group: string, topic: string, queueId: number): string {
  return `${group}\0${topic}\0${queueId}`;
}

/** Code-unit order: for the ASCII names RocketMQ allows, the same as MetaStore.listOffsets (SQLite BINARY). */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
