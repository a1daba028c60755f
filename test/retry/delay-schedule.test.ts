import { describe, expect, it } from 'vitest';
import { DEFAULT_DELAY_LEVELS, TEST_DELAY_LEVELS, parseDelaySchedule } from '../../broker/delay/delay-schedule.js';

describe('parseDelaySchedule', () => {
  it('parses the RocketMQ default table into 18 levels', () => {
    const schedule = parseDelaySchedule(DEFAULT_DELAY_LEVELS);
    expect(schedule.maxLevel).toBe(18);
    expect(schedule.delayMs(1)).toBe(1000);
    expect(schedule.delayMs(3)).toBe(10_000);
    expect(schedule.delayMs(5)).toBe(60_000);
    expect(schedule.delayMs(17)).toBe(3_600_000);
    expect(schedule.delayMs(18)).toBe(7_200_000);
  });

  it('clamps levels above the last one to it, and below 1 to 1', () => {
    const schedule = parseDelaySchedule('1s 2s 3s');
    expect(schedule.clampLevel(99)).toBe(3);
    expect(schedule.delayMs(99)).toBe(3000);
    expect(schedule.clampLevel(0)).toBe(1);
  });

  it('accepts ms, s, m, h and d units and extra whitespace', () => {
    const schedule = parseDelaySchedule('  250ms\t2s 3m  1h 1d ');
    expect([1, 2, 3, 4, 5].map((l) => schedule.delayMs(l))).toEqual([250, 2000, 180_000, 3_600_000, 86_400_000]);
  });

  it('has a short, strictly increasing test profile of 18 levels', () => {
    const schedule = parseDelaySchedule(TEST_DELAY_LEVELS);
    expect(schedule.maxLevel).toBe(18);
    for (let level = 2; level <= 18; level++) expect(schedule.delayMs(level)).toBeGreaterThan(schedule.delayMs(level - 1));
    expect(schedule.delayMs(18)).toBeLessThan(1000);
  });

  it.each(['', '   ', '5', '1x', '1.5s', '-1s', '0s', '1s two'])('rejects %j with a RangeError naming the problem', (text) => {
    expect(() => parseDelaySchedule(text)).toThrow(RangeError);
  });
});
