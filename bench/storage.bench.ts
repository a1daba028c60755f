/**
 * Storage benchmark (not a test):
 * `npx tsx bench/storage.bench.ts [--seconds 2] [--runs 3] [--only SYNC] [--queues 1] [--appenders 256]
 * [--sync-journal on]`.
 * Appends 1 KiB records in SYNC_FLUSH and ASYNC_FLUSH modes with 1, 16 and 256 concurrent appenders
 * spread over 1 and 16 queues, then reads one queue back; SYNC cases also run a bare group-commit
 * loop of the same shape as the disk ceiling. Prints one JSON line per case (median of
 * the runs) and a human summary. Each run uses a fresh store in a temp directory.
 */
// fdatasync runs on libuv's threadpool; size it before the first I/O, as the broker's entry point does.
process.env.UV_THREADPOOL_SIZE ??= '16';

import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageStore } from '../storage/message-store.js';
import type { FlushMode } from '../storage/config.js';
import { AppendStatus, GetMessageStatus, type MessageToAppend } from '../storage/types.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : fallback;
};
const seconds = Number(option('seconds', '2'));
const runs = Number(option('runs', '3'));
const only = option('only', '');
const dataRoot = option('dir', tmpdir());
const onlyQueues = option('queues', '');
const onlyAppenders = option('appenders', '');
// SYNC_FLUSH through O_DSYNC writes per queue log (the store's default) or the shared journal.
const syncJournal = option('sync-journal', 'on') === 'on';

const BODY = Buffer.alloc(1024, 'x');
const PROPERTIES = 'TAGS\x01TagA\x02KEYS\x01bench\x02';

interface CaseResult {
  mode: FlushMode;
  appenders: number;
  queues: number;
  appendsPerSec: number;
  /** Process CPU time (user + system, all threads) per append while appending. */
  cpuUsPerAppend: number;
  /** SYNC_FLUSH: the bare group-commit loop of the same shape, measured right before. */
  bareSyncPerSec?: number;
  p50Ms: number;
  p99Ms: number;
  readMsgsPerSec: number;
  readMBPerSec: number;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function runCase(mode: FlushMode, appenders: number, queues: number): Promise<CaseResult> {
  const dataDir = await mkdtemp(join(dataRoot, 'ferrymq-bench-'));
  const store = await MessageStore.open({ dataDir, config: { flushMode: mode, syncJournal } });
  try {
    const topic = 'BenchTopic';
    store.meta.putTopic({ topicName: topic, readQueueNums: queues, writeQueueNums: queues, perm: 6, topicSysFlag: 0, order: false });
    const message = (queueId: number): MessageToAppend => ({
      topic,
      queueId,
      body: BODY,
      flag: 0,
      properties: PROPERTIES,
      sysFlag: 0,
      bornTimestamp: Date.now(),
      bornHost: { ip: '127.0.0.1', port: 40000 },
      reconsumeTimes: 0,
      tagsCode: 2598919, // "TagA".hashCode()
      keys: [],
    });
    // Warm-up: create every queue's first segment outside the measurement.
    await Promise.all(Array.from({ length: queues }, (_, q) => store.append(message(q))));
    // A typed array grown by doubling: a JS array of hundreds of thousands of numbers costs the
    // appenders GC and copies of its own, which the store does not.
    let latencies = new Float64Array(1 << 20);
    let count = 0;
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    const deadline = started + seconds * 1000;
    await Promise.all(
      Array.from({ length: appenders }, async (_, a) => {
        const queueId = a % queues;
        while (performance.now() < deadline) {
          const t0 = performance.now();
          const result = await store.append(message(queueId));
          if (result.status !== AppendStatus.PUT_OK) throw new Error(`append failed: ${result.status} ${result.reason}`);
          if (count === latencies.length) {
            const grown = new Float64Array(latencies.length * 2);
            grown.set(latencies);
            latencies = grown;
          }
          latencies[count] = performance.now() - t0;
          count += 1;
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const sorted = latencies.subarray(0, count).sort();

    // Read queue 0 back from the start, 32 records per read, as a consumer pulls.
    const readStart = performance.now();
    let offset = 0;
    let messages = 0;
    let bytes = 0;
    for (;;) {
      const read = await store.read(topic, 0, offset, 32, 256 * 1024);
      if (read.status !== GetMessageStatus.FOUND) break;
      messages += read.messageCount;
      for (const b of read.buffers) bytes += b.length;
      offset = read.nextBeginOffset;
    }
    const readElapsed = (performance.now() - readStart) / 1000;
    return {
      mode,
      appenders,
      queues,
      appendsPerSec: Math.round(count / elapsed),
      cpuUsPerAppend: Number(((cpu.user + cpu.system) / count).toFixed(2)),
      p50Ms: Number(percentile(sorted, 0.5).toFixed(2)),
      p99Ms: Number(percentile(sorted, 0.99).toFixed(2)),
      readMsgsPerSec: Math.round(messages / readElapsed),
      readMBPerSec: Number((bytes / readElapsed / 1e6).toFixed(1)),
    };
  } finally {
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * The disk's ceiling for one case shape, measured at the same time: a bare group-commit loop with
 * the same appenders over the same number of files (per file: take every waiting 1 KiB record, one
 * writev + fdatasync, release them), without encoding, indexes or anything else.
 */
async function bareGroupCommit(files: number, appenders: number): Promise<number> {
  const dataDir = await mkdtemp(join(dataRoot, 'ferrymq-bare-'));
  let count = 0;
  const deadline = performance.now() + seconds * 1000;
  const queues = Array.from({ length: files }, (_, f) => ({
    fd: fs.openSync(join(dataDir, `f${f}`), 'w+'),
    position: 0,
    waiting: [] as (() => void)[],
    busy: false,
  }));
  const flush = async (q: (typeof queues)[number]) => {
    q.busy = true;
    while (q.waiting.length > 0) {
      const group = q.waiting.splice(0);
      const buffers = group.map(() => BODY);
      await new Promise<void>((resolve, reject) => fs.writev(q.fd, buffers, q.position, (err) => (err ? reject(err) : resolve())));
      await new Promise<void>((resolve, reject) => fs.fdatasync(q.fd, (err) => (err ? reject(err) : resolve())));
      q.position += group.length * BODY.length;
      for (const release of group) release();
    }
    q.busy = false;
  };
  await Promise.all(
    Array.from({ length: appenders }, async (_, a) => {
      const q = queues[a % files];
      while (performance.now() < deadline) {
        await new Promise<void>((resolve) => {
          q.waiting.push(resolve);
          if (!q.busy) setImmediate(() => void flush(q));
        });
        count += 1;
      }
    }),
  );
  for (const q of queues) fs.closeSync(q.fd);
  await rm(dataDir, { recursive: true, force: true });
  return Math.round(count / seconds);
}

const summary: CaseResult[] = [];
for (const mode of ['SYNC_FLUSH', 'ASYNC_FLUSH'] as const) {
  if (only && !mode.startsWith(only)) continue;
  // --queues and --appenders pick one of the standard cases, or name another (e.g. --queues 1000).
  for (const queues of onlyQueues ? [Number(onlyQueues)] : [1, 16]) {
    for (const appenders of onlyAppenders ? [Number(onlyAppenders)] : [1, 16, 256]) {
      const results: CaseResult[] = [];
      const bare: number[] = [];
      for (let r = 0; r < runs; r++) {
        if (mode === 'SYNC_FLUSH') bare.push(await bareGroupCommit(queues, appenders));
        results.push(await runCase(mode, appenders, queues));
      }
      const pick = (key: keyof CaseResult) => median(results.map((x) => x[key] as number));
      const result: CaseResult = {
        mode,
        appenders,
        queues,
        appendsPerSec: pick('appendsPerSec'),
        cpuUsPerAppend: pick('cpuUsPerAppend'),
        ...(bare.length > 0 ? { bareSyncPerSec: median(bare) } : {}),
        p50Ms: pick('p50Ms'),
        p99Ms: pick('p99Ms'),
        readMsgsPerSec: pick('readMsgsPerSec'),
        readMBPerSec: pick('readMBPerSec'),
      };
      console.log(JSON.stringify({ bench: 'storage', runs, seconds, threadpool: Number(process.env.UV_THREADPOOL_SIZE), syncJournal, ...result }));
      summary.push(result);
    }
  }
}

console.log('\nmode         queues appenders   appends/s  cpu us/append  bare sync/s   p50 ms   p99 ms   read msg/s   read MB/s');
for (const r of summary) {
  console.log(
    `${r.mode.padEnd(12)} ${String(r.queues).padStart(6)} ${String(r.appenders).padStart(9)} ${String(r.appendsPerSec).padStart(11)} ${r.cpuUsPerAppend.toFixed(2).padStart(14)} ${String(r.bareSyncPerSec ?? '-').padStart(12)} ${r.p50Ms
      .toFixed(2)
      .padStart(8)} ${r.p99Ms.toFixed(2).padStart(8)} ${String(r.readMsgsPerSec).padStart(12)} ${r.readMBPerSec.toFixed(1).padStart(11)}`,
  );
}
const target = summary.find((r) => r.mode === 'SYNC_FLUSH' && r.appenders === 256 && r.queues === 1);
if (target) console.log(`\nSYNC group commit, 256 appenders, 1 queue: ${target.appendsPerSec} appends/s (target >= 150000)`);
if (target?.bareSyncPerSec) console.log(`bare group-commit loop of the same shape, measured alongside: ${target.bareSyncPerSec} records/s`);
