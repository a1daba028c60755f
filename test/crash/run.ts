/**
 * The full crash suite outside vitest: `npm run test:crash -- --cycles 200 --seed S [--flush async]`.
 * Same options, report and exit codes as `ferrymq crash-test`.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { crashTestCommand } from '../../cli/crash-test.js';

await yargs(hideBin(process.argv))
  .scriptName('test:crash')
  .command({ ...crashTestCommand, command: '$0' })
  .strict()
  .help()
  .parseAsync();
