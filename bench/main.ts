/**
 * `npm run bench [-- options]`: the `ferrymq bench` command run from sources (see cli/bench.ts and
 * docs/benchmarks.md for the options).
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { benchCommand } from '../cli/bench.js';

await yargs(hideBin(process.argv))
  .scriptName('npm run bench --')
  .command({ ...benchCommand, command: '$0' })
  .strict()
  .help()
  .parseAsync();
process.exit(process.exitCode ?? 0);
