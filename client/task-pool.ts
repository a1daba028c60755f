/**
 * Runs queued tasks with at most `concurrency` running at once, in submission order: the
 * consumer's "consume threads". `drain()` waits for running tasks and can drop the queued ones
 * (shutdown: messages not started are redelivered later, their offsets were never committed).
 */
export class TaskPool {
  private readonly queue: Array<{ start: () => Promise<void>; cancel: () => void }> = [];
  private running = 0;
  private readonly idleWaiters: Array<() => void> = [];

  constructor(private readonly concurrency: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  }

  submit(task: () => Promise<void>): void {
    this.queue.push({ start: task, cancel: () => {} });
    this.pump();
  }

  /**
   * Runs `task` in a slot and resolves with its result (orderly consumption waits for its batch).
   * Rejects with `TaskCancelledError` if the pool drops it before it starts.
   */
  run<T>(task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ start: () => task().then(resolve, reject), cancel: () => reject(new TaskCancelledError()) });
      this.pump();
    });
  }

  /** Resolves when nothing runs; with `dropQueued`, tasks not started are discarded first. */
  async drain(dropQueued: boolean): Promise<void> {
    if (dropQueued) for (const dropped of this.queue.splice(0)) dropped.cancel();
    if (this.running === 0 && this.queue.length === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (this.running < this.concurrency && this.queue.length > 0) {
      const task = this.queue.shift()!;
      this.running++;
      void task
        .start()
        .catch(() => {})
        .finally(() => {
          this.running--;
          this.pump();
          if (this.running === 0 && this.queue.length === 0) for (const wake of this.idleWaiters.splice(0)) wake();
        });
    }
  }
}

export class TaskCancelledError extends Error {
  constructor() {
    super('task dropped before it started (the consumer is shutting down)');
    this.name = 'TaskCancelledError';
  }
}
