import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkHistory, quantiles, type ReadBackRecord } from './checker.js';
import { History, parseHistory, readHistory, type HistoryEvent } from './history.js';

/** Builds a hand-made history: `t` advances by 1 ms per event. */
function script(...events: Omit<HistoryEvent, 't'>[]): HistoryEvent[] {
  return events.map((event, index) => ({ ...event, t: index }));
}

const sendOk = (id: string, key: string, queue: number, offset: number): Omit<HistoryEvent, 't'>[] => [
  { op: 'send', phase: 'invoke', id, key },
  { op: 'send', phase: 'ok', id, key, queue, offset },
];
const recv = (id: string, key: string, queue: number, offset: number): Omit<HistoryEvent, 't'> => ({
  op: 'receive',
  phase: 'ok',
  id,
  key,
  queue,
  offset,
});

describe('checkHistory', () => {
  it('passes a clean history', () => {
    const report = checkHistory(
      script(...sendOk('a1', 'k', 0, 0), ...sendOk('a2', 'k', 0, 1), recv('a1', 'k', 0, 0), recv('a2', 'k', 0, 1)),
    );
    expect(report).toMatchObject({ sent: 2, acked: 2, received: 2, lost: [], duplicated: [], orderViolations: [], ok: true });
  });

  it('catches an acknowledged message that was never received', () => {
    const report = checkHistory(script(...sendOk('a1', 'k', 0, 0), ...sendOk('a2', 'k', 0, 1), recv('a1', 'k', 0, 0)));
    expect(report.lost.map((m) => m.id)).toEqual(['a2']);
    expect(report.lost[0]).toMatchObject({ queue: 0, offset: 1, withinLossWindow: false });
    expect(report.ok).toBe(false);
  });

  it('counts duplicates without failing', () => {
    const report = checkHistory(
      script(...sendOk('a1', 'k', 0, 0), recv('a1', 'k', 0, 0), recv('a1', 'k', 0, 0), recv('a1', 'k', 0, 0)),
    );
    expect(report.duplicated).toEqual([{ id: 'a1', count: 3 }]);
    expect(report.ok).toBe(true);
  });

  it('catches a per-key order violation but accepts interleaved redeliveries', () => {
    const reordered = checkHistory(
      script(...sendOk('a1', 'k', 0, 0), ...sendOk('a2', 'k', 0, 1), recv('a2', 'k', 0, 1), recv('a1', 'k', 0, 0)),
    );
    expect(reordered.orderViolations).toEqual([{ key: 'k', id: 'a2', after: 'a1' }]);
    expect(reordered.ok).toBe(false);

    const redelivered = checkHistory(
      script(
        ...sendOk('a1', 'k', 0, 0),
        ...sendOk('a2', 'k', 0, 1),
        ...sendOk('a3', 'k', 0, 2),
        recv('a1', 'k', 0, 0),
        recv('a2', 'k', 0, 1),
        recv('a1', 'k', 0, 0),
        recv('a2', 'k', 0, 1),
        recv('a3', 'k', 0, 2),
      ),
    );
    expect(redelivered.orderViolations).toEqual([]);
    expect(redelivered.ok).toBe(true);
  });

  it('separates indeterminate sends that landed from those that did not', () => {
    const report = checkHistory(
      script(
        { op: 'send', phase: 'invoke', id: 'x1', key: 'k' },
        { op: 'send', phase: 'info', id: 'x1', key: 'k', detail: 'timeout' },
        { op: 'send', phase: 'invoke', id: 'x2', key: 'k' },
        { op: 'send', phase: 'invoke', id: 'f1', key: 'k' },
        { op: 'send', phase: 'fail', id: 'f1', key: 'k', detail: 'code 1' },
        recv('x2', 'k', 0, 0),
      ),
    );
    expect(report.indeterminate).toEqual({ total: 2, present: ['x2'], absent: ['x1'] });
    expect(report.failed).toBe(1);
    expect(report.ok).toBe(true);
  });

  it('flags a received id that was never sent', () => {
    const report = checkHistory(script(recv('ghost', 'k', 0, 0)));
    expect(report.unexpected).toEqual(['ghost']);
    expect(report.ok).toBe(false);
  });

  it('checks the read-back: position, validity and density', () => {
    const readBack: ReadBackRecord[] = [
      { queue: 0, offset: 0, id: 'a1', valid: true },
      { queue: 0, offset: 1, id: 'other', valid: true },
      { queue: 0, offset: 3, id: undefined, valid: false },
    ];
    const report = checkHistory(script(...sendOk('a1', 'k', 0, 0), ...sendOk('a2', 'k', 0, 1), { op: 'send', phase: 'invoke', id: 'other', key: 'k' }), {
      readBack,
    });
    expect(report.misplaced.map((m) => [m.id, m.foundId])).toEqual([['a2', 'other']]);
    expect(report.lost.map((m) => m.id)).toEqual(['a2']);
    expect(report.invalidServed).toEqual([{ queue: 0, offset: 3 }]);
    expect(report.gaps).toEqual([{ queue: 0, after: 1, next: 3 }]);
    expect(report.indeterminate.present).toEqual(['other']);
    expect(report.ok).toBe(false);
  });

  it('checks a send acked without a position (a delayed message) for delivery only', () => {
    const delayed = (id: string): Omit<HistoryEvent, 't'>[] => [
      { op: 'send', phase: 'invoke', id, key: 'd' },
      { op: 'send', phase: 'ok', id, key: 'd' },
    ];
    const report = checkHistory(script(...delayed('d-0'), ...delayed('d-1'), recv('d-0', 'd', 0, 5)), { readBack: [] });
    expect(report.misplaced).toEqual([]);
    expect(report.lost.map((m) => m.id)).toEqual(['d-1']);
  });

  it('tolerates losses acked within the flush interval before a kill, and no others', () => {
    const events: HistoryEvent[] = [
      { op: 'send', phase: 'invoke', id: 'old', key: 'k', t: 0 },
      { op: 'send', phase: 'ok', id: 'old', key: 'k', t: 1, queue: 0, offset: 0 },
      { op: 'send', phase: 'invoke', id: 'recent', key: 'k', t: 900 },
      { op: 'send', phase: 'ok', id: 'recent', key: 'k', t: 901, queue: 0, offset: 1 },
      { op: 'kill', phase: 'info', id: 'cycle-0', key: '', t: 1000 },
    ];
    const onlyRecentLost = checkHistory(events, { lossWindowMs: 500, readBack: [{ queue: 0, offset: 0, id: 'old', valid: true }] });
    expect(onlyRecentLost.lost.map((m) => [m.id, m.withinLossWindow])).toEqual([['recent', true]]);
    expect(onlyRecentLost.ok).toBe(true);

    const bothLost = checkHistory(events, { lossWindowMs: 500, readBack: [] });
    expect(bothLost.lost.map((m) => [m.id, m.withinLossWindow])).toEqual([
      ['old', false],
      ['recent', true],
    ]);
    expect(bothLost.ok).toBe(false);
    expect(checkHistory(events, { lossWindowMs: 0, readBack: [{ queue: 0, offset: 0, id: 'old', valid: true }] }).ok).toBe(false);
  });

  it('catches a committed offset that moved back', () => {
    const events = script(
      { op: 'commit', phase: 'ok', id: 'c1', key: 'g', queue: 0, offset: 10 },
      { op: 'offset', phase: 'ok', id: 'r1', key: 'g', queue: 0, offset: 10 },
      { op: 'commit', phase: 'ok', id: 'c2', key: 'g', queue: 0, offset: 20 },
      { op: 'offset', phase: 'ok', id: 'r2', key: 'g', queue: 0, offset: 15 },
      { op: 'offset', phase: 'ok', id: 'r3', key: 'g', queue: 0, offset: 12 },
    );
    const durable = checkHistory(events, { commitsDurable: true });
    expect(durable.offsetRegressions.map((r) => [r.found, r.expectedAtLeast])).toEqual([
      [15, 20],
      [12, 20],
    ]);
    // Without the durability promise only the move back from a value already read back counts.
    expect(checkHistory(events).offsetRegressions.map((r) => [r.found, r.expectedAtLeast])).toEqual([[12, 15]]);
  });

  it('measures unavailability windows and recovery times', () => {
    const events: HistoryEvent[] = [
      { op: 'start', phase: 'invoke', id: 'b0', key: '', t: 0 },
      { op: 'start', phase: 'ok', id: 'b0', key: '', t: 100 },
      { op: 'send', phase: 'invoke', id: 'a', key: 'k', t: 110 },
      { op: 'send', phase: 'info', id: 'a', key: 'k', t: 200 },
      { op: 'send', phase: 'invoke', id: 'b', key: 'k', t: 210 },
      { op: 'send', phase: 'fail', id: 'b', key: 'k', t: 220 },
      { op: 'start', phase: 'invoke', id: 'b1', key: '', t: 230 },
      { op: 'start', phase: 'ok', id: 'b1', key: '', t: 530 },
      { op: 'send', phase: 'invoke', id: 'c', key: 'k', t: 540 },
      { op: 'send', phase: 'ok', id: 'c', key: 'k', t: 550, queue: 0, offset: 0 },
    ];
    const report = checkHistory(events);
    expect(report.unavailability).toEqual([{ start: 200, end: 550, durationMs: 350 }]);
    expect(report.recoveryMs).toEqual({ count: 2, p50: 100, p99: 300, max: 300 });
  });
});

describe('quantiles', () => {
  it('uses nearest rank', () => {
    const samples = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(quantiles(samples)).toEqual({ count: 100, p50: 50, p99: 99, max: 100 });
    expect(quantiles([])).toEqual({ count: 0, p50: 0, p99: 0, max: 0 });
  });
});

describe('History', () => {
  it('writes JSON lines that read back equal, and ignores a torn last line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferrymq-history-'));
    try {
      const path = join(dir, 'history.jsonl');
      let clock = 1000;
      const history = new History(path, () => clock);
      clock = 1005;
      history.record({ op: 'send', phase: 'invoke', id: 'a', key: 'k' });
      history.record({ op: 'send', phase: 'ok', id: 'a', key: 'k', queue: 1, offset: 7 });
      history.close();
      expect(readHistory(path)).toEqual(history.events);
      expect(history.events[0].t).toBe(5);

      writeFileSync(path, readFileSync(path, 'utf8') + '{"op":"send","pha');
      expect(readHistory(path)).toHaveLength(2);
      expect(() => parseHistory('{"op":\n{"op":"kill"}\n')).toThrow(/line 1/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
