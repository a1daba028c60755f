/**
 * The `ferrymq` command: a thin registry of command modules, one file per command group.
 * `bin/ferrymq.js` loads the compiled copy of this file; `npm start` runs `ferrymq start`.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { crashTestCommand } from './crash-test.js';
import { startCommand } from './start.js';

await yargs(hideBin(process.argv))
  .scriptName('ferrymq')
  .command(startCommand)
  .command(crashTestCommand)
  .demandCommand(1, 'name a command (see --help)')
  .strict()
  .help()
  .parseAsync();
