/**
 * How many segment file pairs the store may keep open. Each open segment holds two descriptors
 * (.log and .idx); a queue being written keeps its active segment open, so with more written queues
 * than open pairs every write closes and reopens files. The process's soft RLIMIT_NOFILE bounds
 * what is possible: three quarters of it go to segments, the rest stays for sockets, SQLite and the
 * key index.
 */
import { readFileSync } from 'node:fs';

/** Fewest pairs the store keeps open, whatever the limit says. */
const MIN_OPEN_SEGMENTS = 16;

/** The soft limit on open files (Linux /proc/self/limits); undefined when unknown or unlimited. */
export function openFileLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = Number(line?.slice('Max open files'.length).trim().split(/\s+/)[0]);
    return Number.isSafeInteger(soft) && soft > 0 ? soft : undefined;
  } catch {
    return undefined;
  }
}

/** `maxOpenSegments` as configured, capped to what `fileLimit` leaves room for. */
export function segmentHandleBudget(maxOpenSegments: number, fileLimit: number | undefined): number {
  if (fileLimit === undefined) return maxOpenSegments;
  return Math.min(maxOpenSegments, Math.max(MIN_OPEN_SEGMENTS, Math.floor((fileLimit * 3) / 8)));
}
