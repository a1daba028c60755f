/**
 * `ferrymq crash-test`: the crash-recovery harness of test/crash, run on the user's machine and disk.
 * It starts a broker child process, drives producers and clustering consumers against it, kills it
 * (kill -9 at seeded random moments, and at named crash points) again and again, and checks after
 * every restart that no acknowledged message was lost, nothing corrupt was served, offsets stayed
 * dense and committed offsets never moved back.
 *
 * Exit codes: 0 every promise held; 1 a promise was broken (an acknowledged message lost beyond
 * what the flush mode allows, a corrupt record served, …); 2 the run itself could not complete.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { hideClientOptions, parseInteger } from './args.js';
import type { FlushMode } from '../test/crash/broker-process.js';
import {
  checkKillPlans,
  DEFAULT_CRASH_TEST_OPTIONS,
  DEFAULT_KILL_PLANS,
  runCrashTest,
  type CrashClientKind,
  type CrashTestResult,
  type CycleSummary,
} from '../test/crash/harness.js';

export interface CrashTestArgs {
  cycles: number;
  flush: FlushMode;
  client: CrashClientKind;
  producers: number;
  consumers: number;
  queues: number;
  data?: string;
  seed?: number;
  kills?: string[];
  'flush-interval-ms': number;
  json: boolean;
  keep: boolean;
  verbose: boolean;
}

function progressBar(done: number, total: number, summary: CycleSummary): string {
  const width = 30;
  const filled = Math.round((done / total) * width);
  const bad = summary.violations.length > 0 ? ' VIOLATION' : '';
  return `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} cycle ${summary.cycle}: ${summary.kill.slice(0, 48)}${bad}\u001b[K`;
}

function ms(value: number): string {
  return `${Math.round(value)} ms`;
}

/** The human-readable report. */
export function formatReport(result: CrashTestResult, verbose: boolean): string {
  const r = result.report;
  const lostBeyond = r.lost.filter((m) => !m.withinLossWindow).length;
  const lostWithin = r.lost.length - lostBeyond;
  const windows = r.unavailability.filter((w) => w.durationMs !== undefined).map((w) => w.durationMs!);
  const longestOutage = windows.length === 0 ? 0 : Math.max(...windows);
  const rows: [string, string][] = [
    ['acked (SEND_OK)', String(r.acked)],
    ['failed (broker said no)', String(r.failed)],
    ['indeterminate (timeout/reset)', `${r.indeterminate.total} (${r.indeterminate.present.length} stored, ${r.indeterminate.absent.length} not)`],
    ['lost', lostWithin > 0 ? `${lostBeyond} (+${lostWithin} within the flush interval)` : String(lostBeyond)],
    ['misplaced (not at acked offset)', String(r.misplaced.filter((m) => !m.withinLossWindow).length)],
    ['duplicated (redeliveries)', String(r.duplicated.length)],
    ['order violations', String(r.orderViolations.length)],
    ['committed offset moved back', String(r.offsetRegressions.length)],
    ['corrupt records served', String(r.invalidServed.length)],
    ['offset gaps', String(r.gaps.length)],
    ['restart after crash', `p50 ${ms(result.recoveryMs.p50)}, p99 ${ms(result.recoveryMs.p99)}, max ${ms(result.recoveryMs.max)} (n=${result.recoveryMs.count})`],
    ['restart after a clean stop', result.cleanRestartMs === undefined ? '-' : ms(result.cleanRestartMs)],
    ['empty-store start (baseline)', ms(result.startupBaselineMs)],
    ['unavailability windows', `${r.unavailability.length}, longest ${ms(longestOutage)}`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = [
    `FerryMQ crash test: ${result.cycles.length} cycles, ${result.flush === 'sync' ? 'SYNC_FLUSH' : 'ASYNC_FLUSH'}, ${result.client} client, seed ${result.seed}`,
    ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`),
  ];
  if (verbose) {
    lines.push('', '  cycle  restart   acked  failed  indet.  kill');
    for (const c of result.cycles) {
      lines.push(
        `  ${String(c.cycle).padStart(5)}  ${ms(c.restartMs).padStart(7)}  ${String(c.acked).padStart(6)}  ${String(c.failed).padStart(6)}  ${String(c.indeterminate).padStart(6)}  ${c.kill}`,
      );
    }
  }
  if (verbose) {
    const sample = (ids: readonly string[]) => (ids.length === 0 ? '-' : ids.slice(0, 20).join(' ') + (ids.length > 20 ? ` … (+${ids.length - 20})` : ''));
    lines.push(
      '',
      `  duplicated: ${sample(r.duplicated.map((d) => `${d.id}×${d.count}`))}`,
      `  indeterminate, stored: ${sample(r.indeterminate.present)}`,
      `  indeterminate, not stored: ${sample(r.indeterminate.absent)}`,
    );
  }
  const problems = [
    ...result.violations,
    ...r.lost.filter((m) => !m.withinLossWindow).slice(0, 20).map((m) => `lost ${m.id} (acked at ${m.queue}:${m.offset})`),
    ...r.orderViolations.slice(0, 20).map((v) => `order: key ${v.key}: ${v.id} not received after ${v.after ?? 'the start'}`),
    ...r.offsetRegressions.slice(0, 20).map((o) => `offset of ${o.group} queue ${o.queue} moved back to ${o.found} (expected >= ${o.expectedAtLeast})`),
    ...r.unexpected.slice(0, 20).map((id) => `never-sent id served: ${id}`),
  ];
  if (problems.length > 0) lines.push('', 'Problems:', ...problems.map((p) => `  - ${p}`));
  let verdict = 'PASS: every acknowledged message survived; nothing corrupt was served.';
  if (result.aborted) verdict = `INCOMPLETE: ${result.aborted.split('\n')[0]} (the counts above cover the cycles before it, without the final drain)`;
  else if (!result.ok) verdict = 'FAIL: a durability promise was broken (see above).';
  lines.push('', verdict);
  return lines.join('\n');
}

export const crashTestCommand: CommandModule<object, CrashTestArgs> = {
  command: 'crash-test',
  describe: 'Kill a local broker again and again (kill -9, crash points) and check that no acknowledged message is lost',
  builder: (yargs: Argv<object>) =>
    hideClientOptions(yargs)
      .option('cycles', { type: 'number', default: 20, describe: 'crash/restart cycles' })
      .option('flush', { choices: ['sync', 'async'] as const, default: 'sync' as FlushMode, describe: 'broker flush mode' })
      .option('client', {
        choices: ['wire', 'sdk'] as const,
        default: 'wire' as CrashClientKind,
        describe: 'wire: a protocol-level client that checks every acknowledged commit; sdk: FerryMQ Producer and PushConsumer',
      })
      .option('producers', { type: 'number', default: DEFAULT_CRASH_TEST_OPTIONS.producers, describe: 'producer connections' })
      .option('consumers', { type: 'number', default: DEFAULT_CRASH_TEST_OPTIONS.consumers, describe: 'clustering consumers of one group' })
      .option('queues', { type: 'number', default: DEFAULT_CRASH_TEST_OPTIONS.queues, describe: 'queues of the test topic' })
      .option('data', { type: 'string', describe: 'directory to run in (a fresh subdirectory is made; default: the system temp dir)' })
      .option('seed', { type: 'number', describe: 'seed for kill moments and crash-point hits (default: random, printed)' })
      .option('kills', {
        type: 'string',
        array: true,
        describe: `kill plans in rotation: kill9, recovery, or a crash point (default: ${DEFAULT_KILL_PLANS.join(' ')})`,
      })
      .option('flush-interval-ms', {
        type: 'number',
        default: 500,
        describe: 'ASYNC_FLUSH interval given to the broker; acked messages this close to a crash may be lost',
      })
      .option('json', { type: 'boolean', default: false, describe: 'print the report as JSON' })
      .option('keep', { type: 'boolean', default: false, describe: 'keep the data directory and history even when the run passes' })
      .option('verbose', { type: 'boolean', default: false, describe: 'print one line per cycle, and the duplicated and indeterminate ids' }) as unknown as Argv<CrashTestArgs>,
  handler: async (argv) => {
    let workDir: string | undefined;
    try {
      const cycles = parseInteger('--cycles', argv.cycles, 1);
      const kills = argv.kills && argv.kills.length > 0 ? argv.kills : DEFAULT_KILL_PLANS;
      checkKillPlans(kills);
      const seed = argv.seed ?? Math.floor(Math.random() * 2 ** 31);
      const base = resolve(argv.data ?? tmpdir());
      mkdirSync(base, { recursive: true });
      workDir = mkdtempSync(join(base, 'ferrymq-crash-'));
      const showProgress = process.stderr.isTTY === true;
      if (!argv.json) process.stderr.write(`crash-test: seed ${seed}, working in ${workDir}\n`);
      const result = await runCrashTest({
        cycles,
        flush: argv.flush,
        client: argv.client,
        producers: parseInteger('--producers', argv.producers, 1),
        consumers: parseInteger('--consumers', argv.consumers, 1),
        queues: parseInteger('--queues', argv.queues, 1),
        seed,
        dataDir: join(workDir, 'data'),
        historyPath: join(workDir, 'history.jsonl'),
        kills,
        lossWindowMs: argv.flush === 'async' ? argv['flush-interval-ms'] : 0,
        brokerEnv: {
          ...DEFAULT_CRASH_TEST_OPTIONS.brokerEnv,
          FERRYMQ_STORE_FLUSH_INTERVAL_MS: String(parseInteger('--flush-interval-ms', argv['flush-interval-ms'], 1)),
        },
        onCycle: showProgress ? (summary, done, total) => process.stderr.write(progressBar(done, total, summary)) : undefined,
      });
      if (showProgress) process.stderr.write('\n');
      process.stdout.write(argv.json ? JSON.stringify(result, null, 2) + '\n' : formatReport(result, argv.verbose) + '\n');
      if (result.ok && !argv.keep) rmSync(workDir, { recursive: true, force: true });
      else if (!argv.json) process.stderr.write(`crash-test: data and history kept in ${workDir}\n`);
      if (result.aborted && !argv.json) process.stderr.write(`crash-test: ${result.aborted}\n`);
      process.exitCode = result.aborted ? 2 : result.ok ? 0 : 1;
    } catch (error) {
      process.stderr.write(`crash-test: ${error instanceof Error ? error.message : String(error)}\n`);
      if (workDir) process.stderr.write(`crash-test: data and history kept in ${workDir}\n`);
      process.exitCode = 2;
    }
  },
};

export default crashTestCommand;
