/**
 * The one retry helper of the SDK: exponential backoff with full jitter.
 * Used for reconnects, sends to another queue and pull-loop error pauses, so every
 * wait in the client follows the same policy and is configurable in one place.
 */

export interface BackoffOptions {
  /** Delay before the first retry. */
  initialDelayMs: number;
  /** Upper bound of any single delay. */
  maxDelayMs: number;
  /** Growth per attempt. */
  factor: number;
  /** 0 = no jitter, 1 = delay drawn uniformly from [0, computed]; in between scales the random part. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialDelayMs: 100, maxDelayMs: 10_000, factor: 2, jitter: 0.5 };

/** Between failed pulls of one queue: quick at first, never more than 3 s apart. */
export const PULL_FAILURE_BACKOFF: BackoffOptions = { initialDelayMs: 100, maxDelayMs: 3_000, factor: 2, jitter: 0.3 };

/** Delay before retry number `attempt` (0-based). `random` is injectable for deterministic tests. */
export function backoffDelay(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const exponential = Math.min(options.maxDelayMs, options.initialDelayMs * Math.pow(options.factor, Math.max(0, attempt)));
  const jitterPart = exponential * options.jitter * random();
  return Math.max(0, Math.round(exponential - jitterPart));
}

export interface RetryOptions extends Partial<BackoffOptions> {
  /** Retries after the first attempt; 0 means "try once". */
  retries: number;
  /** Return false to fail at once (e.g. a programmer error or a non-retriable broker code). */
  shouldRetry?: (error: unknown, attempt: number) => boolean;
  /** Called before each wait; lets callers log or pick another target. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `fn(attempt)` until it resolves or the retries are used up; rethrows the last error. */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  try {
    return await fn(0);
  } catch (error) {
    return continueRetry(error, fn, options);
  }
}

/**
 * `retry` after attempt 0 failed with `error`: waits, then runs `fn(1)`, `fn(2)`, … exactly as
 * `retry` would. For hot paths that run the first attempt themselves, so a call that succeeds at
 * once (every send, nearly) builds no closures or options.
 */
export async function continueRetry<T>(error: unknown, fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  let backoff: BackoffOptions | undefined;
  for (let attempt = 0; ; attempt++) {
    if (attempt >= options.retries || isProgrammerError(error) || options.shouldRetry?.(error, attempt) === false) throw error;
    backoff ??= { ...DEFAULT_BACKOFF, ...options };
    const delayMs = backoffDelay(attempt, backoff, options.random);
    options.onRetry?.(error, attempt, delayMs);
    if (delayMs > 0) await (options.sleep ?? sleep)(delayMs);
    try {
      return await fn(attempt + 1);
    } catch (next) {
      error = next;
    }
  }
}

function isProgrammerError(error: unknown): boolean {
  return error instanceof TypeError || error instanceof RangeError || error instanceof SyntaxError;
}
