/**
 * The brokers under test, each in its own process on this machine: FerryMQ (`ferrymq start`, a
 * fresh data dir per start) and Apache RocketMQ (name server + one master, from the test kit's
 * `startRocketMQ()`). Both are driven over the same remoting protocol by the same SDK.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BrokerApi } from '../client/broker-api.js';
import { RemotingClient } from '../client/remoting-client.js';
import { BrokerProcess, freePort } from '../test/crash/broker-process.js';
import { startRocketMQ } from '../test/helpers/rocketmq.js';

export type BrokerKind = 'ferrymq' | 'rocketmq';
export type FlushMode = 'SYNC_FLUSH' | 'ASYNC_FLUSH';

export interface BrokerTarget {
  kind: BrokerKind;
  flush: FlushMode;
  /** What clients take as their name server. */
  nameServer: string;
  brokerAddr: string;
  /** The broker process (not the name server): its VmHWM is the reported peak RSS. */
  brokerPid: number;
  /** The settings this broker ran with, written into the results. */
  settings: Record<string, string>;
  stop(): Promise<void>;
}

export interface TargetOptions {
  /** FerryMQ only: write a V8 CPU profile of the broker into this directory (on clean exit). */
  cpuProfDir?: string;
  /** FerryMQ only: a `ferrymq start` script to run with node (default: as the crash harness starts it). */
  brokerEntry?: string;
  /** RocketMQ only: -Xms/-Xmx of the broker JVM. */
  rocketmqHeap?: string;
  /** Where each broker's fresh data directory is made (default: the system temp dir). */
  dataRoot?: string;
  /** FerryMQ only: a JSON config file for `ferrymq start --config`; port, data dir and flush mode stay the bench's. */
  brokerConfig?: string;
}

/** RocketMQ broker heap for the side-by-side runs (runbroker.sh asks for 8g; that does not fit a 2-core box next to everything else). Written down in docs/benchmarks.md. */
export const DEFAULT_ROCKETMQ_HEAP = '512m';

export async function startTarget(kind: BrokerKind, flush: FlushMode, options: TargetOptions = {}): Promise<BrokerTarget> {
  return kind === 'ferrymq' ? startFerryMQ(flush, options) : startApacheRocketMQ(flush, options);
}

async function startFerryMQ(flush: FlushMode, options: TargetOptions): Promise<BrokerTarget> {
  const dataDir = await mkdtemp(join(options.dataRoot ?? tmpdir(), 'ferrymq-bench-'));
  const port = await freePort();
  const nodeArgs = options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`] : [];
  const command = options.brokerEntry ? { command: process.execPath, args: [options.brokerEntry] } : undefined;
  // The broker entry is started directly, not through bin/ferrymq.cjs: give it the threadpool the launcher would.
  const env = { FERRYMQ_LOG_LEVEL: 'error', UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? process.env.FERRYMQ_UV_THREADPOOL_SIZE ?? '16' };
  const extraArgs = options.brokerConfig ? ['--config', resolve(options.brokerConfig)] : [];
  const broker = new BrokerProcess({ dataDir, port, flush: flush === 'SYNC_FLUSH' ? 'sync' : 'async', command, nodeArgs, env, extraArgs });
  broker.spawn();
  if ((await broker.waitReady(60_000)) !== 'ready') throw new Error(`FerryMQ broker exited at start:\n${broker.output}`);
  const address = `127.0.0.1:${port}`;
  return {
    kind: 'ferrymq',
    flush,
    nameServer: address,
    brokerAddr: address,
    brokerPid: broker.pid!,
    settings: { flushMode: flush, dataDir: `fresh dir in ${options.dataRoot ?? tmpdir()}`, config: options.brokerConfig ? `${resolve(options.brokerConfig)} (port, data dir and flush mode the bench's)` : 'defaults (docs/broker.md)', uvThreadpoolSize: env.UV_THREADPOOL_SIZE, node: process.version, code: options.brokerEntry ? 'compiled by tsc' : 'tsx (sources)' },
    async stop() {
      await broker.stop(30_000);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function startApacheRocketMQ(flush: FlushMode, options: TargetOptions): Promise<BrokerTarget> {
  const heap = options.rocketmqHeap ?? DEFAULT_ROCKETMQ_HEAP;
  const rmq = await startRocketMQ({ flushDiskType: flush, brokerHeap: heap, startTimeoutMs: 180_000, baseDir: options.dataRoot });
  return {
    kind: 'rocketmq',
    flush,
    nameServer: rmq.nameSrv,
    brokerAddr: rmq.brokerAddr,
    brokerPid: rmq.pids.broker,
    settings: {
      version: rmq.version,
      flushDiskType: flush,
      brokerRole: 'ASYNC_MASTER',
      heap: `-Xms${heap} -Xmx${heap} -XX:+UseG1GC`,
      mappedFileSizeCommitLog: '64 MiB',
      other: 'test kit defaults (test/helpers/rocketmq.ts), RocketMQ defaults otherwise',
    },
    stop: () => rmq.stop(),
  };
}

/** Peak resident set size of a live process in MiB (VmHWM), or NaN when it cannot be read. */
export function peakRssMiB(pid: number): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** CPU time a live process has used so far in user and kernel mode, in seconds, or NaN (from /proc/<pid>/stat, 100 ticks/s). */
export function cpuTimes(pid: number): { user: number; system: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
  } catch {
    return { user: Number.NaN, system: Number.NaN };
  }
}

/** Per thread of a process: seconds it has run, and seconds it has waited runnable for a core. */
export type SchedTimes = ReadonlyMap<string, { run: number; wait: number }>;

/**
 * What each thread of a live process has run and waited on the run queue so far
 * (`/proc/<pid>/task/<tid>/schedstat`: run ns, wait ns, timeslices), or undefined when the kernel
 * keeps no schedstats.
 */
export function schedTimes(pid: number): SchedTimes | undefined {
  try {
    const times = new Map<string, { run: number; wait: number }>();
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const [run, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
        times.set(tid, { run: run! / 1e9, wait: wait! / 1e9 });
      } catch {
        // The thread ended between the listing and the read.
      }
    }
    return times;
  } catch {
    return undefined;
  }
}

/**
 * Seconds the threads waited for a core per second they ran, between two readings: a thread
 * started in between counts from zero, one that ended is left out. NaN without readings.
 */
export function runQueueWaitShare(start: SchedTimes | undefined, end: SchedTimes | undefined): number {
  if (!start || !end) return Number.NaN;
  let run = 0;
  let wait = 0;
  for (const [tid, now] of end) {
    const before = start.get(tid) ?? { run: 0, wait: 0 };
    run += now.run - before.run;
    wait += now.wait - before.wait;
  }
  return run > 0 ? wait / run : Number.NaN;
}

/** Creates a topic on the broker and waits until the name server routes all its queues. */
export async function createBenchTopic(target: BrokerTarget, topic: string, queueNums: number): Promise<void> {
  const remoting = new RemotingClient({ requestTimeoutMs: 10_000 });
  const api = new BrokerApi(remoting, 10_000);
  try {
    await api.createTopic(target.brokerAddr, topic, { readQueueNums: queueNums, writeQueueNums: queueNums });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const route = await api.getRoute(target.nameServer, topic);
      if (route?.queueDatas.some((q) => q.writeQueueNums === queueNums)) return;
      if (Date.now() > deadline) throw new Error(`topic ${topic} not routed by ${target.nameServer} within 30 s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    remoting.close();
  }
}
