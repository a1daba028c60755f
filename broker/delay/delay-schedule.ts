/**
 * Delay levels: level n (1-based) waits `delayMs(n)` before its message is delivered. The table is
 * RocketMQ's `messageDelayLevel` string, e.g. `1s 5s 10s 30s 1m ...`; units ms, s, m, h, d.
 * Levels above the last one clamp to it, as in RocketMQ (a client may ask for level 99).
 */

export interface DelaySchedule {
  /** Number of levels; level 1..maxLevel are valid. */
  readonly maxLevel: number;
  /** Delay of `level` in ms, after clamping it to 1..maxLevel. */
  delayMs(level: number): number;
  /** `level` clamped to 1..maxLevel. */
  clampLevel(level: number): number;
}

/** RocketMQ's default table (`MessageStoreConfig.messageDelayLevel`). */
export const DEFAULT_DELAY_LEVELS = '1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h';

/**
 * 18 short levels for tests: 100 ms, 120 ms, ... 440 ms. Strictly increasing, so a retry chain
 * (levels 3..18) shows growing gaps while 16 retries still fit in a few seconds.
 */
export const TEST_DELAY_LEVELS = Array.from({ length: 18 }, (_, i) => `${100 + 20 * i}ms`).join(' ');

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

class TableDelaySchedule implements DelaySchedule {
  readonly maxLevel: number;

  constructor(private readonly delays: readonly number[]) {
    this.maxLevel = delays.length;
  }

  clampLevel(level: number): number {
    return Math.min(Math.max(Math.trunc(level), 1), this.maxLevel);
  }

  delayMs(level: number): number {
    return this.delays[this.clampLevel(level) - 1];
  }
}

/** Parses a level table; throws a RangeError naming the bad token. */
export function parseDelaySchedule(text: string): DelaySchedule {
  const tokens = text.trim().split(/\s+/).filter((t) => t.length > 0);
  if (tokens.length === 0) throw new RangeError('delay levels: the table is empty');
  const delays = tokens.map((token) => {
    const match = /^(\d+)(ms|s|m|h|d)$/.exec(token);
    if (!match) throw new RangeError(`delay levels: "${token}" is not <number><ms|s|m|h|d>`);
    const ms = Number(match[1]) * UNIT_MS[match[2]];
    if (ms <= 0 || !Number.isSafeInteger(ms)) throw new RangeError(`delay levels: "${token}" must be > 0`);
    return ms;
  });
  return new TableDelaySchedule(delays);
}
