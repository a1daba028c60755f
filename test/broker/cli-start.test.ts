/**
 * `ferrymq start` as a child process: flags and environment reach the broker, it answers on the
 * port it prints, and SIGTERM shuts it down cleanly (exit 0, clean-shutdown marker written).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { RequestCode } from '../../protocol/request-code.js';
import { ResponseCode } from '../../protocol/response-code.js';
import { RawClient } from '../helpers/broker.js';
import { tempDir } from '../helpers/common.js';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function startCli(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'cli/index.ts'), 'start', ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolveExit) => child.on('exit', (code) => resolveExit(code)));
  const listening = new Promise<number>((resolvePort, reject) => {
    const check = () => {
      const match = /listening on [^:]+:(\d+)/.exec(output);
      if (match) resolvePort(Number(match[1]));
    };
    child.stderr.on('data', check);
    void exited.then((code) => reject(new Error(`ferrymq start exited with ${code}: ${output}`)));
  });
  return { child, exited, listening, output: () => output };
}

describe('ferrymq start', () => {
  it('serves on the printed port and shuts down cleanly on SIGTERM', async () => {
    const dir = await tempDir();
    cleanups.push(dir.cleanup);
    const cli = startCli(['--port', '0', '--data', dir.path, '--flush', 'async', '--broker-name', 'broker-cli'], {
      FERRYMQ_LOG_LEVEL: 'silent',
      FERRYMQ_STORE_SEGMENT_SIZE: '65536',
    });
    const port = await cli.listening;
    const client = await RawClient.connect(port);
    const created = await client.request(RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: 'cli_topic', readQueueNums: 1, writeQueueNums: 1, perm: 6 });
    expect(created.code).toBe(ResponseCode.SUCCESS);
    const route = await client.request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'cli_topic' });
    expect(route.body!.toString()).toContain('broker-cli');
    client.close();
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
    expect(existsSync(join(dir.path, 'clean-shutdown'))).toBe(true);
  }, 60_000);

  it('refuses a bad flag value with a one-line error and exit code 2', async () => {
    const cli = startCli(['--port', '0', '--max-connections', '-5'], { FERRYMQ_LOG_LEVEL: 'silent' });
    cli.listening.catch(() => undefined);
    expect(await cli.exited).toBe(2);
    expect(cli.output()).toMatch(/maxConnections/);
  }, 60_000);
});
