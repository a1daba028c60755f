/**
 * The broker as a child process for the crash harness: `ferrymq start --data <dir> --port <port>
 * --flush sync|async`, killed with SIGKILL (or by an armed crash point) and restarted on the same port.
 * Readiness is "accepts a TCP connection"; the time from spawn to that is the restart time, which
 * includes Node's own start-up (measured alone on an empty store by the first start).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type FlushMode = 'sync' | 'async';

export interface BrokerProcessOptions {
  dataDir: string;
  flush: FlushMode;
  port: number;
  /** Extra `start` arguments. */
  extraArgs?: readonly string[];
  /** Overrides `brokerCommand()`, e.g. compiled JavaScript while the caller runs from sources. */
  command?: { command: string; args: string[] };
  /** Node flags for the broker process, e.g. `--cpu-prof` (not allowed in NODE_OPTIONS). */
  nodeArgs?: readonly string[];
  /** Extra environment for the broker, e.g. FERRYMQ_STORE_SEGMENT_SIZE for tiny segments. */
  env?: Record<string, string>;
  /** Where the child's stdout/stderr go; the harness keeps the tail for error messages. */
  onOutput?: (chunk: string) => void;
}

export type BrokerExit = { code: number | null; signal: NodeJS.Signals | null };

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../..');

/**
 * How to start the broker: from TypeScript sources through tsx and `broker-main.ts` (`start` only),
 * or, in a compiled install, `dist/cli/index.js start`.
 */
export function brokerCommand(): { command: string; args: string[] } {
  const tsEntry = join(here, 'broker-main.ts');
  if (import.meta.url.endsWith('.ts') && existsSync(tsEntry)) {
    return { command: process.execPath, args: ['--import', 'tsx', tsEntry] };
  }
  return { command: process.execPath, args: [join(repoRoot, 'cli/index.js')] };
}

/** A free loopback port: bind port 0, read it, close. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolvePromise);
  });
  const address = server.address();
  await new Promise((resolvePromise) => server.close(resolvePromise));
  if (address === null || typeof address === 'string') throw new Error('could not read a free port');
  return address.port;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolvePromise(true);
    });
    socket.once('error', () => resolvePromise(false));
  });
}

export class BrokerProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<BrokerExit> | undefined;
  private outputTail = '';

  constructor(private readonly options: BrokerProcessOptions) {}

  get port(): number {
    return this.options.port;
  }

  /** The broker child's pid while it runs (the benchmarks read its peak RSS from /proc). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last few KiB the broker printed (for failure messages). */
  get output(): string {
    return this.outputTail;
  }

  /** Spawns the broker; `crashPoint` arms FERRYMQ_CRASH_POINT (e.g. `segment-roll:3`) in the child only. */
  spawn(crashPoint?: string): void {
    if (this.running) throw new Error('broker already running');
    const { command, args } = this.options.command ?? brokerCommand();
    const env = { ...process.env, ...this.options.env };
    if (crashPoint) env.FERRYMQ_CRASH_POINT = crashPoint;
    else delete env.FERRYMQ_CRASH_POINT;
    const child = spawn(
      command,
      [
        ...(this.options.nodeArgs ?? []),
        ...args,
        'start',
        '--data',
        this.options.dataDir,
        '--port',
        String(this.options.port),
        '--flush',
        this.options.flush,
        ...(this.options.extraArgs ?? []),
      ],
      { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      this.outputTail = (this.outputTail + text).slice(-8192);
      this.options.onOutput?.(text);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.child = child;
    this.exited = new Promise((resolvePromise) =>
      child.once('exit', (code, signal) => resolvePromise({ code, signal })),
    );
  }

  /**
   * Resolves 'ready' once the port accepts connections, or 'exited' if the child died first (an
   * armed crash point during recovery). Throws after `timeoutMs`.
   */
  async waitReady(timeoutMs = 30_000): Promise<'ready' | 'exited'> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) return 'exited';
      if (await canConnect(this.options.port)) return this.running ? 'ready' : 'exited';
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`broker did not accept connections on port ${this.options.port} within ${timeoutMs} ms:\n${this.outputTail}`);
  }

  /** Resolves when the child exits on its own (a fired crash point), or 'timeout'. */
  async waitExit(timeoutMs: number): Promise<BrokerExit | 'timeout'> {
    if (!this.exited) return 'timeout';
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** kill -9, then waits for the exit so the port and files are released. */
  async kill(): Promise<BrokerExit | undefined> {
    if (!this.child || !this.exited) return undefined;
    if (this.running) this.child.kill('SIGKILL');
    return this.exited;
  }

  /** Clean shutdown (SIGTERM); falls back to SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 15_000): Promise<BrokerExit | undefined> {
    if (!this.child || !this.exited) return undefined;
    if (this.running) this.child.kill('SIGTERM');
    const exit = await this.waitExit(timeoutMs);
    if (exit === 'timeout') return this.kill();
    return exit;
  }
}
