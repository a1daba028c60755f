/**
 * Counts deliveries of a message already delivered to this consumer, inside a bounded window
 * of recent ids (oldest forgotten first). At-least-once delivery makes duplicates normal after
 * a rebalance or a crash; the count tells the user how often idempotency mattered.
 */
export class DuplicateCounter {
  private readonly seen = new Set<string>();
  private duplicates = 0;

  constructor(readonly windowSize = 10_000) {
    if (!Number.isInteger(windowSize) || windowSize < 1) throw new RangeError(`duplicate window must be a positive integer, got ${windowSize}`);
  }

  /** Records one delivery; returns true if the id was already in the window. */
  record(id: string): boolean {
    if (this.seen.has(id)) {
      this.duplicates++;
      return true;
    }
    this.seen.add(id);
    if (this.seen.size > this.windowSize) {
      for (const oldest of this.seen) {
        this.seen.delete(oldest);
        break;
      }
    }
    return false;
  }

  get count(): number {
    return this.duplicates;
  }
}
