/**
 * The newest committed bytes of each queue, kept in memory so that reads of the tail (consumers
 * keeping up with producers) need no file read. An entry is one committed write batch: the exact
 * log bytes it wrote at [position, position + length) of a segment, and its consume-index entries
 * (numbers [firstEntry, firstEntry + count) of the segment).
 *
 * Every queue's entries live in one ring buffer of `tailCacheTotalBytes`, allocated once and written
 * in the order entries are cached; an entry the ring's write position comes back to is dropped.
 * Each queue also keeps at most `tailCacheBytes`, its oldest entries going first. The ring is what
 * keeps the garbage collector out of it: a fresh buffer per batch lived long enough to be promoted,
 * and the external memory of dropped ones (tens of MB a second under load) then counted towards
 * V8's old-generation limit until a mark-compact freed it, one every 100 ms or so with batch sends.
 * Because the ring's bytes are overwritten, reads return copies. Off by default (`tailCacheTotalBytes`
 * 0): a pull of the tail then reads the page cache inline, which measured at least as fast
 * (docs/storage.md, *Tail cache*).
 */
import { INDEX_ENTRY_SIZE } from './consume-index.js';
import type { Segment } from './segment.js';

interface TailEntry {
  readonly cache: TailCache;
  readonly segment: Segment;
  readonly position: number;
  /** Where the entry starts in the ring: its log bytes, then its index entries. */
  readonly start: number;
  readonly log: Buffer;
  readonly firstEntry: number;
  readonly idx: Buffer;
  /** Neighbours in the store-wide order (a list, so an entry its queue drops leaves it at once). */
  older: TailEntry | undefined;
  newer: TailEntry | undefined;
}

function entrySize(entry: TailEntry): number {
  return entry.log.length + entry.idx.length;
}

/** The store-wide ring and bound: every queue's cached entries, linked in the order they were cached. */
export class TailCacheBudget {
  /** Bytes of the entries held (at most `maxBytes`; less when entries were dropped out of order). */
  bytes = 0;
  /** Entries held, all queues together. */
  entries = 0;
  private oldest: TailEntry | undefined;
  private newest: TailEntry | undefined;
  private ring: Buffer | undefined;
  /** Where the next entry goes in the ring. */
  private head = 0;

  constructor(readonly maxBytes: number) {}

  /**
   * Copies an entry's log bytes (`views`, `length` in all) and index bytes into the ring, dropping
   * the entries they overwrite; returns where it starts. `length + idx.length` is at most `maxBytes`.
   */
  store(views: readonly Buffer[], length: number, idx: Buffer): { ring: Buffer; start: number } {
    const ring = (this.ring ??= Buffer.allocUnsafeSlow(this.maxBytes));
    const size = length + idx.length;
    // Live entries lie in ring order from the oldest to `head`, so the ones in the way are always
    // the oldest. (The store-wide oldest entry is always its own queue's oldest one.)
    if (this.head + size > ring.length) {
      // The end of the ring is skipped: what is left there is older than everything before `head`.
      while (this.oldest && this.oldest.start >= this.head) this.oldest.cache.dropOldest();
      this.head = 0;
    }
    while (this.oldest && this.oldest.start >= this.head && this.oldest.start < this.head + size) this.oldest.cache.dropOldest();
    const start = this.head;
    let at = start;
    for (const view of views) at += view.copy(ring, at);
    idx.copy(ring, at);
    this.head = start + size;
    return { ring, start };
  }

  added(entry: TailEntry): void {
    entry.older = this.newest;
    if (this.newest) this.newest.newer = entry;
    else this.oldest = entry;
    this.newest = entry;
    this.bytes += entrySize(entry);
    this.entries += 1;
  }

  removed(entry: TailEntry): void {
    this.bytes -= entrySize(entry);
    this.entries -= 1;
    if (entry.older) entry.older.newer = entry.newer;
    else this.oldest = entry.newer;
    if (entry.newer) entry.newer.older = entry.older;
    else this.newest = entry.older;
    entry.older = entry.newer = undefined;
  }
}

/** One queue's entries, oldest first. */
export class TailCache {
  private entries: TailEntry[] = [];
  private head = 0;
  private bytes = 0;

  constructor(
    private readonly budget: TailCacheBudget,
    private readonly maxBytes: number,
  ) {}

  /** Caches a committed batch: its log bytes (copied from `views`, `length` in all) and its index entries. */
  add(segment: Segment, position: number, views: readonly Buffer[], length: number, firstEntry: number, idx: Buffer): void {
    // A batch of no records (a bare segment header) is never read.
    if (idx.length === 0 || length + idx.length > Math.min(this.maxBytes, this.budget.maxBytes)) return;
    const { ring, start } = this.budget.store(views, length, idx);
    const log = ring.subarray(start, start + length);
    const cachedIdx = ring.subarray(start + length, start + length + idx.length);
    const entry: TailEntry = { cache: this, segment, position, start, log, firstEntry, idx: cachedIdx, older: undefined, newer: undefined };
    this.entries.push(entry);
    this.bytes += entrySize(entry);
    while (this.bytes > this.maxBytes) this.dropOldest();
    this.budget.added(entry);
  }

  dropOldest(): void {
    const entry = this.entries[this.head];
    if (!entry) return;
    this.entries[this.head++] = undefined as unknown as TailEntry;
    this.bytes -= entrySize(entry);
    this.budget.removed(entry);
    if (this.head === this.entries.length) {
      this.entries = [];
      this.head = 0;
    } else if (this.head > 256 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  /** Drops the entries of `segment` and of every older one (a segment removed by retention). */
  dropThrough(segment: Segment): void {
    while (this.head < this.entries.length && this.entries[this.head].segment.baseOffset <= segment.baseOffset) this.dropOldest();
  }

  /** Drops everything (a deleted queue). */
  clear(): void {
    while (this.head < this.entries.length) this.dropOldest();
  }

  /** Index of the newest entry of `segment` that starts at or before `position` (by log position), or -1. */
  private find(segment: Segment, key: (entry: TailEntry) => number, value: number): number {
    let low = this.head;
    let high = this.entries.length - 1;
    let found = -1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      const entry = this.entries[mid];
      const before = entry.segment === segment ? key(entry) <= value : entry.segment.baseOffset < segment.baseOffset;
      if (before) {
        found = mid;
        low = mid + 1;
      } else high = mid - 1;
    }
    return found >= 0 && this.entries[found].segment === segment ? found : -1;
  }

  /** A copy of the log bytes [position, position + length) of `segment` when all are cached. */
  readLog(segment: Segment, position: number, length: number): Buffer | undefined {
    let i = this.find(segment, (e) => e.position, position);
    if (i < 0) return undefined;
    const first = this.entries[i];
    const skip = position - first.position;
    if (skip >= first.log.length) return undefined;
    if (skip + length > first.log.length) {
      // Spans entries: all of them must be there, adjacent, before anything is allocated.
      let at = first.log.length - skip;
      for (let j = i + 1; at < length; j++) {
        const next = this.entries[j];
        if (!next || next.segment !== segment || next.position !== position + at) return undefined;
        at += next.log.length;
      }
    }
    const out = Buffer.allocUnsafe(length);
    let at = first.log.copy(out, 0, skip, Math.min(first.log.length, skip + length));
    for (i += 1; at < length; i++) at += this.entries[i].log.copy(out, at, 0, Math.min(this.entries[i].log.length, length - at));
    return out;
  }

  /** Copies index entries [from, from + count) of `segment` into `target` at `targetAt`; false unless all are cached. */
  copyIndex(segment: Segment, target: Buffer, targetAt: number, from: number, count: number): boolean {
    let i = this.find(segment, (e) => e.firstEntry, from);
    if (i < 0) return false;
    let entry = from;
    let at = targetAt;
    const end = from + count;
    while (entry < end) {
      const cached = this.entries[i++];
      if (!cached || cached.segment !== segment) return false;
      const cachedEnd = cached.firstEntry + cached.idx.length / INDEX_ENTRY_SIZE;
      if (cached.firstEntry > entry || cachedEnd <= entry) return false;
      const upto = Math.min(end, cachedEnd);
      cached.idx.copy(target, at, (entry - cached.firstEntry) * INDEX_ENTRY_SIZE, (upto - cached.firstEntry) * INDEX_ENTRY_SIZE);
      at += (upto - entry) * INDEX_ENTRY_SIZE;
      entry = upto;
    }
    return true;
  }
}
