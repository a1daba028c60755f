/**
 * Simulated power losses over a range of seeds, outside vitest (the suite runs one seed per case):
 * `npm run test:power-loss -- --seeds 1-60 --mode drop [--journal off] [--flush async]`.
 * One line per seed, then a summary; exit code 1 when any seed broke a durability promise.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { parseInteger, UsageError } from '../../cli/args.js';
import { runScript } from '../../cli/run.js';
import type { CrashMode } from '../../storage/crash-sim-file-io.js';
import { runPowerLoss, type PowerLossResult } from './power-loss.js';

/** `7` or `1-60`: the seeds, in order. */
export function parseSeedRange(text: string): number[] {
  const match = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
  if (!match) throw new UsageError(`--seeds must be N or FROM-TO (non-negative integers), got "${text}"`);
  const from = Number(match[1]);
  const to = match[2] === undefined ? from : Number(match[2]);
  if (to < from) throw new UsageError(`--seeds ${text}: the range ends before it starts`);
  if (to - from >= 100_000) throw new UsageError(`--seeds ${text}: at most 100,000 seeds per run`);
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** What one run broke (empty when every promise held; ASYNC_FLUSH may lose what was acknowledged within its loss window). */
export function powerLossProblems(result: PowerLossResult): string[] {
  const r = result.report;
  const problems = [
    ...result.violations,
    ...r.lost.filter((m) => !m.withinLossWindow).map((m) => `lost ${m.id} (acked at ${m.queue}:${m.offset})`),
    ...r.misplaced.filter((m) => !m.withinLossWindow).map((m) => `misplaced ${m.id} (acked at ${m.queue}:${m.offset})`),
    ...r.invalidServed.map((s) => `corrupt record served at ${s.queue}:${s.offset}`),
    ...r.gaps.map((g) => `offset gap in queue ${g.queue}: ${g.after} then ${g.next}`),
  ];
  if (problems.length === 0 && !r.ok) problems.push('the history check failed (order, offsets or unexpected ids)');
  return problems;
}

interface SweepArgs {
  seeds: string;
  mode: CrashMode;
  journal: 'on' | 'off';
  flush: 'sync' | 'async';
  cycles: number;
  queues: number;
  appenders: number;
  'flush-interval-ms': number;
  json: boolean;
}

async function sweep(args: SweepArgs): Promise<number> {
  const seeds = parseSeedRange(args.seeds);
  for (const name of ['cycles', 'queues', 'appenders', 'flush-interval-ms'] as const) parseInteger(`--${name}`, args[name], 1);
  const flushMode = args.flush === 'sync' ? 'SYNC_FLUSH' : 'ASYNC_FLUSH';
  let failed = 0;
  let acked = 0;
  for (const seed of seeds) {
    const dataDir = mkdtempSync(join(tmpdir(), 'ferrymq-power-sweep-'));
    try {
      const result = await runPowerLoss({
        dataDir,
        flushMode,
        crashMode: args.mode,
        seed,
        cycles: args.cycles,
        queues: args.queues,
        appenders: args.appenders,
        runMs: [100, 400],
        flushIntervalMs: args['flush-interval-ms'],
        // Under ASYNC_FLUSH a few intervals: the timer and the fdatasync run late on a loaded box.
        lossWindowMs: flushMode === 'SYNC_FLUSH' ? 0 : 10 * args['flush-interval-ms'],
        config: { syncJournal: args.journal === 'on' },
      });
      const problems = powerLossProblems(result);
      if (problems.length > 0) failed += 1;
      acked += result.report.acked;
      const dropped = result.cycles.reduce((n, c) => n + c.droppedBytes, 0);
      if (args.json) console.log(JSON.stringify({ seed, ok: problems.length === 0, acked: result.report.acked, droppedBytes: dropped, problems }));
      else console.log(`seed ${seed}: ${problems.length === 0 ? 'ok' : 'FAIL'}, ${result.report.acked} acked, ${dropped} unsynced bytes lost${problems.length > 0 ? `\n  ${problems.slice(0, 10).join('\n  ')}` : ''}`);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  const summary = { seeds: seeds.length, failed, acked, mode: args.mode, journal: args.journal, flush: flushMode };
  if (args.json) console.log(JSON.stringify({ summary }));
  else console.log(`${failed === 0 ? 'PASS' : 'FAIL'}: ${seeds.length - failed} of ${seeds.length} seeds kept every promise (${acked} acked appends, ${flushMode}, ${args.mode}, journal ${args.journal})`);
  return failed === 0 ? 0 : 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await runScript(
    yargs(hideBin(process.argv))
      .scriptName('test:power-loss')
      .command({
        command: '$0',
        describe: 'Simulated power losses (CrashSimFileIO) of the store over a range of seeds',
        builder: (y) =>
          y
            .option('seeds', { type: 'string', default: '1-20', describe: 'seed or range, e.g. 7 or 1-60' })
            .option('mode', { choices: ['drop', 'tear', 'random'] as const, default: 'drop' as CrashMode, describe: 'what happens to unsynced bytes' })
            .option('journal', { choices: ['on', 'off'] as const, default: 'on' as const, describe: 'SYNC_FLUSH through the shared journal (store.syncJournal)' })
            .option('flush', { choices: ['sync', 'async'] as const, default: 'sync' as const, describe: 'store flush mode' })
            .option('cycles', { type: 'number', default: 2, describe: 'power losses per seed' })
            .option('queues', { type: 'number', default: 3, describe: 'queues written' })
            .option('appenders', { type: 'number', default: 12, describe: 'concurrent appenders' })
            .option('flush-interval-ms', { type: 'number', default: 100, describe: 'store.flushIntervalMs' })
            .option('json', { type: 'boolean', default: false, describe: 'one JSON line per seed and a summary line' }),
        handler: async (args) => {
          process.exitCode = await sweep(args as unknown as SweepArgs);
        },
      }),
  );
}
