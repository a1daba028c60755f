import { describe, expect, it } from 'vitest';
import { FakeClock, IntervalTask } from '../../storage/clock.js';
import { settle } from '../helpers/common.js';

describe('FakeClock', () => {
  it('fires due timers in time order, with now() at each timer time', () => {
    const clock = new FakeClock(1_000);
    const fired: [string, number][] = [];
    clock.setTimeout(() => fired.push(['b', clock.now()]), 200);
    clock.setTimeout(() => fired.push(['a', clock.now()]), 100);
    const cancelled = clock.setTimeout(() => fired.push(['c', clock.now()]), 50);
    clock.clearTimeout(cancelled);
    clock.advance(150);
    expect(fired).toEqual([['a', 1_100]]);
    clock.advance(100);
    expect(fired).toEqual([['a', 1_100], ['b', 1_200]]);
    expect(clock.now()).toBe(1_250);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('ignores clearing a handle it never gave out', () => {
    const clock = new FakeClock();
    expect(() => clock.clearTimeout(undefined)).not.toThrow();
  });
});

describe('IntervalTask', () => {
  it('runs every interval once started, and not before', async () => {
    const clock = new FakeClock();
    let runs = 0;
    const task = new IntervalTask(100, () => { runs++; }, clock);
    clock.advance(500);
    expect(runs).toBe(0);
    task.start();
    clock.advance(99);
    await settle();
    expect(runs).toBe(0);
    for (let i = 1; i <= 3; i++) {
      clock.advance(100);
      await settle();
      expect(runs).toBe(i);
    }
    await task.shutdown();
  });

  it('times the next run from the end of a slow run, so runs never overlap', async () => {
    const clock = new FakeClock();
    let active = 0;
    let maxActive = 0;
    let finish: () => void = () => {};
    const task = new IntervalTask(100, async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      await new Promise<void>((resolve) => (finish = resolve));
      active--;
    }, clock);
    task.start();
    clock.advance(100);
    await settle();
    expect(active).toBe(1);
    expect(clock.pendingTimers()).toBe(0); // nothing scheduled while the run is in progress
    clock.advance(1_000);
    void task.runNow(); // queued behind the slow run
    await settle();
    expect(active).toBe(1);
    finish();
    await settle();
    finish();
    await settle();
    expect(maxActive).toBe(1);
    expect(clock.pendingTimers()).toBe(1);
    await task.shutdown();
  });

  it('reports a failed run to onError and keeps going', async () => {
    const clock = new FakeClock();
    const errors: unknown[] = [];
    let runs = 0;
    const task = new IntervalTask(100, () => {
      runs++;
      if (runs === 1) throw new Error('boom');
    }, clock, (error) => errors.push(error));
    task.start();
    clock.advance(100);
    await settle();
    clock.advance(100);
    await settle();
    expect(runs).toBe(2);
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe('boom');
    await expect(task.runNow()).resolves.toBeUndefined();
    await task.shutdown();
  });

  it('shutdown waits for the run in progress and cancels the timer', async () => {
    const clock = new FakeClock();
    let finish: () => void = () => {};
    let done = false;
    const task = new IntervalTask(100, async () => {
      await new Promise<void>((resolve) => (finish = resolve));
      done = true;
    }, clock);
    task.start();
    clock.advance(100);
    await settle();
    let stopped = false;
    const shutdown = task.shutdown().then(() => (stopped = true));
    await settle();
    expect(stopped).toBe(false);
    finish();
    await shutdown;
    expect(done).toBe(true);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('shutdown before start and a second start are harmless', async () => {
    const clock = new FakeClock();
    const task = new IntervalTask(100, () => {}, clock);
    await task.shutdown();
    task.start();
    task.start();
    expect(clock.pendingTimers()).toBe(1);
    await task.shutdown();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('a restart while a run is in flight leaves exactly one timer', async () => {
    const clock = new FakeClock();
    let finish: () => void = () => {};
    const task = new IntervalTask(100, () => new Promise<void>((resolve) => (finish = resolve)), clock);
    task.start();
    clock.advance(100);
    await settle();
    const shutdown = task.shutdown();
    task.start();
    finish();
    await shutdown;
    await settle();
    expect(clock.pendingTimers()).toBe(1);
    await task.shutdown();
  });
});
