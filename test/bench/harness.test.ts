/**
 * The benchmark harness's own accounting: body stamps, loss and duplicate counting over several
 * consumers, quantiles, medians and ratios, the chart, the profile reader, the option checks, and
 * one tiny end-to-end workload through real broker, producer and consumer processes.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { benchOptionsOf, type BenchArgs } from '../../cli/bench.js';
import { ratePoints, renderChart } from '../../bench/chart.js';
import { memoryFileSystemOf, probeDiskSync } from '../../bench/disk-probe.js';
import { runFloor } from '../../bench/floor.js';
import { summarizeProfiles } from '../../bench/profile.js';
import { formatMarkdown, formatSummary, spread, summarize, type HeadlineRun } from '../../bench/report.js';
import { AdminClient } from '../../client/admin.js';
import { BrokerApi } from '../../client/broker-api.js';
import { RemotingClient } from '../../client/remoting-client.js';
import { Child, runWorkload, type WorkloadSpec } from '../../bench/runner.js';
import { runQueueWaitShare, schedTimes, startTarget, type BrokerTarget } from '../../bench/targets.js';
import { cdfPoints, LatencyRecorder, PauseMonitor, quantile, readStamp, SequenceTracker, stampBody, TimelineRecorder } from '../../bench/workload.js';

describe('body stamp', () => {
  it('carries a monotonic send time and the sequence number in the first 12 bytes', () => {
    const before = Number(process.hrtime.bigint());
    const body = stampBody(1024, 123_456);
    const after = Number(process.hrtime.bigint());
    expect(body.length).toBe(1024);
    const { sentNs, seq } = readStamp(body);
    expect(seq).toBe(123_456);
    expect(sentNs).toBeGreaterThanOrEqual(before);
    expect(sentNs).toBeLessThanOrEqual(after);
    expect(readStamp(stampBody(1024, 7, 123_456_789_012_345))).toEqual({ sentNs: 123_456_789_012_345, seq: 7 });
  });

  it('never makes a body shorter than its header, and refuses to read a short one', () => {
    expect(stampBody(4, 1).length).toBe(12);
    expect(() => readStamp(Buffer.alloc(11))).toThrow(/too short/);
  });
});

describe('PauseMonitor', () => {
  it('reports how late the 10 ms timer ran, not the interval itself', async () => {
    const idle = new PauseMonitor();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const quiet = idle.stop();
    // An idle loop: the histogram reads about 10.1 ms per interval, the lateness about 0.
    expect(quiet.loopDelayP99Ms).toBeLessThan(9);
    const busy = new PauseMonitor();
    await new Promise((resolve) => setTimeout(resolve, 30));
    const until = performance.now() + 80;
    while (performance.now() < until);
    await new Promise((resolve) => setTimeout(resolve, 30));
    const stalled = busy.stop();
    expect(stalled.loopDelayMaxMs).toBeGreaterThan(50);
    expect(stalled.gcMajorCount).toBeLessThanOrEqual(stalled.gcCount);
  });
});

describe('SequenceTracker', () => {
  it('counts unique deliveries, duplicates and out-of-range numbers', () => {
    const t = new SequenceTracker(10);
    for (const seq of [0, 1, 2, 2, 9, 10]) t.add(seq);
    expect(t.unique).toBe(4);
    expect(t.duplicates).toBe(2);
    expect(t.deliveries).toBe(6);
    expect(t.complete).toBe(false);
    for (const seq of [3, 4, 5, 6, 7, 8]) t.add(seq);
    expect(t.complete).toBe(true);
  });

  it('counts numbers confirmed to a producer that no consumer saw', () => {
    const confirmed = new SequenceTracker(10);
    const seen = new SequenceTracker(10);
    for (const seq of [0, 1, 2, 3]) confirmed.add(seq);
    for (const seq of [1, 2, 5]) seen.add(seq);
    expect(SequenceTracker.differenceCount(10, [confirmed.toBase64()], [seen.toBase64()])).toBe(2);
  });

  it('merges the bit sets of several consumers, so a message seen twice counts once', () => {
    const a = new SequenceTracker(20);
    const b = new SequenceTracker(20);
    for (let i = 0; i < 12; i++) a.add(i);
    for (let i = 10; i < 19; i++) b.add(i);
    expect(SequenceTracker.unionCount(20, [a.toBase64(), b.toBase64()])).toBe(19);
  });
});

describe('quantiles and spreads', () => {
  it('uses nearest rank', () => {
    const sorted = Float64Array.from({ length: 1000 }, (_, i) => i + 1);
    expect(quantile(sorted, 0.5)).toBe(500);
    expect(quantile(sorted, 0.99)).toBe(990);
    expect(quantile(sorted, 0.999)).toBe(999);
    expect(quantile(sorted, 1)).toBe(1000);
    expect(quantile([], 0.5)).toBe(0);
  });

  it('summarizes latencies with a CDF that ends at the maximum', () => {
    const recorder = new LatencyRecorder();
    for (let i = 100_000; i >= 1; i--) recorder.add(i / 1000); // more than the initial capacity, unsorted
    const s = recorder.summary();
    expect(s.count).toBe(100_000);
    expect(s.p50).toBe(50);
    expect(s.max).toBe(100);
    expect(s.cdf.at(-1)).toEqual([100, 1]);
    const fractions = cdfPoints(Float64Array.of(1, 2, 3)).map(([, f]) => f);
    expect([...fractions].sort((x, y) => x - y)).toEqual(fractions);
  });

  it('takes the median, min and max, ignoring missing values', () => {
    expect(spread([3, 1, 2])).toEqual({ median: 2, min: 1, max: 3, runs: 3 });
    expect(spread([4, 1, Number.NaN, 2, 3]).median).toBe(2.5);
    expect(spread([Number.NaN]).runs).toBe(0);
  });

  it('reports FerryMQ / RocketMQ ratios of medians and checks targets', () => {
    const run = (broker: 'ferrymq' | 'rocketmq', r: number, produceBatch: number, latencyP99: number): HeadlineRun => ({ broker, flush: 'SYNC_FLUSH', run: r, figures: { produceBatch, latencyP99 } });
    const runs = [run('ferrymq', 1, 130_000, 2), run('ferrymq', 2, 90_000, 3), run('ferrymq', 3, 125_000, 1), run('rocketmq', 1, 50_000, 4), run('rocketmq', 2, 60_000, 4), run('rocketmq', 3, 40_000, 5)];
    const { summaries, ratios } = summarize(runs);
    const ferryProduce = summaries.find((s) => s.broker === 'ferrymq' && s.figure === 'produceBatch')!;
    expect(ferryProduce).toMatchObject({ median: 125_000, min: 90_000, max: 130_000, target: 120_000, meetsTarget: true });
    expect(ratios.find((r) => r.figure === 'produceBatch')!.ratio).toBeCloseTo(125_000 / 50_000);
    expect(ratios.find((r) => r.figure === 'latencyP99')!.ratio).toBeCloseTo(2 / 4);
    expect(summaries.find((s) => s.broker === 'ferrymq' && s.figure === 'latencyP99')!.meetsTarget).toBe(true);
    const text = formatSummary(summaries, ratios);
    expect(text).toContain('125,000 [90,000 - 130,000]');
    expect(text).toContain('2.50x');
    const markdown = formatMarkdown(summaries, ratios);
    expect(markdown).toContain('| produce msg/s, batch sends | 125,000 [90,000 - 130,000] | 50,000 [40,000 - 60,000] | 2.50x | ≥ 120,000: met |');
    const waits = summarize([{ broker: 'ferrymq', flush: 'SYNC_FLUSH', run: 1, figures: { brokerWaitBatch: 26.4 } }]);
    expect(formatMarkdown(waits.summaries, waits.ratios)).toContain('| broker threads waiting for a core, per CPU time, batch (%) | 26 [26 - 26] |');
  });

  it('gives the disk floor per broker slot but no ratio for it', () => {
    const run = (broker: 'ferrymq' | 'rocketmq', diskSyncP99: number): HeadlineRun => ({ broker, flush: 'SYNC_FLUSH', run: 1, figures: { diskSyncP99 } });
    const { summaries, ratios } = summarize([run('ferrymq', 3), run('rocketmq', 6)]);
    expect(summaries.filter((s) => s.figure === 'diskSyncP99').map((s) => s.median)).toEqual([3, 6]);
    expect(ratios.find((r) => r.figure === 'diskSyncP99')).toBeUndefined();
  });
});

describe('run-queue wait', () => {
  it('adds up waiting per running time over the threads, a new thread from zero, an ended one left out', () => {
    const start = new Map([
      ['1', { run: 1, wait: 0.5 }],
      ['2', { run: 2, wait: 1 }],
    ]);
    const end = new Map([
      ['1', { run: 3, wait: 1.5 }],
      ['3', { run: 1, wait: 0.5 }],
    ]);
    // Thread 1 ran 2 s and waited 1 s; thread 3 (new) ran 1 s and waited 0.5 s; thread 2 ended.
    expect(runQueueWaitShare(start, end)).toBeCloseTo(1.5 / 3);
    expect(runQueueWaitShare(undefined, end)).toBeNaN();
    expect(runQueueWaitShare(end, end)).toBeNaN();
  });

  it.runIf(existsSync('/proc/self/schedstat'))("reads a live process's threads", () => {
    const times = schedTimes(process.pid)!;
    expect(times.get(String(process.pid))!.run).toBeGreaterThan(0);
    expect(schedTimes(2 ** 22 + 12345)).toBeUndefined();
  });
});

describe('child processes', () => {
  it('fails a wait for a line the child exited without sending, even after a clean exit (no hang)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ferrymq-child-test-'));
    try {
      const entry = join(root, 'child.mjs');
      writeFileSync(entry, "process.stdout.write(JSON.stringify({ type: 'ready' }) + '\\n');\n");
      const options = { childEntry: entry, binMs: 100, idleTimeoutMs: 1000, commitIntervalMs: 1000, log: () => undefined };
      const child = new Child('producer 1', 'producer', {} as never, options);
      await expect(child.waitFor('ready')).resolves.toEqual({ type: 'ready' });
      await expect(child.waitFor('result')).rejects.toThrow(/producer 1 exited without sending an awaited line/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('delivers a result line of several MiB whole when the child exits right after it', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ferrymq-child-test-'));
    try {
      const entry = join(root, 'child.ts');
      const workload = new URL('../../bench/workload.ts', import.meta.url).pathname;
      // A 10M-message result carries a 1.25 MB bitmap as base64; make it bigger than that.
      writeFileSync(entry, `import { emit, exitWhenFlushed } from ${JSON.stringify(workload)};\nemit({ type: 'result', confirmedBits: 'A'.repeat(3_000_000) } as never);\nexitWhenFlushed(0);\n`);
      const options = { childEntry: entry, binMs: 100, idleTimeoutMs: 1000, commitIntervalMs: 1000, log: () => undefined };
      const child = new Child('producer 1', 'producer', {} as never, options);
      const line = (await child.waitFor('result')) as unknown as { confirmedBits: string };
      expect(line.confirmedBits.length).toBe(3_000_000);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('disk probe', () => {
  it('runs the bare-relay floor in both styles and both flush modes, every message delivered', async () => {
    const dataRoot = mkdtempSync(join(tmpdir(), 'ferrymq-floor-root-'));
    for (const [style, flush] of [['batch', 'sync'], ['pipelined', 'async']] as const) {
      const run = await runFloor(style, flush, 2_000, 0, dataRoot);
      expect(run).toMatchObject({ type: 'floor', style, flush, messages: 2_000 });
      expect(run.produceRate).toBeGreaterThan(0);
      expect(run.e2eRate).toBeLessThanOrEqual(run.produceRate);
      const cpu = run.cpuUsPerMessage;
      expect(Math.min(cpu.relay, cpu.producer, cpu.consumer)).toBeGreaterThan(0);
      expect(cpu.total).toBeCloseTo(cpu.relay + cpu.producer + cpu.consumer, 6);
      expect(run.latencyMs).toBeUndefined();
    }
    // Each run's directory under the data root is gone once it ends, and the root is where it goes.
    expect(readdirSync(dataRoot)).toEqual([]);
    await expect(runFloor('batch', 'async', 256, 0, join(dataRoot, 'missing'))).rejects.toThrow(/ENOENT/);
    rmSync(dataRoot, { recursive: true });
    await expect(runFloor('latency', 'async', 100, 100)).rejects.toThrow(/leaves none/);
  }, 60_000);

  it('paces the floor latency run at 5,000 msg/s and reports receive minus send time after the warm-up', async () => {
    for (const flush of ['async', 'sync'] as const) {
      const run = await runFloor('latency', flush, 1_000, 250);
      // 1,000 messages at 5,000 msg/s take 0.2 s: the rate is the pacing's (unpaced, this box does 50k+).
      expect(run.produceRate).toBeGreaterThan(1_000);
      expect(run.produceRate).toBeLessThan(6_000);
      const latency = run.latencyMs!;
      expect(latency.count).toBe(750);
      expect(latency.p50).toBeGreaterThan(0);
      expect(latency.p50).toBeLessThanOrEqual(latency.p99);
      expect(latency.p99).toBeLessThanOrEqual(latency.p999);
      expect(latency.p999).toBeLessThanOrEqual(latency.max);
    }
  }, 60_000);

  it('times back-to-back synced 1 KiB appends and leaves no file behind', () => {
    const root = mkdtempSync(join(tmpdir(), 'ferrymq-probe-test-'));
    try {
      const result = probeDiskSync(20, 1024, root);
      expect(result.samples).toBe(20);
      expect(result.p50).toBeGreaterThan(0);
      expect(result.p99).toBeGreaterThanOrEqual(result.p50);
      expect(result.max).toBeGreaterThanOrEqual(result.p99);
      expect(readdirSync(root)).toEqual([]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('names an in-memory filesystem (where fdatasync measures nothing) and none for the disk', () => {
    expect(memoryFileSystemOf('/dev/shm')).toBe('tmpfs');
    expect(memoryFileSystemOf(new URL('../..', import.meta.url).pathname)).toBeUndefined();
  });

  it('starts FerryMQ with a given config file, the flush mode still the bench\'s', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ferrymq-broker-config-test-'));
    const file = join(root, 'broker.json');
    writeFileSync(file, JSON.stringify({ brokerName: 'bench-cfg', store: { flushMode: 'SYNC_FLUSH' } }));
    const target = await startTarget('ferrymq', 'ASYNC_FLUSH', { brokerConfig: file });
    try {
      const admin = new AdminClient({ address: target.brokerAddr });
      try {
        expect(await admin.runtimeInfo()).toMatchObject({ brokerName: 'bench-cfg', flushDiskType: 'ASYNC_FLUSH' });
      } finally {
        admin.close();
      }
      expect(target.settings.config).toContain(file);
    } finally {
      await target.stop();
      rmSync(root, { recursive: true, force: true });
    }
  }, 60_000);

  it('starts each broker in a fresh directory under the given data root and removes it at stop', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ferrymq-data-root-test-'));
    try {
      const target = await startTarget('ferrymq', 'ASYNC_FLUSH', { dataRoot: root });
      try {
        expect(readdirSync(root)).toEqual([expect.stringMatching(/^ferrymq-bench-/)]);
        expect(target.settings.dataDir).toBe(`fresh dir in ${root}`);
      } finally {
        await target.stop();
      }
      expect(readdirSync(root)).toEqual([]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('chart', () => {
  it('turns timelines into msg/s per bin on a common origin', () => {
    const t = new TimelineRecorder(1_000_000_000, 100);
    t.add(1_000_000_000 + 50e6, 10);
    t.add(1_000_000_000 + 150e6, 20);
    expect(ratePoints({ label: 'x', timelines: [t.snapshot()], originNs: 1_000_000_000, dashed: false })).toEqual([
      [0.1, 100],
      [0.2, 200],
    ]);
  });

  it('renders an SVG with one line per series and the legends', () => {
    const t = new TimelineRecorder(0, 100);
    t.add(10e6, 5);
    const svg = renderChart('title & more', [{ label: 'FerryMQ sync consume', timelines: [t.snapshot()], originNs: 0, dashed: false }], [{ label: 'FerryMQ sync', points: [[0.2, 0.5], [1.5, 1]] }]);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('title &amp; more');
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(svg).toContain('FerryMQ sync consume');
    expect(svg).not.toContain('NaN');
  });
});

describe('profile reader', () => {
  it('ranks functions by self time, leaves idle out of the shares and names the top caller', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferrymq-bench-test-'));
    try {
      mkdirSync(join(dir, 'broker'));
      const frame = (functionName: string) => ({ functionName, url: 'file:///x/storage/a.ts', lineNumber: 9 });
      const profile = {
        nodes: [
          { id: 1, callFrame: frame('(root)'), hitCount: 0, children: [2, 3, 5] },
          { id: 2, callFrame: frame('(idle)'), hitCount: 100 },
          { id: 3, callFrame: frame('append'), hitCount: 30, children: [4] },
          { id: 4, callFrame: frame('encode'), hitCount: 60 },
          { id: 5, callFrame: frame('decode'), hitCount: 10 },
        ],
      };
      writeFileSync(join(dir, 'broker', 'p.cpuprofile'), JSON.stringify(profile));
      const { broker } = summarizeProfiles(dir, 2);
      expect(broker!.idlePercent).toBe(50);
      expect(broker!.frames.map((f) => [f.name, f.percent])).toEqual([
        ['encode', 60],
        ['append', 30],
      ]);
      expect(broker!.frames[0]!.topCaller).toMatch(/^append /);
      expect(broker!.files).toEqual([{ file: relative(process.cwd(), '/x/storage/a.ts'), percent: 100 }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('options', () => {
  const args: BenchArgs = {
    brokers: ['ferrymq'],
    flush: ['sync', 'async'],
    runs: 3,
    messages: 200_000,
    'body-size': 1024,
    queues: 4,
    'batch-size': 256,
    'batch-window': 4,
    pipeline: 256,
    'latency-rate': 5000,
    'latency-seconds': 10,
    'latency-warmup-seconds': 2,
    scenarios: ['headline'],
    phases: ['batch', 'pipelined', 'latency'],
    scale: 1,
    profile: false,
    'from-source': false,
    out: 'bench/results',
  };

  it('maps flags to options and expands "all"', () => {
    const o = benchOptionsOf({ ...args, scenarios: ['all'] });
    expect(o.flush).toEqual(['SYNC_FLUSH', 'ASYNC_FLUSH']);
    expect(o.scenarios).toContain('pull-backlog');
    expect(o.scenarios).toContain('headline');
    expect(benchOptionsOf({ ...args, phases: ['latency'] }).phases).toEqual(['latency']);
    expect(benchOptionsOf(args).dataDir).toBeUndefined();
    expect(benchOptionsOf({ ...args, data: '/srv/bench' }).dataDir).toBe('/srv/bench');
    expect(benchOptionsOf({ ...args, 'broker-config': 'broker.json' }).brokerConfig).toBe('broker.json');
  });

  it('refuses bad values with a message naming the flag', () => {
    expect(() => benchOptionsOf({ ...args, flush: ['fast'] })).toThrow(/--flush/);
    expect(() => benchOptionsOf({ ...args, brokers: ['kafka'] })).toThrow(/--brokers/);
    expect(() => benchOptionsOf({ ...args, runs: 0 })).toThrow(/--runs/);
    expect(() => benchOptionsOf({ ...args, 'body-size': 8 })).toThrow(/--body-size/);
    expect(() => benchOptionsOf({ ...args, scenarios: ['nope'] })).toThrow(/unknown scenario/);
    expect(() => benchOptionsOf({ ...args, phases: ['warmup'] })).toThrow(/--phases/);
  });
});

describe('one workload through real processes', () => {
  let target: BrokerTarget;
  beforeAll(async () => {
    target = await startTarget('ferrymq', 'ASYNC_FLUSH');
  });
  afterAll(async () => {
    await target?.stop();
  });

  it('produces with batches, consumes concurrently, and accounts for every message', async () => {
    const spec: WorkloadSpec = { name: 'test', client: 'ferrymq', style: 'batch', messages: 3_000, bodySize: 100, queues: 2, producers: 1, consumers: 1, consume: 'concurrent', batchSize: 256, window: 4, ratePerSec: 0, recordLatency: true };
    const outcome = await runWorkload(target, spec, { binMs: 100, idleTimeoutMs: 10_000, commitIntervalMs: 100, log: () => undefined });
    expect(outcome.failedSends).toBe(0);
    expect(outcome.lost).toBe(0);
    expect(outcome.lostAcknowledged).toBe(0);
    expect(outcome.duplicates).toBe(0);
    expect(outcome.produceRate).toBeGreaterThan(0);
    expect(outcome.e2eSeconds).toBeGreaterThanOrEqual(outcome.produceSeconds);
    expect(outcome.latency!.count).toBe(3_000);
    expect(outcome.brokerResponsiveness.count).toBeGreaterThan(0);
    if (existsSync('/proc/self/schedstat')) expect(outcome.brokerRunQueueWait).toBeGreaterThanOrEqual(0);
    expect(outcome.produced[0]!.counts.reduce((a, b) => a + b, 0)).toBe(3_000);
  }, 60_000);

  it('sends at a fixed rate: a latency and a send acknowledgement per message, and the pauses of both clients', async () => {
    const spec: WorkloadSpec = { name: 'test-rate', client: 'ferrymq', style: 'rate', messages: 1_000, bodySize: 1024, queues: 4, producers: 1, consumers: 1, consume: 'concurrent', batchSize: 1, window: 1, ratePerSec: 2_000, recordLatency: true };
    // Commits every 50 ms run beside the polls (several during the half second).
    const outcome = await runWorkload(target, spec, { binMs: 100, idleTimeoutMs: 10_000, commitIntervalMs: 50, log: () => undefined });
    expect(outcome.lost).toBe(0);
    expect(outcome.duplicates).toBe(0);
    expect(outcome.latency!.count).toBe(1_000);
    expect(outcome.ackLatency!.count).toBe(1_000);
    expect(outcome.ackLatency!.p50).toBeGreaterThan(0);
    for (const pauses of [outcome.pauses.producer!, outcome.pauses.consumer!]) {
      expect(pauses.gcCount).toBeGreaterThanOrEqual(0);
      expect(pauses.loopDelayMaxMs).toBeGreaterThanOrEqual(pauses.loopDelayP99Ms);
    }
    expect(outcome.produceSeconds).toBeGreaterThan(0.4);
  }, 60_000);

  it('sends warm-up messages first at the same rate, delivered and checked but kept out of the latency figures', async () => {
    // 2 producers at 1,000 msg/s each: 250 warm-up messages each (0.25 s), then 500 timed ones each.
    const spec: WorkloadSpec = { name: 'test-rate-warm', client: 'ferrymq', style: 'rate', messages: 1_000, bodySize: 100, queues: 4, producers: 2, consumers: 1, consume: 'concurrent', batchSize: 1, window: 1, ratePerSec: 2_000, recordLatency: true, warmUpSeconds: 0.25 };
    const outcome = await runWorkload(target, spec, { binMs: 100, idleTimeoutMs: 10_000, commitIntervalMs: 50, log: () => undefined });
    // Acknowledgement latency: the first producer's timed sends only.
    expect(outcome).toMatchObject({ messages: 1_500, warmUpMessages: 500, lost: 0, lostAcknowledged: 0, duplicates: 0, latency: { count: 1_000 }, warmUpLatency: { count: 500 }, ackLatency: { count: 500 } });
    expect(outcome.produceSeconds).toBeGreaterThan(0.6);
  }, 60_000);

  it('warms up every queue with one message before the timed per-message sends, and only without consumers', async () => {
    const spec: WorkloadSpec = { name: 'test-warm', client: 'ferrymq', style: 'pipelined', messages: 600, bodySize: 100, queues: 30, producers: 1, consumers: 1, consume: 'none', batchSize: 1, window: 64, ratePerSec: 0, recordLatency: false, warmUpQueues: true };
    const outcome = await runWorkload(target, spec, { binMs: 100, idleTimeoutMs: 10_000, commitIntervalMs: 100, log: () => undefined });
    expect(outcome.failedSends).toBe(0);
    const remoting = new RemotingClient({ requestTimeoutMs: 5_000 });
    try {
      const api = new BrokerApi(remoting, 5_000);
      const maxOffsets = await Promise.all(Array.from({ length: 30 }, (_, queueId) => api.maxOffset(target.brokerAddr, { topic: outcome.topic, brokerName: 'broker-a', queueId })));
      // Round robin gives each queue 20 of the 600 timed messages, after its warm-up message.
      expect(maxOffsets).toEqual(Array(30).fill(21));
    } finally {
      remoting.close();
    }
    await expect(runWorkload(target, { ...spec, consume: 'concurrent' }, { binMs: 100, idleTimeoutMs: 10_000, commitIntervalMs: 100, log: () => undefined })).rejects.toThrow(/warmUpQueues needs consume 'none'/);
  }, 60_000);

  it('merges several consumers of one group: every message counted once, re-deliveries as duplicates', async () => {
    const spec: WorkloadSpec = { name: 'test-group', client: 'ferrymq', style: 'batch', messages: 4_000, bodySize: 100, queues: 8, producers: 2, consumers: 2, consume: 'concurrent', batchSize: 100, window: 2, ratePerSec: 0, recordLatency: false };
    const outcome = await runWorkload(target, spec, { binMs: 100, idleTimeoutMs: 10_000, commitIntervalMs: 100, log: () => undefined });
    expect(outcome.failedSends).toBe(0);
    expect(outcome.lost).toBe(0);
    expect(outcome.duplicates).toBeGreaterThanOrEqual(0);
    expect(outcome.consumed).toHaveLength(2);
    expect(outcome.e2eSeconds).toBeLessThan(10);
  }, 60_000);
});
