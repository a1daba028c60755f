/**
 * `ferrymq start` alone, for the crash suite run from sources: the broker child is started through
 * this entry so that work in progress on other CLI commands cannot break the crash runs. Compiled
 * installs (dist/) start `cli/index.js start` instead.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { startCommand } from '../../cli/start.js';

await yargs(hideBin(process.argv)).scriptName('ferrymq').command(startCommand).demandCommand(1).strict().parseAsync();
