/**
 * Time as a dependency: every periodic `...Service` (storage, broker and client SDK) takes a `Clock`
 * so tests can drive its timers by hand, and runs its loop through `IntervalTask`.
 * Dependency-free on purpose: the client SDK imports it too.
 */

/** Opaque: whatever `Clock.setTimeout` returned, only ever handed back to `Clock.clearTimeout`. */
export type TimerHandle = unknown;

export interface Clock {
  now(): number;
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, delayMs) => {
    const timer = setTimeout(callback, delayMs);
    // A background timer never keeps the process alive on its own.
    timer.unref();
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** A manual clock for tests: time moves only through `advance`, which fires due timers in order. */
export class FakeClock implements Clock {
  private current: number;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; callback: () => void }>();

  constructor(start = 1_700_000_000_000) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { at: this.current + Math.max(0, delayMs), callback });
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    const id = (handle as { id?: number } | undefined)?.id;
    if (id !== undefined) this.timers.delete(id);
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      let dueId: number | undefined;
      let dueAt = Infinity;
      for (const [id, timer] of this.timers) {
        if (timer.at <= target && timer.at < dueAt) {
          dueAt = timer.at;
          dueId = id;
        }
      }
      if (dueId === undefined) break;
      const timer = this.timers.get(dueId)!;
      this.timers.delete(dueId);
      this.current = Math.max(this.current, timer.at);
      timer.callback();
    }
    this.current = target;
  }

  pendingTimers(): number {
    return this.timers.size;
  }
}

/**
 * Runs `task` every `intervalMs` between `start()` and `shutdown()`. Runs never overlap: the next
 * interval is timed from the end of the previous run, and `runNow` queues behind a run in progress.
 * A failed run goes to `onError` and the loop goes on.
 */
export class IntervalTask {
  private handle: TimerHandle | undefined;
  private stopped = true;
  private tail: Promise<void> = Promise.resolve();

  constructor(
    private readonly intervalMs: number,
    private readonly task: () => Promise<unknown> | void,
    private readonly clock: Clock = systemClock,
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule();
  }

  /** Runs the task now, queued behind a run in progress (e.g. "rebalance on notify"); never rejects. */
  runNow(): Promise<void> {
    const run = this.tail.then(async () => {
      try {
        await this.task();
      } catch (error) {
        this.onError(error);
      }
    });
    this.tail = run;
    return run;
  }

  /** Stops the timer and waits for a run in progress; no further run starts. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    if (this.handle !== undefined) this.clock.clearTimeout(this.handle);
    this.handle = undefined;
    await this.tail;
  }

  private schedule(): void {
    // A restart while a run was in flight has already scheduled the next one.
    if (this.stopped || this.handle !== undefined) return;
    this.handle = this.clock.setTimeout(() => {
      this.handle = undefined;
      void this.runNow().finally(() => this.schedule());
    }, this.intervalMs);
  }
}
