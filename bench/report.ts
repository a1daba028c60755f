/**
 * Turns per-run figures into medians with min and max, FerryMQ / RocketMQ ratios and the issue's
 * targets, as JSON lines and as a human summary.
 */
import type { BrokerKind, FlushMode } from './targets.js';

/** The headline figures of one run against one broker in one flush mode. */
export interface HeadlineRun {
  broker: BrokerKind;
  flush: FlushMode;
  run: number;
  figures: Partial<Record<FigureName, number>>;
}

export const FIGURES = {
  produceBatch: { label: 'produce msg/s, batch sends', unit: 'msg/s', higherIsBetter: true },
  e2eBatch: { label: 'end-to-end msg/s, batch sends', unit: 'msg/s', higherIsBetter: true },
  producePipelined: { label: 'produce msg/s, pipelined sends', unit: 'msg/s', higherIsBetter: true },
  e2ePipelined: { label: 'end-to-end msg/s, pipelined sends', unit: 'msg/s', higherIsBetter: true },
  latencyP50: { label: 'latency p50 at 5k/s', unit: 'ms', higherIsBetter: false },
  latencyP99: { label: 'latency p99 at 5k/s', unit: 'ms', higherIsBetter: false },
  latencyP999: { label: 'latency p99.9 at 5k/s', unit: 'ms', higherIsBetter: false },
  latencyMax: { label: 'latency max at 5k/s', unit: 'ms', higherIsBetter: false },
  /** The store path alone: send to broker confirmation, in the same fixed-rate workload. */
  ackP50: { label: 'send acknowledged p50 at 5k/s', unit: 'ms', higherIsBetter: false },
  ackP99: { label: 'send acknowledged p99 at 5k/s', unit: 'ms', higherIsBetter: false },
  /** Not the broker's: the disk's floor under any synced acknowledgement, sampled before the latency phase. */
  diskSyncP50: { label: 'disk floor: 1 KiB write + fdatasync p50', unit: 'ms', higherIsBetter: false },
  diskSyncP99: { label: 'disk floor: 1 KiB write + fdatasync p99', unit: 'ms', higherIsBetter: false },
  probeP99Batch: { label: 'broker answer p99 to a probe, batch', unit: 'ms', higherIsBetter: false },
  probeMaxBatch: { label: 'broker answer max to a probe, batch', unit: 'ms', higherIsBetter: false },
  probeP99Pipelined: { label: 'broker answer p99 to a probe, pipelined', unit: 'ms', higherIsBetter: false },
  peakRssBatchMiB: { label: 'broker peak RSS after the batch phase', unit: 'MiB', higherIsBetter: false },
  peakRssMiB: { label: 'broker peak RSS, all phases', unit: 'MiB', higherIsBetter: false },
  brokerCpuBatch: { label: 'broker CPU per msg, batch', unit: 'us', higherIsBetter: false },
  /** The kernel's part of it: socket and file syscalls, page-cache copies, loopback TCP. */
  brokerSysCpuBatch: { label: 'broker kernel CPU per msg, batch', unit: 'us', higherIsBetter: false },
  producerCpuBatch: { label: 'producer CPU per msg, batch', unit: 'us', higherIsBetter: false },
  consumerCpuBatch: { label: 'consumer CPU per msg, batch', unit: 'us', higherIsBetter: false },
  /** What all cores could do if the three processes were CPU-bound: cores x 1e6 / (their CPU us per message). */
  cpuCeilingBatch: { label: 'CPU-bound ceiling, batch (all cores)', unit: 'msg/s', higherIsBetter: true },
  /** Time the broker's threads waited for a core, per time they ran (schedstat): the box's contention. */
  brokerWaitBatch: { label: 'broker threads waiting for a core, per CPU time, batch', unit: '%', higherIsBetter: false },
  brokerCpuPipelined: { label: 'broker CPU per msg, pipelined', unit: 'us', higherIsBetter: false },
  brokerSysCpuPipelined: { label: 'broker kernel CPU per msg, pipelined', unit: 'us', higherIsBetter: false },
  producerCpuPipelined: { label: 'producer CPU per msg, pipelined', unit: 'us', higherIsBetter: false },
  brokerWaitPipelined: { label: 'broker threads waiting for a core, per CPU time, pipelined', unit: '%', higherIsBetter: false },
  lostAcknowledged: { label: 'acknowledged, never delivered', unit: '', higherIsBetter: false },
  failedSends: { label: 'failed sends (after SDK retries)', unit: '', higherIsBetter: false },
  lost: { label: 'never delivered (failed sends included)', unit: '', higherIsBetter: false },
  duplicates: { label: 'duplicates (all phases)', unit: '', higherIsBetter: false },
} as const;
export type FigureName = keyof typeof FIGURES;
/** Counts, and the disk's own figures: no ratio between brokers. */
const NO_RATIO: readonly FigureName[] = ['lostAcknowledged', 'failedSends', 'lost', 'duplicates', 'diskSyncP50', 'diskSyncP99'];

/** The issue's targets for FerryMQ on a 2-core box. */
export const TARGETS: Partial<Record<FigureName, Record<FlushMode, number>>> = {
  produceBatch: { SYNC_FLUSH: 120_000, ASYNC_FLUSH: 150_000 },
  e2eBatch: { SYNC_FLUSH: 120_000, ASYNC_FLUSH: 150_000 },
  producePipelined: { SYNC_FLUSH: 70_000, ASYNC_FLUSH: 80_000 },
  latencyP50: { SYNC_FLUSH: 0.5, ASYNC_FLUSH: 0.4 },
  latencyP99: { SYNC_FLUSH: 2.5, ASYNC_FLUSH: 2.0 },
  peakRssBatchMiB: { SYNC_FLUSH: 150, ASYNC_FLUSH: 150 },
  lostAcknowledged: { SYNC_FLUSH: 0, ASYNC_FLUSH: 0 },
};

export interface Spread {
  median: number;
  min: number;
  max: number;
  runs: number;
}

export function spread(values: readonly number[]): Spread {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, runs: 0 };
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, runs: sorted.length };
}

export interface SummaryLine {
  type: 'summary';
  broker: BrokerKind;
  flush: FlushMode;
  figure: FigureName;
  label: string;
  unit: string;
  median: number;
  min: number;
  max: number;
  runs: number;
  target?: number;
  meetsTarget?: boolean;
}

export interface RatioLine {
  type: 'ratio';
  flush: FlushMode;
  figure: FigureName;
  label: string;
  /** FerryMQ median / RocketMQ median. */
  ratio: number;
}

function meets(figure: FigureName, value: number, target: number): boolean {
  return FIGURES[figure].higherIsBetter ? value >= target : value <= target;
}

export function summarize(runs: readonly HeadlineRun[]): { summaries: SummaryLine[]; ratios: RatioLine[] } {
  const summaries: SummaryLine[] = [];
  const ratios: RatioLine[] = [];
  const flushes = [...new Set(runs.map((r) => r.flush))];
  const brokers = [...new Set(runs.map((r) => r.broker))];
  for (const flush of flushes) {
    for (const figure of Object.keys(FIGURES) as FigureName[]) {
      const medians = new Map<BrokerKind, number>();
      for (const broker of brokers) {
        const values = runs.filter((r) => r.broker === broker && r.flush === flush).map((r) => r.figures[figure] ?? Number.NaN);
        const s = spread(values);
        if (s.runs === 0) continue;
        medians.set(broker, s.median);
        const target = broker === 'ferrymq' ? TARGETS[figure]?.[flush] : undefined;
        summaries.push({ type: 'summary', broker, flush, figure, label: FIGURES[figure].label, unit: FIGURES[figure].unit, ...s, target, meetsTarget: target === undefined ? undefined : meets(figure, s.median, target) });
      }
      const ferry = medians.get('ferrymq');
      const rocket = medians.get('rocketmq');
      if (ferry !== undefined && rocket !== undefined && !NO_RATIO.includes(figure)) {
        ratios.push({ type: 'ratio', flush, figure, label: FIGURES[figure].label, ratio: ferry / rocket });
      }
    }
  }
  return { summaries, ratios };
}

export function formatNumber(value: number, unit: string): string {
  if (Number.isNaN(value)) return '-';
  if (unit === 'msg/s' || unit === '') return Math.round(value).toLocaleString('en-US');
  if (unit === 'MiB' || unit === '%') return value.toFixed(0);
  if (unit === 'us') return value.toFixed(1);
  return value < 10 ? value.toFixed(3) : value.toFixed(1);
}

/** One table per flush mode: median [min - max] per broker, the ratio, and the target. */
export function formatSummary(summaries: readonly SummaryLine[], ratios: readonly RatioLine[]): string {
  const lines: string[] = [];
  const flushes = [...new Set(summaries.map((s) => s.flush))];
  const brokers = [...new Set(summaries.map((s) => s.broker))];
  for (const flush of flushes) {
    const runs = Math.max(...summaries.filter((s) => s.flush === flush).map((s) => s.runs));
    lines.push(`${flush} (median [min - max] of ${runs} run${runs === 1 ? '' : 's'}${brokers.length > 1 ? '; ratio = FerryMQ / RocketMQ medians, above 1 is better for msg/s, below 1 for latency and RSS' : ''})`);
    const header = ['figure'.padEnd(36), ...brokers.map((b) => (b === 'ferrymq' ? 'FerryMQ' : 'RocketMQ 4.9').padEnd(34))];
    if (brokers.length > 1) header.push('Ferry/Rocket');
    header.push('target');
    lines.push(header.join(' '));
    for (const figure of Object.keys(FIGURES) as FigureName[]) {
      const row = summaries.filter((s) => s.flush === flush && s.figure === figure);
      if (row.length === 0) continue;
      const { label, unit } = FIGURES[figure];
      const cells = [`${label}${unit && unit !== 'msg/s' ? ` (${unit})` : ''}`.padEnd(36)];
      for (const broker of brokers) {
        const s = row.find((r) => r.broker === broker);
        cells.push((s ? `${formatNumber(s.median, unit)} [${formatNumber(s.min, unit)} - ${formatNumber(s.max, unit)}]` : '-').padEnd(34));
      }
      if (brokers.length > 1) {
        const ratio = ratios.find((r) => r.flush === flush && r.figure === figure);
        cells.push((ratio ? `${ratio.ratio.toFixed(2)}x` : '-').padEnd(12));
      }
      const ferry = row.find((r) => r.broker === 'ferrymq');
      cells.push(ferry?.target === undefined ? '' : `${FIGURES[figure].higherIsBetter ? '>=' : '<='} ${formatNumber(ferry.target, unit)} ${ferry.meetsTarget ? 'met' : 'MISSED'}`);
      lines.push(cells.join(' '));
    }
    lines.push('');
  }
  return lines.join('\n');
}

/** The same tables as markdown, for docs/benchmarks.md. */
export function formatMarkdown(summaries: readonly SummaryLine[], ratios: readonly RatioLine[]): string {
  const lines: string[] = [];
  const flushes = [...new Set(summaries.map((s) => s.flush))];
  const brokers = [...new Set(summaries.map((s) => s.broker))];
  const cell = (s: SummaryLine | undefined) => (s ? `${formatNumber(s.median, s.unit)} [${formatNumber(s.min, s.unit)} - ${formatNumber(s.max, s.unit)}]` : '-');
  for (const flush of flushes) {
    const runs = Math.max(...summaries.filter((s) => s.flush === flush).map((s) => s.runs));
    lines.push(`**${flush}**, median [min - max] of ${runs} run${runs === 1 ? '' : 's'}`, '');
    const names = brokers.map((b) => (b === 'ferrymq' ? 'FerryMQ' : 'RocketMQ 4.9.7'));
    const ratioHeader = brokers.length > 1 ? ['FerryMQ / RocketMQ'] : [];
    lines.push(`| figure | ${[...names, ...ratioHeader, 'target (FerryMQ)'].join(' | ')} |`);
    lines.push(`|---|${[...names, ...ratioHeader, ''].map(() => '---').join('|')}|`);
    for (const figure of Object.keys(FIGURES) as FigureName[]) {
      const row = summaries.filter((s) => s.flush === flush && s.figure === figure);
      if (row.length === 0) continue;
      const { label, unit } = FIGURES[figure];
      const cells = brokers.map((b) => cell(row.find((r) => r.broker === b)));
      if (brokers.length > 1) {
        const ratio = ratios.find((r) => r.flush === flush && r.figure === figure);
        cells.push(ratio ? `${ratio.ratio.toFixed(2)}x` : '-');
      }
      const ferry = row.find((r) => r.broker === 'ferrymq');
      cells.push(ferry?.target === undefined ? '' : `${FIGURES[figure].higherIsBetter ? '≥' : '≤'} ${formatNumber(ferry.target, unit)}: ${ferry.meetsTarget ? 'met' : '**missed**'}`);
      lines.push(`| ${label}${unit && unit !== 'msg/s' ? ` (${unit})` : ''} | ${cells.join(' | ')} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
