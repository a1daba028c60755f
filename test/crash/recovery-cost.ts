/**
 * Recovery time against data size (not a CI test):
 *
 *   npx tsx test/crash/recovery-cost.ts --gib 1 [--gib 10] [--dir /tmp] [--queues 8] [--body 16384]
 *
 * For each size: fill a fresh store in process (ASYNC_FLUSH, 16 KiB bodies over 8 queues) and close
 * it cleanly; then measure
 * - `open (clean)`: MessageStore.open after the clean stop, in process;
 * - `broker (clean)`: `ferrymq start` spawned until it accepts TCP (includes Node start-up);
 * - `open (kill -9)` and `broker (kill -9)`: the same after a writer child appended for a while and
 *   was SIGKILLed (no clean-shutdown marker, an unsynced tail);
 * - `baseline`: `ferrymq start` on an empty directory (Node and module loading alone).
 * Prints one JSON line per measurement and a Markdown table. The page cache is warm (the data was
 * just written), as it is after a process crash; a cold cache after a reboot adds disk reads of the
 * checkpointed tail only.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { MessageStore } from '../../storage/message-store.js';
import type { MessageToAppend } from '../../storage/types.js';
import { BrokerProcess, freePort } from './broker-process.js';

const TOPIC = 'recovery_cost';
const GIB = 1024 ** 3;

function message(queueId: number, body: Buffer): MessageToAppend {
  return {
    topic: TOPIC,
    queueId,
    body,
    flag: 0,
    properties: '',
    sysFlag: 0,
    bornTimestamp: Date.now(),
    bornHost: { ip: '127.0.0.1', port: 1 },
    reconsumeTimes: 0,
    tagsCode: 0,
    keys: [],
  };
}

/** Appends `bytes` of bodies with 64 appends in flight, spread over the queues. */
async function fill(dataDir: string, bytes: number, queues: number, bodySize: number, flushMode: 'ASYNC_FLUSH' | 'SYNC_FLUSH', closeCleanly: boolean): Promise<number> {
  const store = await MessageStore.open({ dataDir, config: { flushMode } });
  if (!store.meta.getTopic(TOPIC)) {
    store.meta.putTopic({ topicName: TOPIC, readQueueNums: queues, writeQueueNums: queues, perm: 6, topicSysFlag: 0, order: false });
  }
  const body = Buffer.alloc(bodySize, 0x61);
  const count = Math.ceil(bytes / bodySize);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < count) {
        const i = next++;
        const result = await store.append(message(i % queues, body));
        if (result.status !== 'PUT_OK') throw new Error(`append failed: ${result.status} ${result.reason}`);
      }
    }),
  );
  const ms = performance.now() - started;
  if (closeCleanly) await store.close();
  else process.kill(process.pid, 'SIGKILL');
  return ms;
}

async function timeOpen(dataDir: string): Promise<number> {
  const started = performance.now();
  const store = await MessageStore.open({ dataDir });
  const ms = performance.now() - started;
  await store.close();
  return ms;
}

async function timeBroker(dataDir: string): Promise<number> {
  const broker = new BrokerProcess({ dataDir, flush: 'async', port: await freePort() });
  const started = performance.now();
  broker.spawn();
  const outcome = await broker.waitReady(600_000);
  const ms = performance.now() - started;
  if (outcome !== 'ready') throw new Error(`broker exited during start:\n${broker.output}`);
  await broker.stop(600_000);
  return ms;
}

/** Leaves `dataDir` as a kill -9 does: a child appends `tailBytes` more, then SIGKILLs itself. */
async function dirtyStop(dataDir: string, tailBytes: number, queues: number, bodySize: number): Promise<void> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', new URL(import.meta.url).pathname, '--writer', dataDir, '--tail-bytes', String(tailBytes), '--queues', String(queues), '--body', String(bodySize)],
    { stdio: 'inherit' },
  );
  const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, sig) => resolve(sig)));
  if (signal !== 'SIGKILL') throw new Error(`writer child ended with ${signal ?? 'an exit code'} instead of SIGKILL`);
}

const argv = await yargs(hideBin(process.argv))
  .option('gib', { type: 'number', array: true, default: [1] })
  .option('dir', { type: 'string', default: tmpdir() })
  .option('queues', { type: 'number', default: 8 })
  .option('body', { type: 'number', default: 16 * 1024 })
  .option('tail-mib', { type: 'number', default: 64, describe: 'bytes appended by the writer killed with -9' })
  .option('writer', { type: 'string', hidden: true })
  .option('tail-bytes', { type: 'number', hidden: true })
  .strict()
  .parseAsync();

if (argv.writer) {
  await fill(argv.writer, argv['tail-bytes'] ?? 0, argv.queues, argv.body, 'ASYNC_FLUSH', false);
} else {
  const rows: string[] = [];
  const emptyDir = mkdtempSync(join(argv.dir, 'ferrymq-recovery-empty-'));
  const baseline = await timeBroker(emptyDir);
  rmSync(emptyDir, { recursive: true, force: true });
  console.log(JSON.stringify({ measure: 'broker start, empty store', ms: Math.round(baseline) }));
  for (const gib of argv.gib) {
    const dataDir = mkdtempSync(join(argv.dir, `ferrymq-recovery-${gib}g-`));
    try {
      const fillMs = await fill(dataDir, gib * GIB, argv.queues, argv.body, 'ASYNC_FLUSH', true);
      console.log(JSON.stringify({ gib, measure: 'fill', ms: Math.round(fillMs) }));
      const openClean = await timeOpen(dataDir);
      const brokerClean = await timeBroker(dataDir);
      const tail = argv['tail-mib'] * 1024 * 1024;
      await dirtyStop(dataDir, tail, argv.queues, argv.body);
      const brokerDirty = await timeBroker(dataDir);
      await dirtyStop(dataDir, tail, argv.queues, argv.body);
      const openDirty = await timeOpen(dataDir);
      const result = { gib, openClean, brokerClean, openDirty, brokerDirty };
      console.log(JSON.stringify({ measure: 'recovery', ...Object.fromEntries(Object.entries(result).map(([k, v]) => [k, k === 'gib' ? v : Math.round(v)])) }));
      rows.push(
        `| ${gib} GiB | ${Math.round(openClean)} ms | ${Math.round(brokerClean)} ms | ${Math.round(openDirty)} ms | ${Math.round(brokerDirty)} ms |`,
      );
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  console.log(`\nbroker start on an empty store: ${Math.round(baseline)} ms (Node start-up and module loading)\n`);
  console.log('| data | store open, clean stop | broker start, clean stop | store open, after kill -9 | broker start, after kill -9 |');
  console.log('|---|---|---|---|---|');
  for (const row of rows) console.log(row);
}
