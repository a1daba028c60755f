/**
 * The newest committed bytes of each queue, kept in memory so that reads of the tail (consumers
 * keeping up with producers) need no file read. An entry is one committed write batch: the exact
 * log bytes it wrote at [position, position + length) of a segment, and its consume-index entries
 * (numbers [firstEntry, firstEntry + count) of the segment), neither ever changed once cached.
 * Each queue keeps at most `tailCacheBytes`; all queues together at most `tailCacheTotalBytes`,
 * the oldest entries store-wide going first. A read served from here returns views of the cached
 * bytes; callers only read them.
 */
import { INDEX_ENTRY_SIZE } from './consume-index.js';
import type { Segment } from './segment.js';

interface TailEntry {
  readonly cache: TailCache;
  readonly segment: Segment;
  readonly position: number;
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

/** The store-wide bound: every queue's cached entries, linked in the order they were cached. */
export class TailCacheBudget {
  bytes = 0;
  /** Entries held, all queues together. */
  entries = 0;
  private oldest: TailEntry | undefined;
  private newest: TailEntry | undefined;

  constructor(readonly maxBytes: number) {}

  added(entry: TailEntry): void {
    entry.older = this.newest;
    if (this.newest) this.newest.newer = entry;
    else this.oldest = entry;
    this.newest = entry;
    this.bytes += entrySize(entry);
    this.entries += 1;
    // The store-wide oldest entry is always its own queue's oldest one.
    while (this.bytes > this.maxBytes && this.oldest) this.oldest.cache.dropOldest();
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
    const log = Buffer.allocUnsafeSlow(length);
    let at = 0;
    for (const view of views) at += view.copy(log, at);
    const entry: TailEntry = { cache: this, segment, position, log, firstEntry, idx, older: undefined, newer: undefined };
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

  /** The log bytes [position, position + length) of `segment` when all are cached: a view when they lie in one entry. */
  readLog(segment: Segment, position: number, length: number): Buffer | undefined {
    let i = this.find(segment, (e) => e.position, position);
    if (i < 0) return undefined;
    const first = this.entries[i];
    const skip = position - first.position;
    if (skip + length <= first.log.length) return first.log.subarray(skip, skip + length);
    if (skip >= first.log.length) return undefined;
    const out = Buffer.allocUnsafe(length);
    let at = first.log.copy(out, 0, skip);
    for (i += 1; at < length; i++) {
      const next = this.entries[i];
      if (!next || next.segment !== segment || next.position !== position + at) return undefined;
      at += next.log.copy(out, at, 0, Math.min(next.log.length, length - at));
    }
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
