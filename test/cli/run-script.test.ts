/**
 * `runScript`, the runner of the scripts outside the CLI (`npm run bench:floor`, `npm run
 * test:power-loss`): the CLI's exit codes, checked on a real child process since it exits.
 */
import { execFile } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** A one-command script whose handler succeeds, throws a UsageError or throws a plain Error, per `--then`. */
const SCRIPT = `
import yargs from 'yargs';
import { UsageError } from './cli/args.ts';
import { runScript } from './cli/run.ts';
await runScript(
  yargs(process.argv.slice(1)).command({
    command: '$0',
    builder: (y) => y.option('then', { choices: ['ok', 'usage', 'fail'], default: 'ok' }),
    handler: async (args) => {
      if (args.then === 'usage') throw new UsageError('--n: bad');
      if (args.then === 'fail') throw new Error('the run failed');
      console.log('done');
    },
  }),
);
`;

function runScriptWith(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT, '--', ...args], { cwd: repoRoot, timeout: 30_000 }, (error, stdout, stderr) => {
      resolveRun({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

describe('runScript', () => {
  it('exits 0 after a successful run, 2 for a bad argument and 1 for a failed run, with one line on stderr', async () => {
    const [ok, usage, failed, unknown, badChoice] = await Promise.all([
      runScriptWith([]),
      runScriptWith(['--then', 'usage']),
      runScriptWith(['--then', 'fail']),
      runScriptWith(['--bogus']),
      runScriptWith(['--then', 'maybe']),
    ]);
    expect(ok).toMatchObject({ code: 0, stdout: 'done\n', stderr: '' });
    expect(usage).toMatchObject({ code: 2, stderr: '--n: bad\n' });
    expect(failed).toMatchObject({ code: 1, stderr: 'the run failed\n' });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown argument: bogus');
    expect(badChoice.code).toBe(2);
    expect(badChoice.stderr).toContain('Invalid values');
  }, 60_000);
});
