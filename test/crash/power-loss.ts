/**
 * Simulated power loss, in process: the store runs on `CrashSimFileIO`, concurrent appenders record
 * every append in a history, and at a seeded moment the FileIO "loses power" (unsynced bytes dropped,
 * or writes torn at 512-byte sectors). The store is then reopened on the real FileIO (crash
 * recovery) and checked with the same invariants as the kill -9 harness:
 * every acked append reads back at its (queue, offset) and validates, offsets are dense, nothing
 * invalid is served, and a new append lands at maxOffset. SYNC_FLUSH must lose nothing acked;
 * ASYNC_FLUSH may lose only appends acked within the flush window before the crash.
 *
 * Consumer offsets live in SQLite, outside FileIO, so power loss of offsets is not simulated here.
 */
import { CrashSimFileIO, type CrashMode } from '../../storage/crash-sim-file-io.js';
import { MessageStore } from '../../storage/message-store.js';
import type { StoreConfig } from '../../storage/config.js';
import { AppendStatus, type MessageStoreApi, type MessageToAppend } from '../../storage/types.js';
import { checkHistory, type CheckReport, type ReadBackRecord } from './checker.js';
import { History } from './history.js';
import { randomInt, seededRandom } from './seeded-random.js';
import { parseServedRecords, workloadBody } from './served-records.js';

export interface PowerLossOptions {
  dataDir: string;
  flushMode: StoreConfig['flushMode'];
  crashMode: CrashMode;
  seed: number;
  cycles: number;
  queues: number;
  /** Concurrent appenders; appender i writes key `k<i>` to queue i % queues. */
  appenders: number;
  /** Power is lost at a seeded moment in this range after the appenders start. */
  runMs: readonly [number, number];
  flushIntervalMs: number;
  /** Acked appends this close to the crash may be lost (ASYNC_FLUSH); 0 under SYNC_FLUSH. */
  lossWindowMs: number;
  config?: Partial<StoreConfig>;
}

export interface PowerLossResult {
  report: CheckReport;
  /** Invariant violations the checker does not cover (probe offsets, read statuses). */
  violations: string[];
  /** Per cycle: acked appends and how many unsynced bytes the crash threw away. */
  cycles: { cycle: number; acked: number; droppedBytes: number; lostAcked: number }[];
  /** Age at the crash of the oldest lost acked append, in ms (0 when nothing was lost). */
  maxLossAgeMs: number;
}

const TOPIC = 'power_loss';

function appendMessage(queueId: number, id: string, key: string): MessageToAppend {
  return {
    topic: TOPIC,
    queueId,
    body: workloadBody(id, key),
    flag: 0,
    properties: `KEYS\u0001${key}\u0002`,
    sysFlag: 0,
    bornTimestamp: Date.now(),
    bornHost: { ip: '127.0.0.1', port: 1 },
    reconsumeTimes: 0,
    tagsCode: 0,
    keys: [key],
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function runPowerLoss(options: PowerLossOptions): Promise<PowerLossResult> {
  const random = seededRandom(options.seed);
  const history = new History();
  const violations: string[] = [];
  const cycles: PowerLossResult['cycles'] = [];
  const config: Partial<StoreConfig> = {
    segmentSize: 64 * 1024,
    checkpointIntervalMs: 50,
    ...options.config,
    flushMode: options.flushMode,
    flushIntervalMs: options.flushIntervalMs,
  };
  const nextSeq = new Map<string, number>();
  const readBack = new Map<string, ReadBackRecord>();
  let previousKillAt = -1;

  for (let cycle = 0; cycle < options.cycles; cycle++) {
    const io = new CrashSimFileIO();
    const store = await MessageStore.open({ dataDir: options.dataDir, config, fileIO: io });
    if (!store.meta.getTopic(TOPIC)) {
      store.meta.putTopic({ topicName: TOPIC, readQueueNums: options.queues, writeQueueNums: options.queues, perm: 6, topicSysFlag: 0, order: false });
    }
    let running = true;
    const append = async (queueId: number, key: string): Promise<number | undefined> => {
      const seq = nextSeq.get(key) ?? 0;
      nextSeq.set(key, seq + 1);
      const id = `${key}-${seq}`;
      history.record({ op: 'send', phase: 'invoke', id, key, queue: queueId });
      try {
        const result = await store.append(appendMessage(queueId, id, key));
        if (result.status === AppendStatus.PUT_OK) {
          history.record({ op: 'send', phase: 'ok', id, key, queue: result.queueId, offset: result.queueOffset });
          return result.queueOffset;
        }
        // After the crash every append fails: it may or may not have reached the disk.
        history.record({ op: 'send', phase: running ? 'fail' : 'info', id, key, queue: queueId, detail: `${result.status}: ${result.reason}` });
      } catch (error) {
        history.record({ op: 'send', phase: 'info', id, key, queue: queueId, detail: (error as Error).message });
      }
      return undefined;
    };

    // Invariant 4 after the previous crash: a new append lands at maxOffset.
    for (let queue = 0; queue < options.queues; queue++) {
      const max = store.maxOffset(TOPIC, queue);
      const offset = await append(queue, `probe-q${queue}`);
      if (offset !== max) violations.push(`cycle ${cycle}: probe on queue ${queue} got offset ${offset}, expected ${max}`);
    }

    const ackedBefore = history.events.filter((e) => e.op === 'send' && e.phase === 'ok').length;
    const loops = Array.from({ length: options.appenders }, async (_, i) => {
      while (running) await append(i % options.queues, `k${i}`);
    });
    await sleep(randomInt(random, options.runMs[0], options.runMs[1]));
    const droppedBytes = io.unsyncedBytes();
    running = false;
    // `crash()` waits for in-flight I/O, so appends may still be acked while it runs: the crash
    // instant, for the loss window, is when it returns.
    await io.crash({ mode: options.crashMode, seed: options.seed + cycle });
    const kill = history.record({ op: 'kill', phase: 'info', id: `cycle-${cycle}`, key: '', detail: options.crashMode });
    await Promise.race([Promise.all(loops), sleep(2_000)]);
    await store.close().catch(() => undefined);

    const reopened = await MessageStore.open({ dataDir: options.dataDir, config });
    try {
      await readAll(reopened, options.queues, readBack, violations, cycle);
    } finally {
      await reopened.close();
    }
    const partial = checkHistory(history.events, { readBack: [...readBack.values()], lossWindowMs: options.lossWindowMs });
    const killedAt = kill.t;
    cycles.push({
      cycle,
      acked: history.events.filter((e) => e.op === 'send' && e.phase === 'ok').length - ackedBefore,
      droppedBytes,
      lostAcked: partial.lost.filter((m) => m.ackedAt > previousKillAt && m.ackedAt <= killedAt).length,
    });
    previousKillAt = killedAt;
  }

  const report = checkHistory(history.events, { readBack: [...readBack.values()], lossWindowMs: options.lossWindowMs });
  const kills = history.events.filter((e) => e.op === 'kill').map((e) => e.t);
  const maxLossAgeMs = report.lost.reduce((max, m) => {
    const kill = kills.find((k) => k >= m.ackedAt) ?? m.ackedAt;
    return Math.max(max, kill - m.ackedAt);
  }, 0);
  return { report, violations, cycles, maxLossAgeMs };
}

/** Reads every queue from 0 to max into `readBack` (replacing what an earlier cycle saw). */
async function readAll(
  store: MessageStoreApi,
  queues: number,
  readBack: Map<string, ReadBackRecord>,
  violations: string[],
  cycle: number,
): Promise<void> {
  for (const key of [...readBack.keys()]) readBack.delete(key);
  for (let queue = 0; queue < queues; queue++) {
    const max = store.maxOffset(TOPIC, queue);
    let offset = store.minOffset(TOPIC, queue);
    while (offset < max) {
      const result = await store.read(TOPIC, queue, offset, 256, 4 * 1024 * 1024);
      if (result.messageCount === 0) {
        violations.push(`cycle ${cycle}: queue ${queue} read at ${offset} of ${max} returned ${result.status}`);
        break;
      }
      for (const record of parseServedRecords(Buffer.concat(result.buffers))) {
        if (!record.valid) {
          readBack.set(`${queue}:${offset}`, { queue, offset, id: undefined, valid: false });
          violations.push(`cycle ${cycle}: invalid record served at ${queue}:${offset}: ${record.problem}`);
          offset = max;
          break;
        }
        readBack.set(`${queue}:${record.queueOffset}`, { queue, offset: record.queueOffset, id: record.id, valid: true });
        offset = record.queueOffset + 1;
      }
    }
  }
}
