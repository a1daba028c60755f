/**
 * Parsing and checking command-line values. A bad value throws `UsageError`, which the command
 * runner prints as one line and turns into exit code 2.
 */
import type { Argv } from 'yargs';
import { validateTopicName } from '../storage/topic-name.js';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const DEFAULT_BROKER = '127.0.0.1:9876';

/**
 * Leaves the global client options (`--broker`, `--timeout`) out of the help of a command that
 * starts brokers of its own (start, crash-test, bench), where they do nothing.
 */
export function hideClientOptions<T>(yargs: Argv<T>): Argv<T> {
  return yargs.hide('broker').hide('timeout');
}

/** `host:port`, port 1..65535. */
export function parseBrokerAddress(text: string): string {
  const match = /^(.+):(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[2]) : NaN;
  if (!match || port < 1 || port > 65535) throw new UsageError(`--broker: expected host:port, got "${text}"`);
  return `${match[1]}:${port}`;
}

/** A whole number within [min, max]; `what` names the flag in the error. */
export function parseInteger(what: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const text = String(value).trim();
  const n = /^-?\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n)) throw new UsageError(`${what}: expected a whole number, got "${String(value)}"`);
  if (n < min || n > max) {
    throw new UsageError(`${what}: must be ${max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `between ${min} and ${max}`}, got ${n}`);
  }
  return n;
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export const TIME_FORMATS = '2026-11-25T08:00:00Z, "2026-11-25 08:00:00" (local), 2026-11-25#08:00:00:000 (mqadmin), @<epoch ms>, now, now-10m';

/**
 * A point in time, in ms since the epoch: an ISO 8601 date (local time when it has no zone),
 * mqadmin's `yyyy-MM-dd#HH:mm:ss:SSS`, `@<epoch ms>`, `now`, or `now-<n><s|m|h|d>`.
 * Undefined when `text` is none of these.
 */
export function parseTime(text: string, now = Date.now()): number | undefined {
  const t = text.trim();
  if (t === 'now') return now;
  const relative = /^now-(\d+)([smhd])$/.exec(t);
  if (relative) return now - Number(relative[1]) * UNIT_MS[relative[2]!]!;
  const epoch = /^@(\d{1,16})$/.exec(t);
  if (epoch) return Number(epoch[1]);
  const mqadmin = /^(\d{4})-(\d{2})-(\d{2})#(\d{2}):(\d{2}):(\d{2}):(\d{3})$/.exec(t);
  if (mqadmin) {
    const [y, mo, d, h, mi, s, ms] = mqadmin.slice(1).map(Number) as [number, number, number, number, number, number, number];
    const date = new Date(y, mo - 1, d, h, mi, s, ms);
    // Reject rollovers such as month 13 or 31 February.
    return date.getMonth() === mo - 1 && date.getDate() === d && h < 24 && mi < 60 && s < 60 ? date.getTime() : undefined;
  }
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(t)) {
    // Date.parse rolls 2026-02-31 over to March: check the calendar day first.
    const [y, mo, d] = t.slice(0, 10).split('-').map(Number) as [number, number, number];
    const day = new Date(Date.UTC(y, mo - 1, d));
    if (day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d) return undefined;
    const ms = Date.parse(t.length === 10 ? `${t}T00:00` : t.replace(' ', 'T'));
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

export function requireTime(what: string, text: string): number {
  const ms = parseTime(text);
  if (ms === undefined) throw new UsageError(`${what}: cannot parse "${text}" as a time (use ${TIME_FORMATS})`);
  return ms;
}

export type OffsetTarget = { earliest: true } | { latest: true } | { offset: number } | { timestamp: number };

/** `earliest`, `latest`, a queue offset (a whole number), or a time (see parseTime). */
export function parseOffsetTarget(text: string): OffsetTarget {
  const t = text.trim();
  if (t === 'earliest') return { earliest: true };
  if (t === 'latest') return { latest: true };
  if (/^-?\d+$/.test(t)) return { offset: parseInteger('--to', t, 0) };
  const timestamp = parseTime(t);
  if (timestamp === undefined) {
    throw new UsageError(`--to: cannot parse "${text}" as earliest, latest, an offset or a time (${TIME_FORMATS})`);
  }
  return { timestamp };
}

/** RocketMQ's name rule, for topics and groups alike. */
export function checkName(what: string, name: string): string {
  const problem = validateTopicName(name);
  if (problem) throw new UsageError(`${what}: "${name}" is not a valid name: ${problem}`);
  return name;
}
