/**
 * Re-checks a kept crash-run history offline:
 *   npx tsx test/crash/check-history.ts <history.jsonl> [--loss-window-ms N] [--commits-durable]
 * Without the read-back and the final drain of a finished run, acknowledged messages that no consumer
 * received yet count as lost; positions and validity are not re-checked (they need the broker).
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { checkHistory } from './checker.js';
import { readHistory } from './history.js';

const argv = await yargs(hideBin(process.argv))
  .command('$0 <history>', 'check a JSON-lines crash history')
  .positional('history', { type: 'string', demandOption: true })
  .option('loss-window-ms', { type: 'number', default: 0 })
  .option('commits-durable', { type: 'boolean', default: false })
  .strict()
  .parseAsync();

const events = readHistory(argv.history as string);
const report = checkHistory(events, { lossWindowMs: argv['loss-window-ms'], commitsDurable: argv['commits-durable'] });
const kills = events.filter((e) => e.op === 'kill' && e.id.startsWith('cycle-') && !e.id.includes('-recovery')).length;
console.log(
  JSON.stringify(
    {
      events: events.length,
      kills,
      sent: report.sent,
      acked: report.acked,
      failed: report.failed,
      indeterminate: report.indeterminate.total,
      lost: report.lost.length,
      duplicated: report.duplicated.length,
      orderViolations: report.orderViolations,
      offsetRegressions: report.offsetRegressions,
      unexpected: report.unexpected,
      recoveryMs: report.recoveryMs,
      lostSample: report.lost.slice(0, 10),
    },
    null,
    2,
  ),
);
