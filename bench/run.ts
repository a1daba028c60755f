/**
 * The benchmark orchestrator behind `npm run bench` and `ferrymq bench` (issue #10).
 *
 * Headline, per run, flush mode and broker (FerryMQ, then Apache RocketMQ, each freshly started):
 *   1. batch sends: N x 1 KiB in code-320 batches of 256, at most 4 unconfirmed; consumer concurrent
 *   2. pipelined sends: N x 1 KiB, per-message send() with 256 outstanding; consumer concurrent
 *   3. latency: per-message sends at a fixed 5,000 msg/s for 10 s, receive minus send time, after
 *      2 s at that rate that are not counted (fresh client processes run unoptimised code at first)
 *   then the broker's VmHWM, and the broker is stopped.
 * Other scenarios (scenarios.ts) run against FerryMQ only, once.
 *
 * Output: JSON lines on stdout and in `<out>/bench-<time>.jsonl`, a human summary on stderr, and
 * `<out>/bench-<time>.svg` beside the JSON.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError, loadBrokerConfig } from '../broker/config.js';
import { javaToolchainMissing } from '../test/helpers/rocketmq.js';
import { aliOnsInstalled } from './ali-ons.js';
import { compileBenchProcesses } from './build.js';
import { benchDataRoot, probeDiskSync } from './disk-probe.js';
import { renderChart, type CdfSeries, type ThroughputSeries } from './chart.js';
import { summarizeProfiles } from './profile.js';
import { formatMarkdown, formatSummary, summarize, type HeadlineRun } from './report.js';
import { runWorkload, type RunnerOptions, type WorkloadOutcome, type WorkloadSpec } from './runner.js';
import type { LatencySummary, PauseSummary } from './workload.js';
import { OTHER_SCENARIOS, type ScenarioName } from './scenarios.js';
import { peakRssMiB, startTarget, type BrokerKind, type BrokerTarget, type FlushMode, type TargetOptions } from './targets.js';

export interface BenchOptions {
  brokers: BrokerKind[];
  flush: FlushMode[];
  runs: number;
  messages: number;
  bodySize: number;
  queues: number;
  batchSize: number;
  batchWindow: number;
  pipeline: number;
  latencyRate: number;
  latencySeconds: number;
  /** Seconds at the latency rate before the timed `latencySeconds`, not counted (0 = none). */
  latencyWarmUpSeconds: number;
  /** Which parts to run: 'headline' and/or names of OTHER_SCENARIOS. */
  scenarios: string[];
  /** Which workloads of the headline to run (all three by default). */
  phases: HeadlinePhase[];
  /** Scale factor for the other scenarios' message counts (1 = as in the issue). */
  scale: number;
  rocketmqHeap?: string;
  /** Where the brokers keep their data, a fresh subdirectory per start (made if missing; default: the system temp dir). */
  dataDir?: string;
  /** A JSON config file for the FerryMQ brokers (`ferrymq start --config`); port, data dir and flush mode stay the bench's. */
  brokerConfig?: string;
  /** Run broker, producer and consumer through tsx from sources instead of compiling them first. */
  fromSource: boolean;
  /** Profile the FerryMQ broker, producer and consumer (V8 --cpu-prof) and print the top frames. */
  profile: boolean;
  out: string;
  binMs: number;
}

export const DEFAULT_BENCH_OPTIONS: BenchOptions = {
  brokers: ['ferrymq', 'rocketmq'],
  flush: ['SYNC_FLUSH', 'ASYNC_FLUSH'],
  runs: 3,
  messages: 200_000,
  bodySize: 1024,
  queues: 4,
  batchSize: 256,
  batchWindow: 4,
  pipeline: 256,
  latencyRate: 5_000,
  latencySeconds: 10,
  latencyWarmUpSeconds: 2,
  scenarios: ['headline'],
  phases: ['batch', 'pipelined', 'latency'],
  scale: 1,
  fromSource: false,
  profile: false,
  out: 'bench/results',
  binMs: 100,
};

export const HEADLINE_PHASES = ['batch', 'pipelined', 'latency'] as const;
export type HeadlinePhase = (typeof HEADLINE_PHASES)[number];

export interface BenchReport {
  jsonlPath: string;
  svgPath: string;
  summary: string;
}

type Emit = (line: object) => void;

function headlineSpecs(o: BenchOptions): Record<HeadlinePhase, WorkloadSpec> {
  const common = { client: 'ferrymq' as const, bodySize: o.bodySize, queues: o.queues, producers: 1, consumers: 1, consume: 'concurrent' as const, batchSize: o.batchSize, ratePerSec: 0, recordLatency: false };
  return {
    batch: { ...common, name: 'batch', style: 'batch', messages: o.messages, window: o.batchWindow },
    pipelined: { ...common, name: 'pipelined', style: 'pipelined', messages: o.messages, window: o.pipeline },
    latency: { ...common, name: 'latency', style: 'rate', messages: o.latencyRate * o.latencySeconds, window: 1, ratePerSec: o.latencyRate, recordLatency: true, warmUpSeconds: o.latencyWarmUpSeconds },
  };
}

/** GC and event-loop stalls of the client processes, and the broker's answer time to the probe. */
function pauseText(outcome: WorkloadOutcome): string {
  const one = (name: string, p: PauseSummary | undefined) => (p ? `${name} GC ${p.gcCount} pauses (${p.gcMajorCount ?? '?'} major, max ${(p.gcMajorMaxMs ?? 0).toFixed(1)} ms), max ${p.gcMaxMs.toFixed(1)} ms, timer late p99 ${p.loopDelayP99Ms.toFixed(1)} max ${p.loopDelayMaxMs.toFixed(1)} ms` : `${name} -`);
  return `${one('producer', outcome.pauses.producer)}; ${one('consumer', outcome.pauses.consumer)}; broker probe p99 ${outcome.brokerResponsiveness.p99.toFixed(1)} max ${outcome.brokerResponsiveness.max.toFixed(1)} ms`;
}

function outcomeLine(outcome: WorkloadOutcome, context: object): object {
  const { produced: _p, consumed: _c, latency, warmUpLatency, ackLatency, brokerResponsiveness, ...figures } = outcome;
  const withoutCdf = (summary: LatencySummary | undefined) => summary && { ...summary, cdf: undefined };
  return { type: 'workload', ...context, ...figures, latency: withoutCdf(latency), warmUpLatency: withoutCdf(warmUpLatency), ackLatency: withoutCdf(ackLatency), brokerResponsiveness: withoutCdf(brokerResponsiveness) };
}

async function runHeadline(o: BenchOptions, runner: RunnerOptions, targetOptions: TargetOptions, emit: Emit, chart: { throughput: ThroughputSeries[]; cdfs: CdfSeries[] }): Promise<HeadlineRun[]> {
  const specs = headlineSpecs(o);
  const results: HeadlineRun[] = [];
  for (let run = 1; run <= o.runs; run++) {
    for (const flush of o.flush) {
      // Brokers alternate within a run, so slow phases of a shared machine hit both.
      for (const broker of o.brokers) {
        runner.log(`run ${run}/${o.runs}, ${flush}, ${broker}: starting the broker`);
        const target = await startTarget(broker, flush, targetOptions);
        emit({ type: 'broker', broker, flush, run, settings: target.settings });
        try {
          const phase = (name: HeadlinePhase) => (o.phases.includes(name) ? runWorkload(target, specs[name], runner) : undefined);
          const batch = await phase('batch');
          // The issue's RSS figure: a 200k x 1 KiB backlog written and read. The overall peak also
          // covers the fixed-rate phase, where an overloaded broker holds queued requests.
          const rssAfterBatch = batch ? peakRssMiB(target.brokerPid) : undefined;
          const pipelined = await phase('pipelined');
          // The disk's floor for a synced acknowledgement, sampled now, next to the latency it bounds.
          const disk = o.phases.includes('latency') ? probeDiskSync(400, 1024, targetOptions.dataRoot) : undefined;
          const latency = await phase('latency');
          const rss = peakRssMiB(target.brokerPid);
          const context = { broker, flush, run };
          const outcomes = [batch, pipelined, latency].filter((outcome) => outcome !== undefined);
          for (const outcome of outcomes) emit(outcomeLine(outcome, context));
          const l = latency?.latency;
          const total = (of: (outcome: WorkloadOutcome) => number) => outcomes.reduce((sum, outcome) => sum + of(outcome), 0);
          const figures = {
            produceBatch: batch?.produceRate,
            e2eBatch: batch?.e2eRate,
            producePipelined: pipelined?.produceRate,
            e2ePipelined: pipelined?.e2eRate,
            latencyP50: l?.p50,
            latencyP99: l?.p99,
            latencyP999: l?.p999,
            latencyMax: l?.max,
            ackP50: latency?.ackLatency?.p50,
            ackP99: latency?.ackLatency?.p99,
            diskSyncP50: disk?.p50,
            diskSyncP99: disk?.p99,
            probeP99Batch: batch?.brokerResponsiveness.p99,
            probeMaxBatch: batch?.brokerResponsiveness.max,
            probeP99Pipelined: pipelined?.brokerResponsiveness.p99,
            peakRssBatchMiB: rssAfterBatch,
            peakRssMiB: rss,
            brokerCpuBatch: batch?.cpuUsPerMessage.broker,
            brokerCpuPipelined: pipelined?.cpuUsPerMessage.broker,
            brokerSysCpuBatch: batch?.cpuUsPerMessage.brokerSystem,
            brokerSysCpuPipelined: pipelined?.cpuUsPerMessage.brokerSystem,
            producerCpuPipelined: pipelined?.cpuUsPerMessage.producers,
            producerCpuBatch: batch?.cpuUsPerMessage.producers,
            consumerCpuBatch: batch?.cpuUsPerMessage.consumers,
            cpuCeilingBatch: batch && (cpus().length * 1e6) / (batch.cpuUsPerMessage.broker + batch.cpuUsPerMessage.producers + batch.cpuUsPerMessage.consumers),
            brokerWaitBatch: batch && batch.brokerRunQueueWait * 100,
            brokerWaitPipelined: pipelined && pipelined.brokerRunQueueWait * 100,
            lostAcknowledged: total((outcome) => outcome.lostAcknowledged),
            failedSends: total((outcome) => outcome.failedSends),
            lost: total((outcome) => outcome.lost),
            duplicates: total((outcome) => outcome.duplicates),
          };
          emit({ type: 'headline', ...context, figures, loadAverage1m: loadavg()[0] });
          results.push({ broker, flush, run, figures });
          const rate = (outcome: WorkloadOutcome | undefined) => (outcome ? `${Math.round(outcome.produceRate)}/${Math.round(outcome.e2eRate)} msg/s` : '-');
          const ack = latency?.ackLatency;
          const warm = latency?.warmUpLatency;
          const latencyText = l && disk ? `p50 ${l.p50.toFixed(3)} ms, p99 ${l.p99.toFixed(3)} ms, p99.9 ${l.p999.toFixed(3)} ms (${warm ? `warm-up, not counted: ${warm.count} msgs, p99 ${warm.p99.toFixed(3)}, max ${warm.max.toFixed(3)} ms; ` : ''}send acknowledged p50 ${ack?.p50.toFixed(3)}, p99 ${ack?.p99.toFixed(3)} ms; disk write+fdatasync p50 ${disk.p50.toFixed(3)}, p99 ${disk.p99.toFixed(3)} ms, latency CPU us/msg broker ${latency!.cpuUsPerMessage.broker.toFixed(1)}, producer ${latency!.cpuUsPerMessage.producers.toFixed(1)}, consumer ${latency!.cpuUsPerMessage.consumers.toFixed(1)}; ${pauseText(latency!)})` : 'latency -';
          runner.log(`  ${broker} ${flush} (load average ${loadavg()[0].toFixed(1)}): batch ${rate(batch)}, pipelined ${rate(pipelined)}, ${latencyText}, RSS ${rss.toFixed(0)} MiB, broker CPU ${figures.brokerCpuBatch?.toFixed(1) ?? '-'}/${figures.brokerCpuPipelined?.toFixed(1) ?? '-'} us/msg, acknowledged-lost ${figures.lostAcknowledged}, failed sends ${figures.failedSends}, undelivered ${figures.lost}, dup ${figures.duplicates}`);
          if (run === 1) {
            const name = `${broker === 'ferrymq' ? 'FerryMQ' : 'RocketMQ'} ${flush === 'SYNC_FLUSH' ? 'sync' : 'async'}`;
            if (batch) {
              chart.throughput.push({ label: `${name} produce (batch)`, timelines: batch.produced, originNs: batch.firstSendNs, dashed: true });
              chart.throughput.push({ label: `${name} consume`, timelines: batch.consumed, originNs: batch.firstSendNs, dashed: false });
            }
            if (l) chart.cdfs.push({ label: name, points: l.cdf });
          }
        } finally {
          await target.stop();
        }
      }
    }
  }
  return results;
}

/** A tool or package the chosen brokers or scenarios need is missing; found before anything starts. */
export class BenchSetupError extends Error {
  override name = 'BenchSetupError';
}

function checkSetup(o: BenchOptions): void {
  if (o.scenarios.includes('headline') && o.brokers.includes('rocketmq')) {
    const missing = javaToolchainMissing();
    if (missing) throw new BenchSetupError(`Apache RocketMQ side by side needs java and mvn on PATH: ${missing}; run with --brokers ferrymq to leave it out`);
  }
  if (o.brokerConfig !== undefined) {
    // The broker would refuse a bad file at its first start, after minutes of other work.
    try {
      loadBrokerConfig({ configFile: o.brokerConfig, env: process.env });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      throw new BenchSetupError(`--broker-config: ${err.message}`);
    }
  }
  if (o.scenarios.includes('ali-ons') && !aliOnsInstalled()) {
    throw new BenchSetupError('the ali-ons scenario needs the npm package ali-ons (a development dependency of FerryMQ): run `npm install ali-ons` beside it');
  }
}

export async function runBench(options: Partial<BenchOptions> = {}, log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Promise<BenchReport> {
  const o: BenchOptions = { ...DEFAULT_BENCH_OPTIONS, ...options };
  checkSetup(o);
  let data: ReturnType<typeof benchDataRoot>;
  try {
    data = benchDataRoot(o.dataDir);
  } catch (err) {
    throw new BenchSetupError(`--data: cannot keep broker data there: ${(err as Error).message}`);
  }
  const dataRoot = data.root;
  const outDir = resolve(o.out);
  mkdirSync(outDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const jsonlPath = join(outDir, `bench-${stamp}.jsonl`);
  const svgPath = join(outDir, `bench-${stamp}.svg`);
  const lines: string[] = [];
  const emit: Emit = (line) => {
    const text = JSON.stringify(line);
    lines.push(text);
    process.stdout.write(`${text}\n`);
    writeFileSync(jsonlPath, `${lines.join('\n')}\n`);
  };
  const profDir = o.profile ? join(outDir, `profiles-${stamp}`) : undefined;
  const compiled = o.fromSource ? undefined : compileBenchProcesses(log);
  const runner: RunnerOptions = { binMs: o.binMs, idleTimeoutMs: 15_000, commitIntervalMs: 1_000, log, cpuProfDir: profDir, childEntry: compiled?.child };
  const targetOptions: TargetOptions = { rocketmqHeap: o.rocketmqHeap, brokerEntry: compiled?.broker, dataRoot, brokerConfig: o.brokerConfig };
  emit({ type: 'options', ...o, dataDir: dataRoot, dataDirInMemory: data.memoryFs ?? false, startedAt: new Date().toISOString(), node: process.version, cpus: cpus().length, loadAverage1m: loadavg()[0] });

  const chart = { throughput: [] as ThroughputSeries[], cdfs: [] as CdfSeries[] };
  const summaryParts: string[] = [];
  if (data.warning) {
    log(data.warning);
    summaryParts.push(data.warning);
  }
  if (o.scenarios.includes('headline') && !o.profile) {
    const runs = await runHeadline(o, runner, targetOptions, emit, chart);
    const { summaries, ratios } = summarize(runs);
    for (const line of [...summaries, ...ratios]) emit(line);
    summaryParts.push(formatSummary(summaries, ratios));
    writeFileSync(svgPath.replace(/\.svg$/, '.md'), formatMarkdown(summaries, ratios));
  }
  const others = o.scenarios.filter((s): s is ScenarioName => s in OTHER_SCENARIOS);
  for (const name of others) {
    log(`scenario ${name}`);
    const text = await OTHER_SCENARIOS[name]({ options: o, runner, emit, startTarget: (flush: FlushMode) => startTarget('ferrymq', flush, targetOptions) });
    summaryParts.push(text);
  }
  if (o.profile && profDir) summaryParts.push(await runProfile(o, runner, targetOptions, emit, profDir));

  writeFileSync(svgPath, renderChart(`FerryMQ benchmark ${stamp.slice(0, 10)}: ${o.messages.toLocaleString('en-US')} x ${o.bodySize} B, batch sends`, chart.throughput, chart.cdfs));
  const summary = summaryParts.join('\n');
  log(`\n${summary}\nresults: ${jsonlPath}\nchart:   ${svgPath}`);
  return { jsonlPath, svgPath, summary };
}

/** Summary tables from the `headline` lines of an earlier results file (e.g. a run stopped early). */
export function summarizeResultsFile(path: string): { text: string; markdown: string } {
  const runs = readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { type: string } & HeadlineRun)
    .filter((line) => line.type === 'headline');
  const { summaries, ratios } = summarize(runs);
  return { text: formatSummary(summaries, ratios), markdown: formatMarkdown(summaries, ratios) };
}

/** The headline workloads of `--phases` on FerryMQ (first flush mode) under --cpu-prof, each on a fresh broker, then the top frames per process. */
async function runProfile(o: BenchOptions, runner: RunnerOptions, targetOptions: TargetOptions, emit: Emit, profDir: string): Promise<string> {
  const specs = headlineSpecs(o);
  const parts: string[] = [];
  for (const style of o.phases) {
    const dir = join(profDir, style);
    const target: BrokerTarget = await startTarget('ferrymq', o.flush[0] ?? 'SYNC_FLUSH', { ...targetOptions, cpuProfDir: join(dir, 'broker') });
    try {
      const outcome = await runWorkload(target, specs[style], { ...runner, cpuProfDir: dir });
      emit(outcomeLine(outcome, { broker: 'ferrymq', flush: target.flush, profile: true }));
    } finally {
      await target.stop();
    }
    const summary = summarizeProfiles(dir, 15);
    for (const [process, profile] of Object.entries(summary)) emit({ type: 'profile', style, process, ...profile });
    parts.push(`CPU profile, ${style} sends (${target.flush}): top self-time frames per process, as a share of busy time`);
    for (const [process, { idlePercent, frames, files }] of Object.entries(summary)) {
      parts.push(`  ${process} (event loop idle ${idlePercent.toFixed(0)}% of samples):`);
      for (const f of frames) parts.push(`    ${f.percent.toFixed(1).padStart(5)}%  ${f.name}  ${f.location}  <- ${f.topCaller}`);
      parts.push(`    by file: ${files.slice(0, 8).map((f) => `${f.file} ${f.percent.toFixed(1)}%`).join(', ')}`);
    }
  }
  parts.push(`profiles: ${profDir}`);
  return parts.join('\n');
}
