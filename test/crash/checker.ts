/**
 * Pure checker over a crash-run history (see `history.ts`) and, optionally, what was read back from
 * the store after the last restart. Modelled on OpenMessaging Chaos' MQChecker/OrderChecker/
 * RecoveryChecker, with Jepsen's rule that an indeterminate send is neither acked nor failed:
 * - lost:          acked (send ok) but never received by a consumer and not read back anywhere;
 * - misplaced:     acked at (queue, offset) but the read-back record there is another message or missing;
 * - duplicated:    received more than once (allowed, counted);
 * - indeterminate: send timed out / was reset / never answered; split into present and absent;
 * - unexpected:    received or read back but never sent (a phantom or a corrupt id);
 * - order:         per sharding key, the acked sends (in send order) must be a subsequence of the
 *                  received sequence; redeliveries may interleave;
 * - offsets:       a committed offset read after a restart never moved back, and (when commits are
 *                  durable) is at least the last commit the broker acknowledged;
 * - unavailability windows and recovery times.
 * Under ASYNC_FLUSH, acked messages whose ack came less than `lossWindowMs` before a crash may be
 * lost on power loss; they are reported but do not fail the check.
 */
import type { HistoryEvent } from './history.js';

/** One record served by the restarted store, in queue order. */
export interface ReadBackRecord {
  queue: number;
  offset: number;
  /** The message id carried in the record, or undefined when the record could not be decoded. */
  id: string | undefined;
  /** Magic, lengths and CRC all checked. */
  valid: boolean;
}

export interface CheckOptions {
  readBack?: readonly ReadBackRecord[];
  /** Acked messages this many ms before a kill may be lost (ASYNC_FLUSH power loss). 0: none may. */
  lossWindowMs?: number;
  /** Acknowledged offset commits must survive restarts (SYNC_FLUSH). */
  commitsDurable?: boolean;
}

export interface LostMessage {
  id: string;
  key: string;
  queue: number;
  offset: number;
  ackedAt: number;
  /** Acked within the loss window before a kill: tolerated under ASYNC_FLUSH. */
  withinLossWindow: boolean;
}

export interface MisplacedMessage extends LostMessage {
  /** The id read back at (queue, offset), or undefined when nothing valid is there. */
  foundId: string | undefined;
}

export interface OrderViolation {
  key: string;
  /** The acked message that was not received in order. */
  id: string;
  /** The acked message sent just before it on the same key. */
  after: string | undefined;
}

export interface OffsetRegression {
  group: string;
  queue: number;
  found: number;
  /** The lowest value allowed: the last read-back value or the last acknowledged commit. */
  expectedAtLeast: number;
  t: number;
}

export interface Window {
  start: number;
  end: number | undefined;
  durationMs: number | undefined;
}

export interface Quantiles {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export interface CheckReport {
  sent: number;
  acked: number;
  failed: number;
  received: number;
  lost: LostMessage[];
  misplaced: MisplacedMessage[];
  duplicated: { id: string; count: number }[];
  indeterminate: { total: number; present: string[]; absent: string[] };
  unexpected: string[];
  orderViolations: OrderViolation[];
  offsetRegressions: OffsetRegression[];
  /** Read-back records that failed validation (must be zero: never serve a corrupt record). */
  invalidServed: { queue: number; offset: number }[];
  /** Read-back offsets that skip a number (must be zero: offsets are dense). */
  gaps: { queue: number; after: number; next: number }[];
  unavailability: Window[];
  /** Broker start to accepting TCP, per start. */
  recoveryMs: Quantiles;
  /** True when every promise held (duplicates and indeterminate sends are allowed). */
  ok: boolean;
}

interface SendRecord {
  id: string;
  key: string;
  invokedAt: number;
  outcome?: HistoryEvent;
}

export function checkHistory(events: readonly HistoryEvent[], options: CheckOptions = {}): CheckReport {
  const lossWindowMs = options.lossWindowMs ?? 0;
  const sends = new Map<string, SendRecord>();
  const receivedCount = new Map<string, number>();
  const receivedByKey = new Map<string, string[]>();
  const kills: number[] = [];
  let received = 0;

  for (const event of events) {
    if (event.op === 'send') {
      if (event.phase === 'invoke') sends.set(event.id, { id: event.id, key: event.key, invokedAt: event.t });
      else {
        const send = sends.get(event.id);
        if (send && !send.outcome) send.outcome = event;
      }
    } else if (event.op === 'receive' && event.phase === 'ok') {
      received++;
      receivedCount.set(event.id, (receivedCount.get(event.id) ?? 0) + 1);
      const list = receivedByKey.get(event.key) ?? [];
      list.push(event.id);
      receivedByKey.set(event.key, list);
    } else if (event.op === 'kill') {
      kills.push(event.t);
    }
  }
  kills.sort((a, b) => a - b);

  const readAt = new Map<string, ReadBackRecord>();
  const readIds = new Set<string>();
  for (const record of options.readBack ?? []) {
    readAt.set(`${record.queue}:${record.offset}`, record);
    if (record.valid && record.id !== undefined) readIds.add(record.id);
  }

  const withinLossWindow = (ackedAt: number): boolean => {
    const nextKill = kills.find((k) => k >= ackedAt);
    return nextKill !== undefined && nextKill - ackedAt < lossWindowMs;
  };

  const lost: LostMessage[] = [];
  const misplaced: MisplacedMessage[] = [];
  const lostIds = new Set<string>();
  const indeterminatePresent: string[] = [];
  const indeterminateAbsent: string[] = [];
  let acked = 0;
  let failed = 0;
  for (const send of sends.values()) {
    const phase = send.outcome?.phase;
    const present = receivedCount.has(send.id) || readIds.has(send.id);
    if (phase === 'fail') {
      failed++;
      continue;
    }
    if (phase !== 'ok') {
      (present ? indeterminatePresent : indeterminateAbsent).push(send.id);
      continue;
    }
    acked++;
    const outcome = send.outcome!;
    const base: LostMessage = {
      id: send.id,
      key: send.key,
      queue: outcome.queue ?? -1,
      offset: outcome.offset ?? -1,
      ackedAt: outcome.t,
      withinLossWindow: withinLossWindow(outcome.t),
    };
    if (!present) {
      lost.push(base);
      lostIds.add(send.id);
    }
    // A send answered without its final position (a delayed message) is checked for delivery only.
    if (options.readBack && outcome.queue !== undefined && outcome.offset !== undefined) {
      const found = readAt.get(`${base.queue}:${base.offset}`);
      const foundId = found?.valid ? found.id : undefined;
      if (foundId !== send.id) misplaced.push({ ...base, foundId });
    }
  }

  const duplicated = [...receivedCount].filter(([, count]) => count > 1).map(([id, count]) => ({ id, count }));
  const unexpected = [...new Set([...receivedCount.keys(), ...readIds])].filter((id) => !sends.has(id));

  const report: CheckReport = {
    sent: sends.size,
    acked,
    failed,
    received,
    lost,
    misplaced,
    duplicated,
    indeterminate: {
      total: indeterminatePresent.length + indeterminateAbsent.length,
      present: indeterminatePresent,
      absent: indeterminateAbsent,
    },
    unexpected,
    orderViolations: checkOrder(sends, receivedByKey, lostIds),
    offsetRegressions: checkOffsets(events, options.commitsDurable ?? false),
    invalidServed: (options.readBack ?? []).filter((r) => !r.valid).map(({ queue, offset }) => ({ queue, offset })),
    gaps: findGaps(options.readBack ?? []),
    unavailability: unavailabilityWindows(events),
    recoveryMs: quantiles(recoveryTimes(events)),
    ok: false,
  };
  report.ok =
    report.lost.every((m) => m.withinLossWindow) &&
    report.misplaced.every((m) => m.withinLossWindow) &&
    report.unexpected.length === 0 &&
    report.orderViolations.length === 0 &&
    report.offsetRegressions.length === 0 &&
    report.invalidServed.length === 0 &&
    report.gaps.length === 0;
  return report;
}

/** Per key: acked sends, in send order and without lost ones, must be a subsequence of the receives. */
function checkOrder(
  sends: Map<string, SendRecord>,
  receivedByKey: Map<string, string[]>,
  lostIds: Set<string>,
): OrderViolation[] {
  const ackedByKey = new Map<string, SendRecord[]>();
  for (const send of sends.values()) {
    if (send.outcome?.phase !== 'ok' || lostIds.has(send.id)) continue;
    const list = ackedByKey.get(send.key) ?? [];
    list.push(send);
    ackedByKey.set(send.key, list);
  }
  const violations: OrderViolation[] = [];
  for (const [key, acked] of ackedByKey) {
    acked.sort((a, b) => a.invokedAt - b.invokedAt);
    const receivedIds = receivedByKey.get(key) ?? [];
    // Only keys whose messages were consumed are order-checked (a store-only run has no receives).
    if (receivedIds.length === 0) continue;
    let cursor = 0;
    for (let i = 0; i < acked.length; i++) {
      const index = receivedIds.indexOf(acked[i].id, cursor);
      if (index < 0) {
        violations.push({ key, id: acked[i].id, after: acked[i - 1]?.id });
        break;
      }
      cursor = index + 1;
    }
  }
  return violations;
}

function checkOffsets(events: readonly HistoryEvent[], commitsDurable: boolean): OffsetRegression[] {
  const lastCommit = new Map<string, number>();
  const lastRead = new Map<string, number>();
  const regressions: OffsetRegression[] = [];
  for (const event of events) {
    if (event.offset === undefined || event.queue === undefined || event.phase !== 'ok') continue;
    const slot = `${event.key}\u0000${event.queue}`;
    if (event.op === 'commit') {
      lastCommit.set(slot, Math.max(lastCommit.get(slot) ?? 0, event.offset));
    } else if (event.op === 'offset') {
      const floor = Math.max(lastRead.get(slot) ?? 0, commitsDurable ? (lastCommit.get(slot) ?? 0) : 0);
      if (event.offset < floor) {
        regressions.push({ group: event.key, queue: event.queue, found: event.offset, expectedAtLeast: floor, t: event.t });
      }
      lastRead.set(slot, Math.max(lastRead.get(slot) ?? 0, event.offset));
    }
  }
  return regressions;
}

function findGaps(readBack: readonly ReadBackRecord[]): { queue: number; after: number; next: number }[] {
  const byQueue = new Map<number, number[]>();
  for (const record of readBack) {
    const list = byQueue.get(record.queue) ?? [];
    list.push(record.offset);
    byQueue.set(record.queue, list);
  }
  const gaps: { queue: number; after: number; next: number }[] = [];
  for (const [queue, offsets] of byQueue) {
    offsets.sort((a, b) => a - b);
    for (let i = 1; i < offsets.length; i++) {
      if (offsets[i] !== offsets[i - 1] + 1) gaps.push({ queue, after: offsets[i - 1], next: offsets[i] });
    }
  }
  return gaps;
}

/** From the first failed or indeterminate send to the next acked one (OpenMessaging RecoveryChecker). */
function unavailabilityWindows(events: readonly HistoryEvent[]): Window[] {
  const windows: Window[] = [];
  let open: number | undefined;
  const sorted = events.filter((e) => e.op === 'send' && e.phase !== 'invoke').sort((a, b) => a.t - b.t);
  for (const event of sorted) {
    if (event.phase === 'ok') {
      if (open !== undefined) windows.push({ start: open, end: event.t, durationMs: event.t - open });
      open = undefined;
    } else if (open === undefined) {
      open = event.t;
    }
  }
  if (open !== undefined) windows.push({ start: open, end: undefined, durationMs: undefined });
  return windows;
}

function recoveryTimes(events: readonly HistoryEvent[]): number[] {
  const spawned = new Map<string, number>();
  const times: number[] = [];
  for (const event of events) {
    if (event.op !== 'start') continue;
    if (event.phase === 'invoke') spawned.set(event.id, event.t);
    else if (event.phase === 'ok' && spawned.has(event.id)) times.push(event.t - spawned.get(event.id)!);
  }
  return times;
}

/** Nearest-rank quantiles; all zero for an empty sample. */
export function quantiles(samples: readonly number[]): Quantiles {
  if (samples.length === 0) return { count: 0, p50: 0, p99: 0, max: 0 };
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  return { count: sorted.length, p50: rank(0.5), p99: rank(0.99), max: sorted[sorted.length - 1] };
}
