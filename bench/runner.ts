/**
 * Runs one workload against a running broker: creates a fresh topic, spawns the consumer and
 * producer processes (child.ts), starts the producers together, and turns their result lines into
 * throughput, latency, loss and duplicate figures.
 *
 *   produce msg/s     = N / (first send -> last broker confirm), over all producers
 *   end-to-end msg/s  = N / (first send -> the consumer's commit covering its last message)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CHILD_ENTRY } from './child.js';
import { BrokerApi } from '../client/broker-api.js';
import { RemotingClient } from '../client/remoting-client.js';
import { cpuTimes, createBenchTopic, runQueueWaitShare, schedTimes, type BrokerTarget } from './targets.js';
import {
  LatencyRecorder,
  nowNs,
  SequenceTracker,
  type ChildLine,
  type ClientKind,
  type ConsumerJob,
  type ConsumerResult,
  type LatencySummary,
  type PauseSummary,
  type ProducerJob,
  type ProducerResult,
  type SendStyle,
  type Timeline,
} from './workload.js';

/** How often the responsiveness probe asks the broker. */
const PROBE_INTERVAL_MS = 20;
/** How long a child may take to exit after the workload, e.g. to write its CPU profile. */
const CHILD_EXIT_GRACE_MS = 5_000;

/** Warm-up sends in flight at once. */
const WARM_UP_CONCURRENCY = 64;

export interface WorkloadSpec {
  /** Short name used in topic names and results. */
  name: string;
  client: ClientKind;
  style: SendStyle;
  /** Total messages over all producers. */
  messages: number;
  bodySize: number;
  queues: number;
  producers: number;
  consumers: number;
  /** 'concurrent': consumers run while producing; 'after': they start once producing is done (backlog drain); 'none'. */
  consume: 'concurrent' | 'after' | 'none';
  batchSize: number;
  /** Outstanding batches (batch style) or sends (pipelined style), per producer. */
  window: number;
  ratePerSec: number;
  recordLatency: boolean;
  /**
   * `rate` style: each producer first sends this many seconds' worth of messages at the same rate,
   * delivered and checked like the rest but left out of the latency figures (`warmUpLatency` has
   * them): the first second of fresh client processes runs unoptimised code.
   */
  warmUpSeconds?: number;
  /**
   * Before the timed run, one small message to every queue (and its answer awaited), so that
   * creating the queues' directories and files is not counted as produce cost. Only with consume
   * 'none': consumers would count these messages as foreign.
   */
  warmUpQueues?: boolean;
}

export interface WorkloadOutcome {
  name: string;
  topic: string;
  /** Messages sent, warm-up included. */
  messages: number;
  warmUpMessages: number;
  produceSeconds: number;
  produceRate: number;
  /** NaN when nothing was consumed. */
  e2eSeconds: number;
  e2eRate: number;
  /** Drain rate of a backlog (consume 'after'): messages / (first receive -> last commit). */
  drainRate: number;
  failedSends: number;
  /** Confirmed by the broker but never delivered (with a consumer): the durability figure. */
  lostAcknowledged: number;
  /** Round trips of a cheap request (max offset) every 20 ms during the workload. */
  brokerResponsiveness: LatencySummary;
  /** CPU time per message in microseconds, per process kind (broker over the whole workload). */
  /** `broker` counts user and kernel time; `brokerSystem` is its kernel part (syscalls, page cache, TCP). */
  cpuUsPerMessage: { broker: number; brokerSystem: number; producers: number; consumers: number };
  /**
   * Seconds the broker's threads waited runnable for a core per second they ran (schedstat), over
   * the workload: on a box its clients share, the time the broker wanted a core and had none.
   */
  brokerRunQueueWait: number;
  /** Never delivered, failed sends included. */
  lost: number;
  duplicates: number;
  latency?: LatencySummary;
  /** Latencies of the warm-up messages (not in `latency`). */
  warmUpLatency?: LatencySummary;
  /** Fixed-rate sends: send to broker confirmation (first producer). */
  ackLatency?: LatencySummary;
  /** GC pauses and event-loop delay of the first producer and the first consumer. */
  pauses: { producer?: PauseSummary; consumer?: PauseSummary };
  produced: Timeline[];
  consumed: Timeline[];
  firstSendNs: number;
  firstError?: string;
}

export interface RunnerOptions {
  /** Script of the producer and consumer processes (child.ts, or its compiled copy). */
  childEntry?: string;
  /** Directory for V8 CPU profiles of the producer and consumer processes. */
  cpuProfDir?: string;
  /** Throughput timeline bin. */
  binMs: number;
  /** A consumer gives up after this long without a new message. */
  idleTimeoutMs: number;
  commitIntervalMs: number;
  log: (line: string) => void;
}

/**
 * Asks the broker for a queue's max offset every `intervalMs` on its own connection while a
 * workload runs: the answer times show how long the broker leaves a cheap request waiting
 * (event-loop stalls, or a full run queue), next to the message latencies.
 */
class ResponsivenessProbe {
  private readonly remoting = new RemotingClient({ requestTimeoutMs: 30_000 });
  private readonly api = new BrokerApi(this.remoting, 30_000);
  private readonly recorder = new LatencyRecorder();
  private running = true;
  private readonly loop: Promise<void>;
  private stopped: Promise<LatencySummary> | undefined;

  constructor(target: BrokerTarget, topic: string, intervalMs: number) {
    const mq = { topic, brokerName: 'broker-a', queueId: 0 };
    this.loop = (async () => {
      while (this.running) {
        const start = nowNs();
        try {
          await this.api.maxOffset(target.brokerAddr, mq);
          this.recorder.add((nowNs() - start) / 1e6);
        } catch {
          // A failed probe is not a measurement; the workload reports the broker's errors.
        }
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
      }
    })();
  }

  stop(): Promise<LatencySummary> {
    this.running = false;
    this.stopped ??= this.loop.then(() => {
      this.remoting.close();
      return this.recorder.summary();
    });
    return this.stopped;
  }
}

/** A child process speaking the JSON-line protocol of workload.ts. */
export class Child {
  private readonly proc: ChildProcess;
  private readonly waiters: { type: ChildLine['type']; resolve: (line: ChildLine) => void }[] = [];
  /** Lines that arrived before anyone waited for them. */
  private readonly unclaimed = new Map<ChildLine['type'], ChildLine>();
  private stderr = '';
  private exitError: Error | undefined;
  /** Resolves when the process has exited and its output is read. */
  readonly closed: Promise<void>;
  latestProgress: { deliveries: number; unique: number; seenBits?: string } = { deliveries: 0, unique: 0 };

  constructor(
    readonly label: string,
    role: 'producer' | 'consumer',
    job: ProducerJob | ConsumerJob,
    options: RunnerOptions,
  ) {
    const entry = options.childEntry ?? CHILD_ENTRY;
    const tsx = entry.endsWith('.ts') ? ['--import', 'tsx'] : [];
    const prof = options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${join(options.cpuProfDir, role)}`] : [];
    this.proc = spawn(process.execPath, [...tsx, ...prof, entry, role, JSON.stringify(job)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let pending = '';
    this.proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const text = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (text.startsWith('{')) this.onLine(JSON.parse(text) as ChildLine);
      }
    });
    this.proc.stdin!.on('error', () => undefined); // a child that already exited
    this.proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr = (this.stderr + chunk).slice(-4000)));
    // 'close' comes after the child's output is read to the end, so every line it sent has been
    // claimed or kept by then; a line still awaited will never come, even after a clean exit.
    let closed!: () => void;
    this.closed = new Promise((resolve) => (closed = resolve));
    this.proc.once('close', (code, signal) => {
      closed();
      const how = code === 0 ? 'exited' : `exited (${code ?? signal})`;
      this.exitError = new Error(`${label} ${how} without sending an awaited line:\n${this.stderr}`);
      for (const waiter of this.waiters.splice(0)) waiter.resolve({ type: 'ready' });
    });
  }

  private onLine(line: ChildLine): void {
    if (line.type === 'progress') this.latestProgress = line;
    const index = this.waiters.findIndex((w) => w.type === line.type);
    if (index >= 0) this.waiters.splice(index, 1)[0]!.resolve(line);
    else if (line.type !== 'progress') this.unclaimed.set(line.type, line);
  }

  async waitFor<T extends ChildLine>(type: T['type']): Promise<T> {
    const early = this.unclaimed.get(type);
    if (early) {
      this.unclaimed.delete(type);
      return early as T;
    }
    if (this.exitError) throw this.exitError;
    const line = await new Promise<ChildLine>((resolve) => this.waiters.push({ type, resolve }));
    if (this.exitError) throw this.exitError;
    return line as T;
  }

  command(text: string): void {
    if (this.proc.exitCode === null && this.proc.stdin!.writable) this.proc.stdin!.write(`${text}\n`);
  }

  /** Lets the process exit by itself for up to `graceMs` (a V8 CPU profile is written at exit), then kills it. */
  async stop(graceMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.closed, new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}

async function warmUpQueues(target: BrokerTarget, topic: string, spec: WorkloadSpec): Promise<void> {
  const remoting = new RemotingClient({ requestTimeoutMs: 10_000 });
  const api = new BrokerApi(remoting, 10_000);
  try {
    let next = 0;
    const sender = async () => {
      while (next < spec.queues) {
        const queueId = next++;
        const header = { producerGroup: 'bench_warm_up', topic, defaultTopic: 'TBW102', defaultTopicQueueNums: 4, queueId, sysFlag: 0, bornTimestamp: Date.now(), flag: 0 };
        await api.send(target.brokerAddr, header, Buffer.from('warm-up'), 10_000);
      }
    };
    await Promise.all(Array.from({ length: Math.min(WARM_UP_CONCURRENCY, spec.queues) }, sender));
  } finally {
    remoting.close();
  }
}

export async function runWorkload(target: BrokerTarget, spec: WorkloadSpec, options: RunnerOptions): Promise<WorkloadOutcome> {
  if (spec.warmUpQueues && spec.consume !== 'none') throw new Error(`workload ${spec.name}: warmUpQueues needs consume 'none'`);
  const id = randomBytes(4).toString('hex');
  const topic = `bench_${spec.name.replace(/[^a-zA-Z0-9]/g, '_')}_${id}`;
  const group = `bench_cg_${id}`;
  await createBenchTopic(target, topic, spec.queues);
  if (spec.warmUpQueues) await warmUpQueues(target, topic, spec);
  const children: Child[] = [];
  let probe: ResponsivenessProbe | undefined;
  // Producer i sends seqs [i * (perProducer + warmUp), ...): its warm-up messages first.
  const perProducer = Math.ceil(spec.messages / spec.producers);
  const warmUp = spec.style === 'rate' ? Math.round((spec.ratePerSec / spec.producers) * (spec.warmUpSeconds ?? 0)) : 0;
  const total = spec.messages + spec.producers * warmUp;
  const seqStart = (i: number) => i * (perProducer + warmUp);
  try {
    const consumerJob: ConsumerJob = {
      client: spec.client,
      nameServer: target.nameServer,
      topic,
      group,
      sequenceSpace: total,
      finishWhenComplete: spec.consumers === 1,
      reportSeen: spec.consumers > 1,
      recordLatency: spec.recordLatency,
      warmUpRanges: warmUp > 0 ? Array.from({ length: spec.producers }, (_, i): [number, number] => [seqStart(i), seqStart(i) + warmUp]) : [],
      idleTimeoutMs: options.idleTimeoutMs,
      commitIntervalMs: options.commitIntervalMs,
      binMs: options.binMs,
    };
    const startConsumers = async () => {
      const consumers = Array.from({ length: spec.consumers }, (_, i) => new Child(`consumer ${i + 1}`, 'consumer', consumerJob, options));
      children.push(...consumers);
      await Promise.all(consumers.map((c) => c.waitFor('ready')));
      return consumers;
    };
    let consumers = spec.consume === 'concurrent' ? await startConsumers() : [];

    const producers = Array.from({ length: spec.producers }, (_, i) => {
      const job: ProducerJob = {
        client: spec.client,
        nameServer: target.nameServer,
        topic,
        style: spec.style,
        messages: warmUp + Math.min(perProducer, spec.messages - i * perProducer),
        bodySize: spec.bodySize,
        seqStart: seqStart(i),
        sequenceSpace: total,
        batchSize: spec.batchSize,
        window: spec.window,
        ratePerSec: spec.ratePerSec / spec.producers,
        warmUpMessages: warmUp,
        binMs: options.binMs,
      };
      return new Child(`producer ${i + 1}`, 'producer', job, options);
    });
    children.push(...producers);
    await Promise.all(producers.map((p) => p.waitFor('ready')));
    const producerResults = producers.map((p) => p.waitFor<ProducerResult>('result'));
    probe = new ResponsivenessProbe(target, topic, PROBE_INTERVAL_MS);
    const brokerCpuStart = cpuTimes(target.brokerPid);
    const brokerSchedStart = schedTimes(target.brokerPid);
    for (const p of producers) p.command('go');
    const produced = await Promise.all(producerResults);
    const firstSendNs = Math.min(...produced.map((r) => r.firstSendNs));
    const lastConfirmNs = Math.max(...produced.map((r) => r.lastConfirmNs));
    const failedSends = produced.reduce((sum, r) => sum + r.failed, 0);
    const produceSeconds = (lastConfirmNs - firstSendNs) / 1e9;
    const firstError = produced.find((r) => r.firstError)?.firstError;
    options.log(`  ${spec.name}: ${total - failedSends}/${total} confirmed in ${produceSeconds.toFixed(2)} s${failedSends ? ` (${failedSends} failed: ${firstError})` : ''}`);

    if (spec.consume === 'after') consumers = await startConsumers();
    let consumed: ConsumerResult[] = [];
    if (consumers.length > 0) {
      const results = consumers.map((c) => c.waitFor<ConsumerResult>('result'));
      // Several consumers cannot know when the group as a whole is done (a message may reach two of
      // them after a rebalance); the orchestrator merges their bit sets and tells them.
      const watch = spec.consumers > 1 ? setInterval(() => {
        const seen = consumers.map((c) => c.latestProgress.seenBits ?? '');
        if (SequenceTracker.unionCount(total, seen) < total) return;
        clearInterval(watch);
        for (const c of consumers) c.command('finish');
      }, 100) : undefined;
      try {
        consumed = await Promise.all(results);
      } finally {
        clearInterval(watch);
      }
    }

    const brokerCpuEnd = cpuTimes(target.brokerPid);
    const brokerRunQueueWait = runQueueWaitShare(brokerSchedStart, schedTimes(target.brokerPid));
    const brokerResponsiveness = await probe.stop();
    const perMessageUs = (seconds: number) => (seconds * 1e6) / total;
    const cpuUsPerMessage = {
      broker: perMessageUs(brokerCpuEnd.user + brokerCpuEnd.system - brokerCpuStart.user - brokerCpuStart.system),
      brokerSystem: perMessageUs(brokerCpuEnd.system - brokerCpuStart.system),
      producers: perMessageUs(produced.reduce((sum, r) => sum + r.cpuSeconds, 0)),
      consumers: perMessageUs(consumed.reduce((sum, r) => sum + r.cpuSeconds, 0)),
    };
    const unique = consumed.length ? SequenceTracker.unionCount(total, consumed.map((r) => r.seenBits)) : 0;
    const deliveries = consumed.reduce((sum, r) => sum + r.deliveries, 0);
    const committedNs = Math.max(...consumed.map((r) => r.committedNs));
    const firstReceiveNs = Math.min(...consumed.map((r) => r.firstReceiveNs).filter((t) => t > 0));
    const e2eSeconds = spec.consume === 'concurrent' && consumed.length ? (committedNs - firstSendNs) / 1e9 : Number.NaN;
    const drainSeconds = spec.consume === 'after' && consumed.length ? (committedNs - firstReceiveNs) / 1e9 : Number.NaN;
    return {
      name: spec.name,
      topic,
      messages: total,
      warmUpMessages: total - spec.messages,
      produceSeconds,
      produceRate: (total - failedSends) / produceSeconds,
      e2eSeconds,
      e2eRate: unique / e2eSeconds,
      drainRate: unique / drainSeconds,
      failedSends,
      lostAcknowledged: spec.consume === 'none' ? 0 : SequenceTracker.differenceCount(total, produced.map((r) => r.confirmedBits), consumed.map((r) => r.seenBits)),
      brokerResponsiveness,
      cpuUsPerMessage,
      brokerRunQueueWait,
      lost: spec.consume === 'none' ? 0 : total - unique,
      duplicates: deliveries - unique,
      latency: consumed[0]?.latency,
      warmUpLatency: consumed[0]?.warmUpLatency,
      ackLatency: produced[0]?.ackLatency,
      pauses: { producer: produced[0]?.pauses, consumer: consumed[0]?.pauses },
      produced: produced.map((r) => r.timeline),
      consumed: consumed.map((r) => r.timeline),
      firstSendNs,
      firstError,
    };
  } finally {
    // Children that sent their result exit by themselves; one that hangs (or the workload failed) is killed.
    await Promise.all(children.map((child) => child.stop(CHILD_EXIT_GRACE_MS)));
    await probe?.stop();
  }
}
