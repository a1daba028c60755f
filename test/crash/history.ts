/**
 * Crash-run history as JSON lines, one event per line (OpenMessaging-Chaos / Jepsen style):
 *
 *   {"op":"send","phase":"invoke","id":"p0-17","key":"k3","t":1234.5}
 *   {"op":"send","phase":"ok","id":"p0-17","key":"k3","t":1236.1,"queue":2,"offset":40}
 *   {"op":"receive","phase":"ok","id":"p0-17","key":"k3","t":1300.0,"queue":2,"offset":40}
 *
 * ops and phases used by the harness:
 * - send:    invoke, then ok (queue+offset) | fail (definite: the broker said no) | info (indeterminate:
 *            timeout, reset, or the broker died mid-request; the message may or may not be stored)
 * - receive: ok (a consumer got message `id` at queue+offset; `key` is its sharding key)
 * - commit:  invoke, then ok | fail | info; `key` is the group, `offset` the committed offset
 * - offset:  ok, a committed offset read back after a restart (`key` group, `queue`, `offset`)
 * - start:   invoke when a broker is spawned, ok when it accepts TCP (the difference is the recovery time)
 * - kill:    info, the broker was killed (SIGKILL or a named crash point); `id` names the cycle
 * `t` is milliseconds since the run began (monotonic).
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';

export type Phase = 'invoke' | 'ok' | 'fail' | 'info';
export type Op = 'send' | 'receive' | 'commit' | 'offset' | 'start' | 'kill';

export interface HistoryEvent {
  op: Op;
  phase: Phase;
  id: string;
  key: string;
  t: number;
  queue?: number;
  offset?: number;
  /** Why a fail/info happened, or which crash point fired. */
  detail?: string;
}

/** Collects events in memory and, when given a path, appends each one to a JSON-lines file. */
export class History {
  readonly events: HistoryEvent[] = [];
  private readonly fd: number | undefined;
  private readonly origin: number;

  constructor(path?: string, private readonly now: () => number = () => performance.now()) {
    this.origin = now();
    this.fd = path === undefined ? undefined : openSync(path, 'a');
  }

  /** Milliseconds since this history began. */
  elapsed(): number {
    return Math.round((this.now() - this.origin) * 1000) / 1000;
  }

  record(event: Omit<HistoryEvent, 't'> & { t?: number }): HistoryEvent {
    const full: HistoryEvent = { ...event, t: event.t ?? this.elapsed() };
    this.events.push(full);
    // Synchronous append: the harness process may itself be interrupted, and a history that stops
    // at the last complete line is still checkable.
    if (this.fd !== undefined) writeSync(this.fd, JSON.stringify(full) + '\n');
    return full;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
  }
}

/** Parses JSON lines; a torn final line (the writer died mid-write) is ignored, any other bad line throws. */
export function parseHistory(text: string): HistoryEvent[] {
  const lines = text.split('\n');
  const events: HistoryEvent[] = [];
  lines.forEach((line, index) => {
    if (line.trim() === '') return;
    try {
      events.push(JSON.parse(line) as HistoryEvent);
    } catch (err) {
      const isLast = lines.slice(index + 1).every((rest) => rest.trim() === '');
      if (!isLast) throw new Error(`history line ${index + 1} is not JSON: ${(err as Error).message}`);
    }
  });
  return events;
}

export function readHistory(path: string): HistoryEvent[] {
  return parseHistory(readFileSync(path, 'utf8'));
}
