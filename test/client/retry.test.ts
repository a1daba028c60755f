import { describe, expect, it } from 'vitest';
import { backoffDelay, continueRetry, retry } from '../../client/retry.js';

describe('backoffDelay', () => {
  const options = { initialDelayMs: 100, maxDelayMs: 1_000, factor: 2, jitter: 0.5 };

  it('grows exponentially up to the cap without jitter', () => {
    const noJitter = { ...options, jitter: 0 };
    expect([0, 1, 2, 3, 4, 5].map((a) => backoffDelay(a, noJitter))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });

  it('subtracts at most the jitter fraction', () => {
    expect(backoffDelay(2, options, () => 0)).toBe(400);
    expect(backoffDelay(2, options, () => 0.999999)).toBe(200);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(3, options);
      expect(d).toBeGreaterThanOrEqual(400);
      expect(d).toBeLessThanOrEqual(800);
    }
  });
});

describe('retry', () => {
  const noSleep = { sleep: async () => {}, initialDelayMs: 1 };

  it('retries until success and reports each wait', async () => {
    const waits: number[] = [];
    let calls = 0;
    const value = await retry(
      async (attempt) => {
        calls++;
        if (attempt < 2) throw new Error(`fail ${attempt}`);
        return 'ok';
      },
      { retries: 5, ...noSleep, onRetry: (_e, attempt) => waits.push(attempt) },
    );
    expect(value).toBe('ok');
    expect(calls).toBe(3);
    expect(waits).toEqual([0, 1]);
  });

  it('rethrows the last error after the retries', async () => {
    let calls = 0;
    await expect(retry(async (a) => { calls++; throw new Error(`e${a}`); }, { retries: 2, ...noSleep })).rejects.toThrow('e2');
    expect(calls).toBe(3);
  });

  it('does not retry programmer errors or errors the caller refuses', async () => {
    let calls = 0;
    await expect(retry(async () => { calls++; throw new TypeError('bug'); }, { retries: 3, ...noSleep })).rejects.toThrow(TypeError);
    expect(calls).toBe(1);
    await expect(retry(async () => { calls++; throw new Error('fatal'); }, { retries: 3, ...noSleep, shouldRetry: () => false })).rejects.toThrow('fatal');
    expect(calls).toBe(2);
  });

  it('waits the backoff delays', async () => {
    const slept: number[] = [];
    await expect(
      retry(async () => { throw new Error('x'); }, { retries: 3, initialDelayMs: 10, factor: 3, maxDelayMs: 50, jitter: 0, sleep: async (ms) => { slept.push(ms); } }),
    ).rejects.toThrow('x');
    expect(slept).toEqual([10, 30, 50]);
  });
});

describe('continueRetry', () => {
  const noSleep = { sleep: async () => {}, initialDelayMs: 1 };

  it('goes on from attempt 1 after a failed attempt 0, reporting the waits retry would', async () => {
    const attempts: number[] = [];
    const waits: number[] = [];
    const value = await continueRetry(
      new Error('first'),
      async (attempt) => {
        attempts.push(attempt);
        if (attempt < 2) throw new Error(`fail ${attempt}`);
        return 'ok';
      },
      { retries: 5, ...noSleep, onRetry: (_e, attempt) => waits.push(attempt) },
    );
    expect(value).toBe('ok');
    expect(attempts).toEqual([1, 2]);
    expect(waits).toEqual([0, 1]);
  });

  it('rethrows the first error at once when there are no retries or it is not retriable', async () => {
    let calls = 0;
    const fn = async () => { calls++; return 'never'; };
    await expect(continueRetry(new Error('no retries'), fn, { retries: 0, ...noSleep })).rejects.toThrow('no retries');
    await expect(continueRetry(new RangeError('bug'), fn, { retries: 3, ...noSleep })).rejects.toThrow(RangeError);
    await expect(continueRetry(new Error('refused'), fn, { retries: 3, ...noSleep, shouldRetry: () => false })).rejects.toThrow('refused');
    expect(calls).toBe(0);
  });

  it('matches retry: same attempts, waits and final error', async () => {
    const run = async (start: (fn: (attempt: number) => Promise<never>, options: Parameters<typeof retry>[1]) => Promise<unknown>) => {
      const slept: number[] = [];
      const attempts: number[] = [];
      const fn = async (attempt: number): Promise<never> => { attempts.push(attempt); throw new Error(`e${attempt}`); };
      const error = await start(fn, { retries: 3, initialDelayMs: 10, factor: 3, maxDelayMs: 50, jitter: 0.5, random: () => 0.5, sleep: async (ms) => { slept.push(ms); } }).catch((e: Error) => e.message);
      return { slept, attempts, error };
    };
    const viaRetry = await run((fn, options) => retry(fn, options));
    const viaContinue = await run(async (fn, options) => {
      try {
        return await fn(0);
      } catch (error) {
        return continueRetry(error, fn, options);
      }
    });
    expect(viaContinue).toEqual(viaRetry);
    expect(viaRetry).toEqual({ slept: [8, 23, 38], attempts: [0, 1, 2, 3], error: 'e3' });
  });
});
