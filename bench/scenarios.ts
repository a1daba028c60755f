/**
 * The smaller, OpenMessaging-Benchmark-like scenarios of issue #10, against FerryMQ only, one run
 * each. Message counts are the issue's, times `--scale`. Each returns its part of the summary.
 */
import { BrokerApi } from '../client/broker-api.js';
import { RemotingClient } from '../client/remoting-client.js';
import type { BenchOptions } from './run.js';
import { formatNumber } from './report.js';
import { runWorkload, type RunnerOptions, type WorkloadOutcome, type WorkloadSpec } from './runner.js';
import { peakRssMiB, type BrokerTarget, type FlushMode } from './targets.js';
import { LatencyRecorder, nowNs, type LatencySummary } from './workload.js';

export interface ScenarioContext {
  options: BenchOptions;
  runner: RunnerOptions;
  emit: (line: object) => void;
  startTarget: (flush: FlushMode) => Promise<BrokerTarget>;
}

type Scenario = (ctx: ScenarioContext) => Promise<string>;

/** msg/s of the end-to-end latency probe in `pull-backlog`. */
const PULL_BACKLOG_RATE = 1_000;

function baseSpec(ctx: ScenarioContext, overrides: Partial<WorkloadSpec> & Pick<WorkloadSpec, 'name' | 'messages'>): WorkloadSpec {
  const o = ctx.options;
  return {
    client: 'ferrymq',
    style: 'batch',
    bodySize: o.bodySize,
    queues: o.queues,
    producers: 1,
    consumers: 1,
    consume: 'concurrent',
    batchSize: o.batchSize,
    window: o.batchWindow,
    ratePerSec: 0,
    recordLatency: false,
    ...overrides,
  };
}

function scaled(ctx: ScenarioContext, n: number): number {
  return Math.max(1_000, Math.round(n * ctx.options.scale));
}

function rate(value: number): string {
  return `${formatNumber(value, 'msg/s')} msg/s`;
}

function throughputLine(o: WorkloadOutcome): string {
  const e2e = Number.isNaN(o.e2eRate) ? '' : `, end-to-end ${rate(o.e2eRate)}`;
  return `produce ${rate(o.produceRate)}${e2e}, acknowledged-lost ${o.lostAcknowledged}, undelivered ${o.lost}, duplicates ${o.duplicates}${o.failedSends ? `, failed sends ${o.failedSends} (${o.firstError})` : ''}`;
}

function latencyLine(l: LatencySummary | undefined): string {
  if (!l) return 'no latency samples';
  return `p50 ${l.p50.toFixed(3)} ms, p99 ${l.p99.toFixed(3)} ms, p99.9 ${l.p999.toFixed(3)} ms, max ${l.max.toFixed(1)} ms (${l.count} samples)`;
}

/** Starts a FerryMQ broker, runs `body`, stops the broker. */
async function withBroker<T>(ctx: ScenarioContext, flush: FlushMode, body: (target: BrokerTarget) => Promise<T>): Promise<T> {
  const target = await ctx.startTarget(flush);
  try {
    return await body(target);
  } finally {
    await target.stop();
  }
}

async function simple(ctx: ScenarioContext, name: string, title: string, spec: Partial<WorkloadSpec> & { messages: number }): Promise<string> {
  const flush = ctx.options.flush[0] ?? 'SYNC_FLUSH';
  return withBroker(ctx, flush, async (target) => {
    const outcome = await runWorkload(target, baseSpec(ctx, { name, ...spec }), ctx.runner);
    const rss = peakRssMiB(target.brokerPid);
    ctx.emit({ type: 'scenario', scenario: name, flush, ...outcomeFigures(outcome), peakRssMiB: rss });
    return `${title} (${flush}, ${spec.messages.toLocaleString('en-US')} msgs): ${throughputLine(outcome)}, broker RSS ${rss.toFixed(0)} MiB`;
  });
}

function outcomeFigures(o: WorkloadOutcome): object {
  const { produced: _p, consumed: _c, latency, brokerResponsiveness, ...rest } = o;
  return { ...rest, latency: latency && { ...latency, cdf: undefined }, brokerResponsiveness: { ...brokerResponsiveness, cdf: undefined } };
}

/** Round-trip times of `count` single pulls (32 messages, no long poll) at random offsets of the topic's queues. */
async function pullRoundTrips(target: BrokerTarget, topic: string, queues: number, count: number): Promise<LatencySummary> {
  const remoting = new RemotingClient({ requestTimeoutMs: 10_000 });
  const api = new BrokerApi(remoting, 10_000);
  const recorder = new LatencyRecorder();
  try {
    const mqs = Array.from({ length: queues }, (_, queueId) => ({ topic, brokerName: 'broker-a', queueId }));
    const maxOffsets = await Promise.all(mqs.map((mq) => api.maxOffset(target.brokerAddr, mq)));
    for (let i = 0; i < count; i++) {
      const queue = mqs[i % queues]!;
      const offset = Math.floor(Math.random() * Math.max(1, maxOffsets[i % queues]! - 32));
      const start = nowNs();
      const answer = await api.pull(target.brokerAddr, { group: 'bench_pull_probe', queue, offset, maxNums: 32, subscription: '*', subVersion: 0, suspendTimeoutMs: 0 }, 10_000);
      if (answer.status !== 'FOUND') throw new Error(`pull at ${topic}/${queue.queueId}@${offset}: ${answer.status}`);
      recorder.add((nowNs() - start) / 1e6);
    }
  } finally {
    remoting.close();
  }
  return recorder.summary();
}

export const OTHER_SCENARIOS = {
  'small-100b': (ctx) => simple(ctx, 'small-100b', '1 topic, 1 queue, 100 B, batch sends', { messages: scaled(ctx, 200_000), queues: 1, bodySize: 100 }),
  'queues-16': (ctx) => simple(ctx, 'queues-16', '1 topic, 16 queues, 1 KiB, batch sends', { messages: scaled(ctx, 200_000), queues: 16 }),
  'queues-100-4x4': (ctx) => simple(ctx, 'queues-100-4x4', '1 topic, 100 queues, 1 KiB, 4 producers + 4 consumers, batch sends', { messages: scaled(ctx, 200_000), queues: 100, producers: 4, consumers: 4 }),

  backlog: async (ctx) => {
    const messages = scaled(ctx, 1_000_000);
    const flush = ctx.options.flush[0] ?? 'SYNC_FLUSH';
    return withBroker(ctx, flush, async (target) => {
      const outcome = await runWorkload(target, baseSpec(ctx, { name: 'backlog', messages, consume: 'after' }), ctx.runner);
      const rss = peakRssMiB(target.brokerPid);
      ctx.emit({ type: 'scenario', scenario: 'backlog', flush, ...outcomeFigures(outcome), peakRssMiB: rss });
      return `backlog build then drain (${flush}, ${messages.toLocaleString('en-US')} x 1 KiB): build ${rate(outcome.produceRate)}, drain ${rate(outcome.drainRate)}, acknowledged-lost ${outcome.lostAcknowledged}, undelivered ${outcome.lost}, duplicates ${outcome.duplicates}, broker RSS ${rss.toFixed(0)} MiB`;
    });
  },

  'queues-1000': async (ctx) => {
    const messages = scaled(ctx, 100_000);
    const flush = ctx.options.flush[0] ?? 'SYNC_FLUSH';
    const perQueueCount: Record<number, WorkloadOutcome> = {};
    for (const queues of [16, 1000]) {
      // Per-message sends: round robin puts consecutive messages in different queues. Every queue
      // holds a message before the timed run: its directory and files exist, as on a running broker.
      perQueueCount[queues] = await withBroker(ctx, flush, (target) => runWorkload(target, baseSpec(ctx, { name: `queues-${queues}-cost`, messages, queues, style: 'pipelined', window: ctx.options.pipeline, consume: 'none', warmUpQueues: true }), ctx.runner));
    }
    const few = perQueueCount[16]!;
    const many = perQueueCount[1000]!;
    // Wall time per message, and the broker's CPU per message (less noisy on a shared machine).
    const cost = (o: WorkloadOutcome) => 1e6 / o.produceRate;
    const ratio = cost(many) / cost(few);
    const cpuRatio = many.cpuUsPerMessage.broker / few.cpuUsPerMessage.broker;
    ctx.emit({ type: 'scenario', scenario: 'queues-1000', flush, usPerMessage16: cost(few), usPerMessage1000: cost(many), ratio, brokerCpuUs16: few.cpuUsPerMessage.broker, brokerCpuUs1000: many.cpuUsPerMessage.broker, cpuRatio });
    return [
      `produce cost per message, pipelined sends (${flush}, ${messages.toLocaleString('en-US')} msgs), 1,000 queues against 16 (goal <= 2x):`,
      `  wall time ${cost(few).toFixed(1)} us -> ${cost(many).toFixed(1)} us (${ratio.toFixed(2)}x); broker CPU ${few.cpuUsPerMessage.broker.toFixed(1)} us -> ${many.cpuUsPerMessage.broker.toFixed(1)} us (${cpuRatio.toFixed(2)}x)`,
    ].join('\n');
  },

  'pull-backlog': async (ctx) => {
    const backlog = scaled(ctx, 10_000_000);
    const o = ctx.options;
    const flush: FlushMode = 'ASYNC_FLUSH';
    // A rate well inside per-message send capacity: this compares store sizes, not saturation.
    const pullRate = Math.min(o.latencyRate, PULL_BACKLOG_RATE);
    const latencySpec = (name: string) => baseSpec(ctx, { name, style: 'rate', messages: pullRate * 5, window: 1, ratePerSec: pullRate, recordLatency: true, warmUpSeconds: o.latencyWarmUpSeconds });
    return withBroker(ctx, flush, async (target) => {
      const fillSpec = (name: string, messages: number) => baseSpec(ctx, { name, messages, consume: 'none', bodySize: 100 });
      const small = await runWorkload(target, fillSpec('pull-small', 10_000), ctx.runner);
      const empty = await runWorkload(target, latencySpec('pull-latency-empty'), ctx.runner);
      const smallPulls = await pullRoundTrips(target, small.topic, o.queues, 2_000);
      const fill = await runWorkload(target, fillSpec('pull-backlog-fill', backlog), ctx.runner);
      const deep = await runWorkload(target, latencySpec('pull-latency-backlog'), ctx.runner);
      const deepPulls = await pullRoundTrips(target, fill.topic, o.queues, 2_000);
      const rss = peakRssMiB(target.brokerPid);
      const strip = (l: LatencySummary | undefined) => l && { ...l, cdf: undefined };
      ctx.emit({ type: 'scenario', scenario: 'pull-backlog', flush, backlog, buildRate: fill.produceRate, emptyLatency: strip(empty.latency), backlogLatency: strip(deep.latency), smallPulls: strip(smallPulls), deepPulls: strip(deepPulls), peakRssMiB: rss });
      return [
        `pull latency (${flush}); end to end at ${pullRate} msg/s for 5 s with the consumer caught up, and single 32-message pulls at random offsets:`,
        `  10k-message store:  e2e ${latencyLine(empty.latency)}`,
        `                      pulls ${latencyLine(smallPulls)}`,
        `  ${backlog.toLocaleString('en-US')} backlog: e2e ${latencyLine(deep.latency)}`,
        `                      pulls ${latencyLine(deepPulls)} (backlog built at ${rate(fill.produceRate)})`,
        `  p99 ratio backlog/small: e2e ${((deep.latency?.p99 ?? 0) / (empty.latency?.p99 ?? 1)).toFixed(2)}, pulls ${(deepPulls.p99 / smallPulls.p99).toFixed(2)} (goal: flat); broker RSS ${rss.toFixed(0)} MiB`,
      ].join('\n');
    });
  },

  'ali-ons': async (ctx) => {
    const o = ctx.options;
    const parts: string[] = [];
    for (const flush of o.flush) {
      parts.push(
        await withBroker(ctx, flush, async (target) => {
          const pipelined = await runWorkload(target, baseSpec(ctx, { name: 'ali-ons-pipelined', client: 'ali-ons', style: 'pipelined', messages: scaled(ctx, o.messages), window: o.pipeline }), ctx.runner);
          const latency = await runWorkload(target, baseSpec(ctx, { name: 'ali-ons-latency', client: 'ali-ons', style: 'rate', messages: o.latencyRate * o.latencySeconds, window: 1, ratePerSec: o.latencyRate, recordLatency: true, warmUpSeconds: o.latencyWarmUpSeconds }), ctx.runner);
          ctx.emit({ type: 'scenario', scenario: 'ali-ons', flush, pipelined: outcomeFigures(pipelined), latency: outcomeFigures(latency) });
          return `ali-ons reference (${flush}): pipelined ${throughputLine(pipelined)}; latency ${latencyLine(latency.latency)}`;
        }),
      );
    }
    return parts.join('\n');
  },
} satisfies Record<string, Scenario>;

export type ScenarioName = keyof typeof OTHER_SCENARIOS;
