/**
 * The crash cycle loop (issue #9). Per cycle:
 *   1. spawn the broker (child process; a named crash point armed through FERRYMQ_CRASH_POINT if the
 *      cycle's plan says so) and time it until it accepts TCP;
 *   2. verify what the previous crash left: read every new record back (valid, dense, each acked id
 *      at its (queue, offset)), send a probe per queue (it must land at max + 1, i.e. at maxOffset);
 *   3. run producers (unique ids, per-key sequential sends to one queue per key, plus delayed
 *      messages to a second topic) and clustering consumers, all recording into the history;
 *   4. kill: SIGKILL at a seeded random moment, or wait for the armed crash point to fire; the plan
 *      `recovery` crashes mid-record, then restarts once with the `recovery` crash point armed (it
 *      must die there, and the next start must recover cleanly).
 * After the last cycle: a restart and verification, a drain of every queue from the committed
 * offsets, a clean stop and restart (the fast path), a full read-back, and the checker over the
 * whole history.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Producer } from '../../client/producer.js';
import { PushConsumer } from '../../client/push-consumer.js';
import { shardingKeySelector } from '../../client/queue-selector.js';
import { RemotingClient } from '../../client/remoting-client.js';
import { BrokerResponseError, ConnectionClosedError, RequestTimeoutError } from '../../protocol/errors.js';
import { createRequest, type RemotingCommand } from '../../protocol/remoting-command.js';
import { RequestCode } from '../../protocol/request-code.js';
import { ResponseCode } from '../../protocol/response-code.js';
import { BrokerProcess, freePort, type FlushMode } from './broker-process.js';
import { checkHistory, quantiles, type CheckReport, type Quantiles, type ReadBackRecord } from './checker.js';
import { History } from './history.js';
import { randomInt, seededRandom } from './seeded-random.js';
import { harnessFields, parseServedRecords, workloadBody } from './served-records.js';

/**
 * `kill9`, a named crash point, or `recovery`: a crash in the middle of a record write, then a
 * restart that crashes inside recovery (while truncating that torn record), then a clean restart.
 */
export type KillPlan = string;

/** Named crash points the harness can arm (storage and broker side). */
export const CRASH_POINTS = [
  'append-before-fsync',
  'fsync-before-reply',
  'mid-record-write',
  'segment-roll',
  'checkpoint-write',
  'offset-transaction',
  'delay-enqueue',
] as const;

/** Points hit a few times per cycle only: their hit number is drawn from a smaller range. */
const RARE_POINT_MAX_HIT: Partial<Record<string, number>> = { 'segment-roll': 3, 'checkpoint-write': 5, 'delay-enqueue': 3 };

export const DEFAULT_KILL_PLANS: readonly KillPlan[] = ['kill9', ...CRASH_POINTS, 'kill9', 'recovery'];

/** Throws a RangeError naming the first plan that is not `kill9`, `recovery` or a crash point. */
export function checkKillPlans(plans: readonly string[]): void {
  if (plans.length === 0) throw new RangeError('at least one kill plan is required');
  const known = new Set<string>(['kill9', 'recovery', ...CRASH_POINTS]);
  for (const plan of plans) {
    if (!known.has(plan)) throw new RangeError(`unknown kill plan "${plan}"; use one of: ${[...known].join(', ')}`);
  }
}

/**
 * `wire`: producers and consumers speak the protocol directly (one send in flight per key, a static
 * queue split, an explicit commit after every batch, so acknowledged commits can be checked).
 * `sdk`: FerryMQ's own `Producer` (sharding-key selector) and clustering `PushConsumer`s (rebalance,
 * offsets committed by the SDK on its interval).
 */
export type CrashClientKind = 'wire' | 'sdk';

export interface CrashTestOptions {
  cycles: number;
  client: CrashClientKind;
  flush: FlushMode;
  producers: number;
  consumers: number;
  queues: number;
  keysPerProducer: number;
  seed: number;
  /** Broker data directory; a fresh temp directory (removed afterwards unless keepData) by default. */
  dataDir?: string;
  keepData?: boolean;
  /** JSON-lines history file; in memory only when omitted. */
  historyPath?: string;
  /** Kill plans, used in rotation (cycle i uses plans[i % length]). */
  kills: readonly KillPlan[];
  /** A kill -9 comes at a seeded random moment this many ms after the workload starts. */
  runMs: readonly [number, number];
  /** A crash point fires on its Nth hit, N seeded in [1, crashPointMaxHit]. */
  crashPointMaxHit: number;
  /** If an armed crash point has not fired after this long, the broker is killed with SIGKILL. */
  crashPointTimeoutMs: number;
  sendTimeoutMs: number;
  /** Pause between two sends of one key (keeps the history small on long runs). */
  keyPauseMs: number;
  /**
   * Keys sending delayed messages (DELAY level 1, one second) to a second, one-queue topic. They
   * are checked for delivery (their send answer names the schedule queue, not the final offset)
   * and exercise the delay enqueue path and its crash point. 0 turns them off.
   */
  delayKeys: number;
  /** Acked messages this close to a kill may be lost without failing (ASYNC_FLUSH power loss). */
  lossWindowMs: number;
  /** Extra FERRYMQ_* environment for the broker (store knobs: tiny segments, fast checkpoints). */
  brokerEnv: Record<string, string>;
  drainTimeoutMs: number;
  /** How long a broker start may take before the run is aborted (a loaded box can need many seconds). */
  startTimeoutMs: number;
  /** Fault injection for the harness's own tests: runs on the data directory after each kill. */
  afterKill?: (dataDir: string, cycle: number) => Promise<void> | void;
  onCycle?: (summary: CycleSummary, done: number, total: number) => void;
  onBrokerOutput?: (chunk: string) => void;
}

export const DEFAULT_CRASH_TEST_OPTIONS: Readonly<CrashTestOptions> = Object.freeze({
  cycles: 10,
  client: 'wire',
  flush: 'sync',
  producers: 2,
  consumers: 2,
  queues: 4,
  keysPerProducer: 4,
  seed: 1,
  kills: DEFAULT_KILL_PLANS,
  runMs: [300, 1500] as const,
  crashPointMaxHit: 40,
  crashPointTimeoutMs: 5_000,
  sendTimeoutMs: 3_000,
  keyPauseMs: 2,
  delayKeys: 1,
  lossWindowMs: 0,
  // Small segments and frequent checkpoints so roll and checkpoint crash points fire within a cycle.
  brokerEnv: { FERRYMQ_STORE_SEGMENT_SIZE: String(16 * 1024), FERRYMQ_STORE_CHECKPOINT_INTERVAL_MS: '100' },
  drainTimeoutMs: 30_000,
  startTimeoutMs: 120_000,
});

export interface CycleSummary {
  cycle: number;
  plan: KillPlan;
  /** What actually stopped the broker, e.g. `kill -9 after 812 ms`, `segment-roll:3 fired`. */
  kill: string;
  /** Spawn to accepting TCP, for the start that began this cycle. */
  restartMs: number;
  acked: number;
  failed: number;
  indeterminate: number;
  /** Invariant violations first seen in this cycle. */
  violations: string[];
}

export interface CrashTestResult {
  ok: boolean;
  /**
   * Set when the run could not finish (the broker stopped starting, for example). The report then
   * covers the history up to that point, without the final drain: acknowledged messages not yet
   * consumed show up as lost, so read it together with this message.
   */
  aborted?: string;
  report: CheckReport;
  cycles: CycleSummary[];
  /** Spawn-to-ready on the empty store: Node's own start-up, for comparison. */
  startupBaselineMs: number;
  /** Spawn-to-ready after each crash. */
  recoveryMs: Quantiles;
  /** Spawn-to-ready after the final clean stop (the clean-shutdown fast path). */
  cleanRestartMs: number | undefined;
  /** Every invariant violation, cycle-tagged. */
  violations: string[];
  flush: FlushMode;
  client: CrashClientKind;
  seed: number;
  topic: string;
  dataDir: string;
  historyPath: string | undefined;
}

const FOUND = ResponseCode.SUCCESS;
const SENT_CODES = new Set<number>([ResponseCode.SUCCESS, ResponseCode.FLUSH_DISK_TIMEOUT, ResponseCode.SLAVE_NOT_AVAILABLE, ResponseCode.FLUSH_SLAVE_TIMEOUT]);
const PULL_SUSPEND_MS = 1_000;
const PULL_BATCH = 32;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Java's String.hashCode, non-negative: queue choice by sharding key, stable across runs. */
function keyHash(key: string): number {
  let hash = 0;
  for (let i = 0; i < key.length; i++) hash = (Math.imul(hash, 31) + key.charCodeAt(i)) | 0;
  return Math.abs(hash);
}

/** Running producers or consumers of one cycle. */
interface Running {
  stop(): Promise<void>;
}

/** Resolves when `promise` settles or after `ms`, whichever comes first (shutdowns against a dead broker). */
async function settleWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise.catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

function describeError(error: unknown): { phase: 'fail' | 'info'; detail: string } {
  if (error instanceof RequestTimeoutError) return { phase: 'info', detail: 'timeout' };
  if (error instanceof ConnectionClosedError) return { phase: 'info', detail: `reset: ${error.message}` };
  return { phase: 'info', detail: error instanceof Error ? error.message : String(error) };
}

/** One crash-test run; create with `new CrashTest(options)` and call `run()` once. */
export class CrashTest {
  private readonly options: CrashTestOptions;
  private readonly random: () => number;
  private readonly history: History;
  private readonly topic: string;
  /** One-queue topic fed with delayed messages. */
  private readonly delayTopic: string;
  /** Acked delayed messages not received yet (the drain waits for them). */
  private readonly pendingDelayed = new Set<string>();
  private readonly group: string;
  private readonly address: () => string;
  private readonly dataDir: string;
  private readonly ownsDataDir: boolean;
  private broker!: BrokerProcess;
  private port = 0;
  /** Next send sequence per sharding key; ids are `<key>-<seq>`, unique for the run. */
  private readonly nextSeq = new Map<string, number>();
  /** Everything read back so far, by `queue:offset`. */
  private readonly readBack = new Map<string, ReadBackRecord>();
  /** Per queue, offsets below this were read back and verified after an earlier restart. */
  private readonly verifiedUpTo: number[];
  /** Per queue, the offset the consumers have consumed up to (drain target). */
  private readonly consumedUpTo: number[];
  /** Per queue, the end of the last acknowledged verification probe (the final drain must deliver it too). */
  private readonly probedUpTo: number[];
  /** Per queue, the committed offset read at the last verification. */
  private readonly committedAtVerify: number[];
  private readonly violations: string[] = [];
  private readonly reported = new Set<string>();
  private running = false;

  constructor(options: Partial<CrashTestOptions> = {}) {
    this.options = { ...DEFAULT_CRASH_TEST_OPTIONS, ...options };
    const o = this.options;
    if (o.cycles < 0 || o.producers < 1 || o.consumers < 1 || o.queues < 1 || o.keysPerProducer < 1) {
      throw new RangeError('cycles >= 0, producers, consumers, queues and keysPerProducer >= 1 are required');
    }
    checkKillPlans(o.kills);
    this.random = seededRandom(o.seed);
    const tag = `${o.seed}_${Date.now().toString(36)}`;
    this.topic = `crash_${tag}`;
    this.delayTopic = `crash_${tag}_delay`;
    this.group = `crash_group_${tag}`;
    this.ownsDataDir = o.dataDir === undefined;
    this.dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'ferrymq-crash-'));
    this.history = new History(o.historyPath);
    this.verifiedUpTo = new Array(o.queues).fill(0);
    this.consumedUpTo = new Array(o.queues).fill(0);
    this.probedUpTo = new Array(o.queues).fill(0);
    this.committedAtVerify = new Array(o.queues).fill(0);
    this.address = () => `127.0.0.1:${this.port}`;
  }

  async run(): Promise<CrashTestResult> {
    const o = this.options;
    this.port = await freePort();
    this.broker = new BrokerProcess({
      dataDir: this.dataDir,
      flush: o.flush,
      port: this.port,
      env: o.brokerEnv,
      onOutput: o.onBrokerOutput,
    });
    const cycles: CycleSummary[] = [];
    // Cycle i's crash point is armed when the broker starts for cycle i.
    const points = Array.from({ length: o.cycles }, (_, cycle) => {
      const plan = o.kills[cycle % o.kills.length];
      // `recovery` first leaves a torn record, so that the next recovery has a tail to truncate.
      const point = plan === 'recovery' ? 'mid-record-write' : plan;
      if (!(CRASH_POINTS as readonly string[]).includes(point)) return undefined;
      return `${point}:${randomInt(this.random, 1, Math.min(o.crashPointMaxHit, RARE_POINT_MAX_HIT[point] ?? Infinity))}`;
    });
    let baselineMs = 0;
    let restartMs = 0;
    let cleanRestartMs: number | undefined;
    let aborted: string | undefined;
    try {
      const baseline = await this.start('initial');
      if (baseline.outcome !== 'ready') throw new Error(`broker exited during its first start:\n${this.broker.output}`);
      baselineMs = restartMs = baseline.ms;
      await this.createTopic(this.topic, o.queues);
      if (o.delayKeys > 0) await this.createTopic(this.delayTopic, 1);
      let armedFired = false;
      if (points[0] !== undefined) {
        await this.broker.stop();
        ({ ms: restartMs, fired: armedFired } = await this.startArmed('cycle-0', points[0]));
      }
      for (let cycle = 0; cycle < o.cycles; cycle++) {
        const summary = await this.runCycle(cycle, restartMs, points[cycle], armedFired);
        cycles.push(summary);
        o.onCycle?.(summary, cycle + 1, o.cycles);
        ({ ms: restartMs, fired: armedFired } = await this.restartAfterCrash(cycle, summary, points[cycle + 1]));
      }
      cleanRestartMs = await this.finish();
    } catch (error) {
      // The run cannot go on (the broker no longer starts, say): report what the history shows so far.
      aborted = `run aborted after ${cycles.length} of ${o.cycles} cycles: ${error instanceof Error ? error.message : String(error)}`;
    }
    try {
      const report = checkHistory(this.history.events, {
        readBack: [...this.readBack.values()],
        lossWindowMs: o.flush === 'async' ? o.lossWindowMs : 0,
        commitsDurable: o.flush === 'sync',
      });
      // An aborted run never read back what its last cycle acknowledged: only positions a
      // verification covered can be called misplaced.
      if (aborted) report.misplaced = report.misplaced.filter((m) => m.offset < this.verifiedUpTo[m.queue]);
      const restarts = cycles.map((c) => c.restartMs).slice(1);
      const recoveryMs = quantiles(aborted ? restarts : restarts.concat(restartMs));
      report.recoveryMs = recoveryMs;
      return {
        ok: aborted === undefined && report.ok && this.violations.length === 0,
        aborted,
        report,
        cycles,
        startupBaselineMs: baselineMs,
        recoveryMs,
        cleanRestartMs,
        violations: this.violations,
        flush: o.flush,
        client: o.client,
        seed: o.seed,
        topic: this.topic,
        dataDir: this.dataDir,
        historyPath: o.historyPath,
      };
    } finally {
      this.running = false;
      await this.broker.kill();
      this.history.close();
      if (this.ownsDataDir && !o.keepData) rmSync(this.dataDir, { recursive: true, force: true });
    }
  }

  /** Spawns the broker and waits until it accepts TCP (or dies, when a recovery crash point is armed). */
  private async start(id: string, crashPoint?: string): Promise<{ outcome: 'ready' | 'exited'; ms: number }> {
    const invoked = this.history.record({ op: 'start', phase: 'invoke', id, key: '', detail: crashPoint });
    this.broker.spawn(crashPoint);
    const outcome = await this.broker.waitReady(this.options.startTimeoutMs);
    const done = this.history.record({ op: 'start', phase: outcome === 'ready' ? 'ok' : 'fail', id, key: '' });
    return { outcome, ms: done.t - invoked.t };
  }

  /**
   * Starts the broker with `crashPoint` armed. If the point fires during start-up (it was hit by
   * recovery itself), that counts as this cycle's crash and the broker is started again unarmed.
   */
  private async startArmed(id: string, crashPoint: string | undefined): Promise<{ ms: number; fired: boolean }> {
    const first = await this.start(id, crashPoint);
    if (first.outcome === 'ready') return { ms: first.ms, fired: false };
    this.history.record({ op: 'kill', phase: 'info', id, key: '', detail: `${crashPoint} fired during start-up` });
    const again = await this.start(`${id}-unarmed`);
    if (again.outcome !== 'ready') throw new Error(`broker exited while recovering (${id}):\n${this.broker.output}`);
    return { ms: again.ms, fired: true };
  }

  private async runCycle(
    cycle: number,
    restartMs: number,
    crashPoint: string | undefined,
    firedDuringStart: boolean,
  ): Promise<CycleSummary> {
    const plan = this.options.kills[cycle % this.options.kills.length];
    const before = this.history.events.length;
    const violationsBefore = this.violations.length;
    const summary: CycleSummary = { cycle, plan, kill: '', restartMs, acked: 0, failed: 0, indeterminate: 0, violations: [] };
    // Fired during start-up: the broker now runs unarmed, and this cycle ends with a kill -9.
    const armed = firedDuringStart ? undefined : crashPoint;
    const prefix = firedDuringStart ? `${crashPoint} fired during start-up; ` : '';

    if (!(await this.verify(cycle))) {
      summary.kill = armed ? `${prefix}${armed} fired during verification` : `${prefix}broker died during verification`;
      await this.broker.kill();
    } else {
      summary.kill = prefix + (await this.workloadUntilKill(cycle, armed));
    }
    this.history.record({ op: 'kill', phase: 'info', id: `cycle-${cycle}`, key: '', detail: summary.kill });
    await this.options.afterKill?.(this.dataDir, cycle);

    for (const event of this.history.events.slice(before)) {
      if (event.op !== 'send' || event.phase === 'invoke') continue;
      if (event.phase === 'ok') summary.acked++;
      else if (event.phase === 'fail') summary.failed++;
      else summary.indeterminate++;
    }
    summary.violations = this.violations.slice(violationsBefore);
    return summary;
  }

  /** Restarts after the cycle's crash, arming the next cycle's point; `recovery` first crashes inside recovery once. */
  private async restartAfterCrash(cycle: number, summary: CycleSummary, nextPoint: string | undefined): Promise<{ ms: number; fired: boolean }> {
    if (summary.plan === 'recovery') {
      const crashed = await this.start(`cycle-${cycle}-recovery`, 'recovery');
      if (crashed.outcome === 'ready') {
        summary.kill += '; recovery crash point not reached (nothing to truncate)';
        await this.broker.kill();
      } else {
        summary.kill += '; recovery crash point fired';
        this.history.record({ op: 'kill', phase: 'info', id: `cycle-${cycle}-recovery`, key: '', detail: 'recovery' });
      }
    }
    return this.startArmed(`cycle-${cycle + 1}`, nextPoint);
  }

  /** Verifies, drains, then stops cleanly and restarts once (the clean-shutdown path); returns that restart's time. */
  private async finish(): Promise<number> {
    const cycle = this.options.cycles;
    if (!(await this.verify(cycle))) throw new Error(`broker died during the final verification:\n${this.broker.output}`);
    await this.drain();
    await this.broker.stop();
    const clean = await this.start('clean-restart');
    if (clean.outcome !== 'ready') throw new Error(`broker exited during a restart after a clean stop:\n${this.broker.output}`);
    // The final read-back covers every record from offset 0, so damage to old data is caught too.
    this.verifiedUpTo.fill(0);
    if (!(await this.readBackAll(cycle))) throw new Error(`broker died during the final read-back:\n${this.broker.output}`);
    await this.broker.stop();
    return clean.ms;
  }

  private newClient(): RemotingClient {
    return new RemotingClient({ requestTimeoutMs: this.options.sendTimeoutMs, connectRetries: 0, connectTimeoutMs: 1_000 });
  }

  private async createTopic(topic: string, queues: number): Promise<void> {
    const client = this.newClient();
    try {
      const response = await client.invoke(
        this.address(),
        createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC, {
          topic,
          defaultTopic: 'TBW102',
          readQueueNums: queues,
          writeQueueNums: queues,
          perm: 6,
          topicFilterType: 'SINGLE_TAG',
          topicSysFlag: 0,
          order: false,
        }),
      );
      if (response.code !== FOUND) throw new Error(`creating topic ${topic}: code ${response.code} ${response.remark ?? ''}`);
    } finally {
      client.close();
    }
  }

  /** Records a violation once, tagged with the cycle that first saw it. */
  private violation(cycle: number, message: string): void {
    if (this.reported.has(message)) return;
    this.reported.add(message);
    this.violations.push(`cycle ${cycle}: ${message}`);
  }

  /**
   * After a restart: read back new records, check them against the history, and probe that new
   * sends continue at maxOffset. Returns false when the broker died meanwhile (an armed crash point).
   */
  private async verify(cycle: number): Promise<boolean> {
    if (!(await this.readBackAll(cycle))) return false;
    const report = checkHistory(this.history.events, {
      readBack: [...this.readBack.values()],
      lossWindowMs: this.options.flush === 'async' ? this.options.lossWindowMs : 0,
    });
    const note = (message: string) => this.violation(cycle, message);
    for (const m of report.misplaced.filter((x) => !x.withinLossWindow)) {
      note(`acked ${m.id} not at ${m.queue}:${m.offset} (found ${m.foundId ?? 'nothing'})`);
    }
    for (const r of report.invalidServed) note(`invalid record served at ${r.queue}:${r.offset}`);
    for (const g of report.gaps) note(`offset gap in queue ${g.queue}: ${g.after} then ${g.next}`);
    for (const id of report.unexpected) note(`record ${id} was never sent`);

    const client = this.newClient();
    try {
      // Invariant 5 input: the committed offsets as the restarted broker reports them.
      for (let queue = 0; queue < this.options.queues; queue++) {
        let committed: number;
        try {
          committed = await this.queryCommitted(client, queue);
        } catch (error) {
          if (await this.brokerDied()) return false;
          this.violation(cycle, `committed offset of queue ${queue} unreadable after a restart: ${(error as Error).message}`);
          continue;
        }
        this.committedAtVerify[queue] = committed;
        this.history.record({ op: 'offset', phase: 'ok', id: `q${queue}`, key: this.group, queue, offset: committed });
      }
      if (this.options.delayKeys > 0) {
        const committed = await this.queryCommitted(client, 0, this.delayTopic).catch(() => undefined);
        if (committed !== undefined) this.history.record({ op: 'offset', phase: 'ok', id: 'delay-q0', key: this.offsetKey(this.delayTopic), queue: 0, offset: committed });
      }
      for (let queue = 0; queue < this.options.queues; queue++) {
        // The probe is read back by the next verification like any other record.
        const max = this.verifiedUpTo[queue];
        const offset = await this.send(client, queue, `probe-q${queue}`, cycle);
        if (offset === undefined) {
          if (await this.brokerDied()) return false;
          this.violation(cycle, `probe send on queue ${queue} was not acknowledged after a restart`);
        } else if (offset !== max) {
          this.violation(cycle, `probe send on queue ${queue} got offset ${offset}, expected max + 1 = ${max}`);
        }
        if (offset !== undefined) this.probedUpTo[queue] = Math.max(this.probedUpTo[queue], offset + 1);
      }
    } finally {
      client.close();
    }
    return true;
  }

  /** After a failed request: did the broker die (an armed crash point), as opposed to misbehave? */
  private async brokerDied(): Promise<boolean> {
    // The connection reset can arrive before the child's exit is reported.
    return (await this.broker.waitExit(2_000)) !== 'timeout';
  }

  /** Reads every queue from `verifiedUpTo` to its max offset into `readBack`. False if the broker died. */
  private async readBackAll(cycle: number): Promise<boolean> {
    const client = this.newClient();
    try {
      for (let queue = 0; queue < this.options.queues; queue++) {
        const maxResponse = await client.invoke(this.address(), createRequest(RequestCode.GET_MAX_OFFSET, { topic: this.topic, queueId: queue }));
        if (maxResponse.code !== FOUND) throw new Error(`GET_MAX_OFFSET: code ${maxResponse.code} ${maxResponse.remark ?? ''}`);
        const max = Number(maxResponse.extFields.offset);
        let offset = this.verifiedUpTo[queue];
        while (offset < max) {
          const response = await this.pull(client, `${this.group}_verify`, queue, offset, { suspend: false });
          if (response.code !== FOUND || !response.body) {
            this.violation(cycle, `queue ${queue}: reading offset ${offset} of ${max} answered code ${response.code} ${response.remark ?? ''}`);
            break;
          }
          const records = parseServedRecords(response.body);
          for (const record of records) {
            if (!record.valid) {
              this.readBack.set(`${queue}:${offset}`, { queue, offset, id: undefined, valid: false });
              this.violation(cycle, `queue ${queue}: invalid record served at offset ${offset}: ${record.problem}`);
              offset = max;
              break;
            }
            if (record.queueOffset !== offset) {
              this.violation(cycle, `queue ${queue}: record at position ${offset} says queue offset ${record.queueOffset}`);
            }
            this.readBack.set(`${queue}:${record.queueOffset}`, { queue, offset: record.queueOffset, id: record.id, valid: true });
            offset = record.queueOffset + 1;
          }
          if (records.length === 0) break;
        }
        this.verifiedUpTo[queue] = Math.max(this.verifiedUpTo[queue], Math.min(offset, max));
      }
      return true;
    } catch (error) {
      if (await this.brokerDied()) return false;
      throw error;
    } finally {
      client.close();
    }
  }

  private pull(
    client: RemotingClient,
    group: string,
    queue: number,
    offset: number,
    { suspend, commitOffset = 0, topic = this.topic }: { suspend: boolean; commitOffset?: number; topic?: string },
  ): Promise<RemotingCommand> {
    const sysFlag = (commitOffset > 0 ? 1 : 0) | (suspend ? 2 : 0) | 4;
    return client.invoke(
      this.address(),
      createRequest(RequestCode.PULL_MESSAGE, {
        consumerGroup: group,
        topic,
        queueId: queue,
        queueOffset: offset,
        maxMsgNums: PULL_BATCH,
        sysFlag,
        commitOffset,
        suspendTimeoutMillis: PULL_SUSPEND_MS,
        subscription: '*',
        subVersion: 0,
      }),
      PULL_SUSPEND_MS + this.options.sendTimeoutMs,
    );
  }

  /** One recorded send; returns the queue offset when acked, undefined otherwise. */
  private async send(client: RemotingClient, queue: number, key: string, cycle: number, delayed = false): Promise<number | undefined> {
    const seq = this.nextSeq.get(key) ?? 0;
    this.nextSeq.set(key, seq + 1);
    const id = `${key}-${seq}`;
    this.history.record({ op: 'send', phase: 'invoke', id, key, queue: delayed ? undefined : queue });
    try {
      const response = await client.invoke(
        this.address(),
        createRequest(
          RequestCode.SEND_MESSAGE_V2,
          {
            a: `${this.group}_producer`,
            b: delayed ? this.delayTopic : this.topic,
            c: 'TBW102',
            d: this.options.queues,
            e: queue,
            f: 0,
            g: Date.now(),
            h: 0,
            i: `KEYS\u0001${key}\u0002TAGS\u0001c${cycle}\u0002${delayed ? 'DELAY\u00011\u0002' : ''}`,
            j: 0,
            k: false,
          },
          workloadBody(id, key),
        ),
        this.options.sendTimeoutMs,
      );
      if (SENT_CODES.has(response.code)) {
        const offset = Number(response.extFields.queueOffset);
        const detail = response.code === FOUND ? undefined : `code ${response.code}`;
        if (delayed) {
          // The answer names the schedule queue; the final offset is known only on delivery.
          this.history.record({ op: 'send', phase: 'ok', id, key, detail });
          this.pendingDelayed.add(id);
          return undefined;
        }
        this.history.record({ op: 'send', phase: 'ok', id, key, queue: Number(response.extFields.queueId), offset, detail });
        return offset;
      }
      this.history.record({ op: 'send', phase: 'fail', id, key, detail: `code ${response.code} ${response.remark ?? ''}` });
    } catch (error) {
      this.history.record({ op: 'send', phase: describeError(error).phase, id, key, detail: describeError(error).detail });
    }
    return undefined;
  }

  /** Runs producers and consumers until the broker is killed; returns how it was stopped. */
  private async workloadUntilKill(cycle: number, crashPoint: string | undefined): Promise<string> {
    const o = this.options;
    this.running = true;
    const started = performance.now();
    const sdk = o.client === 'sdk';
    const producers = sdk ? await this.startSdkProducers(cycle) : this.startWireProducers(cycle);
    const consumers = sdk ? await this.startSdkConsumers(`c${cycle}`) : this.startWireConsumers(() => this.running);
    let kill: string;
    if (crashPoint) {
      const exit = await this.broker.waitExit(o.crashPointTimeoutMs);
      if (exit === 'timeout') {
        await this.broker.kill();
        kill = `${crashPoint} not reached in ${o.crashPointTimeoutMs} ms; kill -9`;
      } else {
        kill = `${crashPoint} fired after ${Math.round(performance.now() - started)} ms`;
      }
    } else {
      const after = randomInt(this.random, o.runMs[0], o.runMs[1]);
      await sleep(after);
      await this.broker.kill();
      kill = `kill -9 after ${after} ms`;
    }
    this.running = false;
    await Promise.all([producers.stop(), consumers.stop()]);
    return kill;
  }

  private startWireProducers(cycle: number): Running {
    const clients: RemotingClient[] = [];
    const loops: Promise<void>[] = [];
    for (let p = 0; p < this.options.producers; p++) {
      const client = this.newClient();
      clients.push(client);
      for (let k = 0; k < this.options.keysPerProducer; k++) loops.push(this.produceLoop(client, `p${p}k${k}`, cycle));
    }
    if (this.options.delayKeys > 0) {
      const client = this.newClient();
      clients.push(client);
      for (let k = 0; k < this.options.delayKeys; k++) loops.push(this.produceLoop(client, `d${k}`, cycle, true));
    }
    return {
      stop: async () => {
        for (const client of clients) client.close();
        await Promise.all(loops);
      },
    };
  }

  private startWireConsumers(active: () => boolean): Running {
    const clients: RemotingClient[] = [];
    const loops: Promise<void>[] = [];
    for (let c = 0; c < this.options.consumers; c++) {
      const client = this.newClient();
      clients.push(client);
      for (let queue = c; queue < this.options.queues; queue += this.options.consumers) loops.push(this.consumeLoop(client, queue, active));
      if (c === 0 && this.options.delayKeys > 0) loops.push(this.consumeLoop(client, 0, active, this.delayTopic));
    }
    return {
      stop: async () => {
        for (const client of clients) client.close();
        await Promise.all(loops);
      },
    };
  }

  private async startSdkProducers(cycle: number): Promise<Running> {
    const o = this.options;
    const producers = Array.from(
      { length: o.producers },
      (_, p) =>
        new Producer({
          nameServer: this.address(),
          instanceName: `crash-p${p}-c${cycle}`,
          group: `${this.group}_producer`,
          sendTimeoutMs: o.sendTimeoutMs,
          // A retry would go to another queue and break the per-key order the checker verifies.
          retryTimesWhenSendFailed: 0,
          selector: shardingKeySelector,
          remoting: { connectRetries: 0, connectTimeoutMs: 1_000 },
        }),
    );
    await Promise.all(producers.map((producer) => producer.start()));
    const loops = producers.flatMap((producer, p) =>
      Array.from({ length: o.keysPerProducer }, async (_, k) => {
        const key = `p${p}k${k}`;
        while (this.running) {
          await this.sdkSend(producer, key);
          if (o.keyPauseMs > 0) await sleep(o.keyPauseMs);
        }
      }),
    );
    for (let k = 0; k < o.delayKeys; k++) {
      loops.push(
        (async () => {
          while (this.running) {
            await this.sdkSend(producers[0], `d${k}`, true);
            await sleep(Math.max(20, o.keyPauseMs));
          }
        })(),
      );
    }
    return {
      stop: async () => {
        await Promise.all(loops);
        await Promise.all(producers.map((producer) => settleWithin(producer.shutdown(), 3_000)));
      },
    };
  }

  private async sdkSend(producer: Producer, key: string, delayed = false): Promise<void> {
    const seq = this.nextSeq.get(key) ?? 0;
    this.nextSeq.set(key, seq + 1);
    const id = `${key}-${seq}`;
    this.history.record({ op: 'send', phase: 'invoke', id, key });
    try {
      const topic = delayed ? this.delayTopic : this.topic;
      const result = await producer.send({ topic, body: workloadBody(id, key), keys: key, shardingKey: key, delayLevel: delayed ? 1 : undefined });
      const detail = result.status === 'SEND_OK' ? undefined : result.status;
      if (delayed) {
        this.history.record({ op: 'send', phase: 'ok', id, key, detail });
        this.pendingDelayed.add(id);
        return;
      }
      this.history.record({ op: 'send', phase: 'ok', id, key, queue: result.queue.queueId, offset: result.queueOffset, detail });
    } catch (error) {
      // Only an answer from the broker is a definite failure; anything else may have been stored.
      const phase = error instanceof BrokerResponseError ? 'fail' : 'info';
      this.history.record({ op: 'send', phase, id, key, detail: error instanceof Error ? error.message : String(error) });
    }
  }

  /** Clustering PushConsumers of the group; every delivery is recorded. */
  private async startSdkConsumers(tag: string): Promise<Running> {
    const o = this.options;
    const consumers = Array.from({ length: o.consumers }, (_, c) =>
      new PushConsumer({
        nameServer: this.address(),
        instanceName: `crash-c${c}-${tag}`,
        group: this.group,
        consumeFromWhere: 'FIRST_OFFSET',
        persistOffsetIntervalMs: 200,
        rebalanceIntervalMs: 1_000,
        pullSuspendMs: PULL_SUSPEND_MS,
        remoting: { connectRetries: 0, connectTimeoutMs: 1_000 },
      })
        .subscribe(this.topic, '*')
        .subscribe(this.delayTopic, '*'),
    );
    // A consumer that cannot start (the broker just died at a crash point) simply takes no part.
    await Promise.allSettled(
      consumers.map((consumer) =>
        consumer.start((messages) => {
          for (const message of messages) {
            const { id, key } = harnessFields(message.body);
            if (id !== undefined) this.recordDelivery(id, key, message.topic, message.queue.queueId, message.queueOffset);
          }
        }),
      ),
    );
    return { stop: () => Promise.all(consumers.map((consumer) => settleWithin(consumer.shutdown(), 5_000))).then(() => undefined) };
  }

  private recordDelivery(id: string, key: string | undefined, topic: string, queue: number, offset: number): void {
    this.history.record({ op: 'receive', phase: 'ok', id, key: key ?? '', queue, offset });
    if (topic === this.topic) this.consumedUpTo[queue] = Math.max(this.consumedUpTo[queue], offset + 1);
    else this.pendingDelayed.delete(id);
  }

  private async produceLoop(client: RemotingClient, key: string, cycle: number, delayed = false): Promise<void> {
    const queue = delayed ? 0 : keyHash(key) % this.options.queues;
    // Delayed keys send slowly: they exist to keep the delay queue busy, not to load the broker.
    const pauseMs = delayed ? Math.max(20, this.options.keyPauseMs) : this.options.keyPauseMs;
    while (this.running) {
      await this.send(client, queue, key, cycle, delayed);
      if (pauseMs > 0) await sleep(pauseMs);
    }
  }

  /**
   * A clustering consumer of one queue: starts at the committed offset (recorded: it must never move
   * back), pulls with the commit piggybacked, records every message, commits after each batch.
   */
  private async consumeLoop(client: RemotingClient, queue: number, active: () => boolean, topic = this.topic): Promise<void> {
    let offset: number | undefined;
    while (active() && offset === undefined) {
      try {
        offset = await this.queryCommitted(client, queue, topic);
      } catch {
        if (!active()) return;
        await sleep(50);
      }
    }
    while (active() && offset !== undefined) {
      try {
        const response = await this.pull(client, this.group, queue, offset, { suspend: true, commitOffset: offset, topic });
        if (response.code === FOUND && response.body) {
          for (const record of parseServedRecords(response.body)) {
            if (!record.valid || record.id === undefined) continue;
            this.recordDelivery(record.id, record.key, topic, queue, record.queueOffset);
          }
        }
        const next = Number(response.extFields.nextBeginOffset);
        if (!Number.isFinite(next)) throw new Error(`pull answered code ${response.code} without nextBeginOffset`);
        if (next !== offset) {
          offset = next;
          await this.commit(client, queue, offset, topic);
        }
        if (topic === this.topic) this.consumedUpTo[queue] = Math.max(this.consumedUpTo[queue], offset);
      } catch {
        if (!active()) return;
        await sleep(50);
      }
    }
  }

  /** The group's committed offset of a queue; 0 when none is stored. */
  private async queryCommitted(client: RemotingClient, queue: number, topic = this.topic): Promise<number> {
    const response = await client.invoke(
      this.address(),
      createRequest(RequestCode.QUERY_CONSUMER_OFFSET, { consumerGroup: this.group, topic, queueId: queue }),
    );
    if (response.code === FOUND) return Number(response.extFields.offset);
    if (response.code === ResponseCode.QUERY_NOT_FOUND) return 0;
    throw new Error(`QUERY_CONSUMER_OFFSET: code ${response.code} ${response.remark ?? ''}`);
  }

  /** History key of a topic's offsets: the group for the main topic, `group@delay` for the delay topic. */
  private offsetKey(topic: string): string {
    return topic === this.topic ? this.group : `${this.group}@delay`;
  }

  private async commit(client: RemotingClient, queue: number, offset: number, topic = this.topic): Promise<void> {
    const key = this.offsetKey(topic);
    const id = `commit-${key}-q${queue}-${offset}`;
    this.history.record({ op: 'commit', phase: 'invoke', id, key, queue, offset });
    try {
      const response = await client.invoke(
        this.address(),
        createRequest(RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: this.group, topic, queueId: queue, commitOffset: offset }),
      );
      const phase = response.code === FOUND ? 'ok' : 'fail';
      this.history.record({ op: 'commit', phase, id, key, queue, offset, detail: phase === 'ok' ? undefined : `code ${response.code}` });
    } catch (error) {
      this.history.record({ op: 'commit', phase: 'info', id, key, queue, offset, detail: describeError(error).detail });
    }
  }

  /** Consumes every queue from its committed offset up to the current max (invariant 6). */
  private async drain(): Promise<void> {
    const o = this.options;
    // The final verification's probes come after what was read back: stopping short of them would
    // leave acknowledged probes undelivered by chance (the order check then flags them).
    const targets = this.verifiedUpTo.map((verified, queue) => Math.max(verified, this.probedUpTo[queue]));
    const deadline = Date.now() + o.drainTimeoutMs;
    const caughtUp = () => targets.every((target, queue) => this.consumedUpTo[queue] >= target) && this.pendingDelayed.size === 0;
    // Consumers start at the committed offsets: a queue with nothing after them is already drained.
    this.committedAtVerify.forEach((offset, queue) => (this.consumedUpTo[queue] = offset));
    const active = () => !caughtUp() && Date.now() < deadline;
    const consumers = o.client === 'sdk' ? await this.startSdkConsumers('drain') : this.startWireConsumers(active);
    while (active()) await sleep(50);
    await consumers.stop();
    if (!caughtUp()) {
      this.violation(
        o.cycles,
        `drain did not reach the max offsets ${JSON.stringify(targets)} within ${o.drainTimeoutMs} ms (at ${JSON.stringify(this.consumedUpTo)}; ${this.pendingDelayed.size} delayed messages undelivered)`,
      );
    }
  }
}

/** Runs one crash test with `options` over the defaults. */
export function runCrashTest(options: Partial<CrashTestOptions> = {}): Promise<CrashTestResult> {
  return new CrashTest(options).run();
}
