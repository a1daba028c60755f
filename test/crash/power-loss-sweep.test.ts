import { describe, expect, it } from 'vitest';
import { checkHistory } from './checker.js';
import type { PowerLossResult } from './power-loss.js';
import { parseSeedRange, powerLossProblems } from './power-loss-sweep.js';

describe('power-loss sweep', () => {
  it('parses a seed or a range, and refuses anything else', () => {
    expect(parseSeedRange('7')).toEqual([7]);
    expect(parseSeedRange('3-6')).toEqual([3, 4, 5, 6]);
    for (const bad of ['', '6-3', 'a-b', '-1', '1-', '1-2-3', '0-100000']) expect(() => parseSeedRange(bad), bad).toThrow(/--seeds/);
  });

  function result(lost: { withinLossWindow: boolean }[], violations: string[] = []): PowerLossResult {
    const report = checkHistory([]);
    report.lost = lost.map((m, i) => ({ id: `k0-${i}`, key: 'k0', queue: 0, offset: i, ackedAt: 0, ...m }));
    report.ok = lost.every((m) => m.withinLossWindow) && violations.length === 0;
    return { report, violations, cycles: [], maxLossAgeMs: 0 };
  }

  it('reports acknowledged losses outside the loss window and the harness violations, nothing else', () => {
    expect(powerLossProblems(result([]))).toEqual([]);
    expect(powerLossProblems(result([{ withinLossWindow: true }]))).toEqual([]);
    expect(powerLossProblems(result([{ withinLossWindow: false }]))).toEqual(['lost k0-0 (acked at 0:0)']);
    expect(powerLossProblems(result([], ['probe offset moved back']))).toEqual(['probe offset moved back']);
  });
});
