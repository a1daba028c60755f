/**
 * The `ferrymq` command: a thin registry of command modules, one file per command group.
 * `bin/ferrymq.cjs` loads the compiled copy of this file; `npm start` runs `ferrymq start`.
 * Exit codes: 0 ok, 1 the work failed, 2 a bad argument (see run.ts).
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ferrymqVersion } from '../broker/package-info.js';
import { DEFAULT_BROKER } from './args.js';
import { benchCommand } from './bench.js';
import { consumeCommand } from './consume.js';
import { crashTestCommand } from './crash-test.js';
import { dlqCommand } from './dlq.js';
import { groupCommand } from './group.js';
import { messageCommand } from './message.js';
import { offsetCommand } from './offset.js';
import { ExitCode } from './run.js';
import { sendCommand } from './send.js';
import { startCommand } from './start.js';
import { statusCommand } from './status.js';
import { topicCommand } from './topic.js';

// `ferrymq consume | head` closes stdout early: that ends the command, it is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(ExitCode.OK);
  throw err;
});

await yargs(hideBin(process.argv))
  .scriptName('ferrymq')
  .version(ferrymqVersion())
  .option('broker', {
    type: 'string',
    global: true,
    default: process.env.FERRYMQ_BROKER ?? DEFAULT_BROKER,
    defaultDescription: `$FERRYMQ_BROKER or ${DEFAULT_BROKER}`,
    describe: 'broker address host:port (the broker is also the name server)',
  })
  .option('timeout', { type: 'number', global: true, default: 5000, describe: 'per-request timeout in ms' })
  .command(startCommand)
  .command(topicCommand)
  .command(groupCommand)
  .command(offsetCommand)
  .command(sendCommand)
  .command(consumeCommand)
  .command(messageCommand)
  .command(dlqCommand)
  .command(statusCommand)
  .command(crashTestCommand)
  .command(benchCommand)
  .demandCommand(1, 'name a command (see --help)')
  .recommendCommands()
  .strict()
  .help()
  .alias('help', 'h')
  .wrap(Math.min(110, process.stdout.columns || 110))
  .fail((message, err) => {
    // Errors thrown by handlers are caught in run.ts; what reaches here is a bad command line.
    if (err) throw err;
    process.stderr.write(`ferrymq: ${message}\nRun "ferrymq --help" (or "ferrymq <command> --help") for usage.\n`);
    process.exit(ExitCode.BAD_ARGUMENT);
  })
  .parseAsync();
