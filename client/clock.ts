/** Time source injected into every client service so tests can drive intervals deterministically. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const handle = setTimeout(fn, ms);
    handle.unref?.();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * Runs `task` every `intervalMs` until `stop()`; a run never overlaps the previous one.
 * The base of every periodic `...Service` in the client.
 */
export class IntervalTask {
  private handle: unknown;
  private stopped = true;
  private tail: Promise<void> = Promise.resolve();

  constructor(
    private readonly intervalMs: number,
    private readonly task: () => Promise<void> | void,
    private readonly clock: Clock = systemClock,
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule();
  }

  /** Runs the task now, queued behind a run in progress; used for "rebalance on notify". */
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

  async shutdown(): Promise<void> {
    this.stopped = true;
    this.clock.clearTimeout(this.handle);
    await this.tail;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.handle = this.clock.setTimeout(() => {
      void this.runNow().finally(() => this.schedule());
    }, this.intervalMs);
  }
}
