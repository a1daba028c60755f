/**
 * Local state of one assigned queue: the messages pulled but not yet consumed, in queue-offset
 * order. It answers the one question offsets depend on: "what is the lowest unconsumed offset?".
 * Messages arrive from pulls in ascending offset order, so a Map (insertion-ordered) keeps the
 * lowest pending offset first without a tree.
 */
export interface QueuedMessage {
  queueOffset: number;
  body: Buffer;
}

export class ProcessQueue<M extends QueuedMessage = QueuedMessage> {
  private readonly pending = new Map<number, M>();
  /** Orderly mode: messages handed to the listener and not yet committed, in order. */
  private readonly taken = new Map<number, M>();
  private highestOffset = -1;
  private bytes = 0;
  /** Set when the queue is no longer ours (rebalance) or the consumer shuts down. */
  dropped = false;
  /** Orderly mode: the broker lock is held and its lease has not run out. */
  locked = false;
  lastLockTimestamp = 0;
  /** Orderly mode: no delivery before this time after a failed batch. */
  suspendedUntil = 0;

  /** Adds pulled messages; returns how many were new (an offset at or below one already seen is ignored). */
  add(messages: readonly M[]): number {
    let added = 0;
    for (const msg of messages) {
      if (msg.queueOffset <= this.highestOffset) continue;
      this.pending.set(msg.queueOffset, msg);
      this.bytes += msg.body.length;
      this.highestOffset = Math.max(this.highestOffset, msg.queueOffset);
      added++;
    }
    return added;
  }

  /**
   * Marks messages consumed; returns the offset to commit: the lowest offset still pending,
   * or one past the highest offset seen when nothing is pending. -1 if nothing was ever added.
   */
  remove(messages: readonly M[]): number {
    for (const msg of messages) {
      const held = this.pending.get(msg.queueOffset);
      if (!held) continue;
      this.pending.delete(msg.queueOffset);
      this.bytes -= held.body.length;
    }
    return this.committableOffset();
  }

  committableOffset(): number {
    if (this.highestOffset < 0) return -1;
    for (const offset of this.taken.keys()) return offset;
    for (const offset of this.pending.keys()) return offset;
    return this.highestOffset + 1;
  }

  /** Orderly mode: takes up to `max` messages in offset order for one listener call. */
  take(max: number): M[] {
    const batch: M[] = [];
    for (const [offset, msg] of this.pending) {
      if (batch.length >= max) break;
      batch.push(msg);
      this.pending.delete(offset);
      this.taken.set(offset, msg);
    }
    return batch;
  }

  /** Orderly mode: the taken batch succeeded; returns the offset to commit. */
  commitTaken(): number {
    for (const msg of this.taken.values()) this.bytes -= msg.body.length;
    this.taken.clear();
    return this.committableOffset();
  }

  /** Orderly mode: the taken batch failed; put it back in front so it is delivered again, in order. */
  returnTaken(): void {
    if (this.taken.size === 0) return;
    const rest = [...this.pending];
    this.pending.clear();
    for (const [offset, msg] of this.taken) this.pending.set(offset, msg);
    for (const [offset, msg] of rest) this.pending.set(offset, msg);
    this.taken.clear();
  }

  /** Messages held locally, in flight included: the flow-control measure. */
  get count(): number {
    return this.pending.size + this.taken.size;
  }

  get byteSize(): number {
    return this.bytes;
  }

  /** Span between the lowest and highest held offsets (Java's consumeConcurrentlyMaxSpan check). */
  get span(): number {
    const low = this.committableOffset();
    return this.count === 0 || low < 0 ? 0 : this.highestOffset - low;
  }

  /** Drops all held messages (queue lost to another consumer, or a seek). */
  clear(): void {
    this.pending.clear();
    this.taken.clear();
    this.bytes = 0;
    this.highestOffset = -1;
  }
}
