import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CrashSimFileIO } from '../../storage/crash-sim-file-io.js';
import { DataDirLockedError, LOCK_FILE, type LockHolder } from '../../storage/data-dir-lock.js';
import { CLEAN_SHUTDOWN_FILE } from '../../storage/message-store.js';
import { AppendStatus } from '../../storage/types.js';
import { tempDir, uniqueName } from '../helpers/common.js';
import { createTopic, message, openStore } from './store-fixture.js';

const crashChild = fileURLToPath(new URL('./crash-child.ts', import.meta.url));
const bootId = (() => {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
})();

let dir: { path: string; cleanup: () => Promise<void> };
const children: ChildProcess[] = [];
beforeEach(async () => {
  dir = await tempDir('ferrymq-lock-');
});
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await dir.cleanup();
});

const lockPath = () => join(dir.path, LOCK_FILE);

async function readLock(): Promise<LockHolder> {
  return JSON.parse(await readFile(lockPath(), 'utf8')) as LockHolder;
}

function writeLock(holder: Partial<LockHolder>): Promise<void> {
  const full: LockHolder = { pid: 1, hostname: hostname(), bootId, startedAt: '2026-01-01T00:00:00.000Z', token: 'feed', ...holder };
  return writeFile(lockPath(), JSON.stringify(full));
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

/** A live process that is not this one and holds nothing. */
async function sleeper(): Promise<ChildProcess> {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  children.push(child);
  await new Promise((resolve, reject) => child.once('spawn', resolve).once('error', reject));
  return child;
}

async function expectLocked(options: Parameters<typeof openStore>[1] = {}): Promise<DataDirLockedError> {
  const err = await openStore(dir.path, options).then(
    async (store) => {
      await store.close();
      throw new Error('open succeeded on a locked data directory');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DataDirLockedError);
  return err as DataDirLockedError;
}

/** Opens, checks the store works and owns the lock, closes. */
async function expectUsable(): Promise<void> {
  const store = await openStore(dir.path);
  expect((await readLock()).pid).toBe(process.pid);
  const topic = createTopic(store, 1);
  expect((await store.append(message(topic, 0, 'after'))).status).toBe(AppendStatus.PUT_OK);
  await store.close();
}

describe('data directory lock', () => {
  it('refuses a second open in the same process while the first is open, and allows it after close', async () => {
    const first = await openStore(dir.path);
    const holder = await readLock();
    expect(holder).toMatchObject({ pid: process.pid, hostname: hostname() });
    expect(Date.parse(holder.startedAt)).toBeGreaterThan(Date.now() - 60_000);

    const err = await expectLocked();
    expect(err.message).toBe(`data directory ${dir.path} is in use by process ${process.pid} (started ${holder.startedAt})`);
    expect(await readLock()).toEqual(holder); // the refused open left the lock alone

    await first.close();
    expect(await stat(lockPath()).catch(() => undefined)).toBeUndefined();
    await expectUsable();
  });

  it('refuses while a child process holds the store open, and takes the lock over once it was SIGKILLed', async () => {
    const topic = uniqueName('L');
    const child = spawn(process.execPath, ['--import', 'tsx', crashChild, dir.path, topic, '100000'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    // The first acknowledged append proves the store is open.
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`child exited early (${code}): ${stderr}`)));
    });
    expect((await readLock()).pid).toBe(child.pid);
    expect((await expectLocked()).message).toContain(`in use by process ${child.pid}`);

    child.kill('SIGKILL');
    await exited(child);
    expect((await readLock()).pid).toBe(child.pid); // a crash leaves the lock behind
    const store = await openStore(dir.path);
    expect((await readLock()).pid).toBe(process.pid);
    expect(store.maxOffset(topic, 0)).toBeGreaterThan(0);
    await store.close();
  }, 30_000);

  it('removes the lock at process exit when the store was never closed', async () => {
    const storeModule = new URL('../../storage/message-store.ts', import.meta.url).href;
    const script = `const { MessageStore } = await import(${JSON.stringify(storeModule)});
      await MessageStore.open({ dataDir: ${JSON.stringify(dir.path)} });
      process.stdout.write(process.pid + '\\n');
      process.exit(0);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    await exited(child);
    expect(child.exitCode).toBe(0);
    expect(out.trim()).toBe(String(child.pid));
    expect(await stat(lockPath()).catch(() => undefined)).toBeUndefined();
  }, 30_000);

  it('refuses a lock naming a live pid of another process on this host', async () => {
    const sleep = await sleeper();
    await writeLock({ pid: sleep.pid, startedAt: '2026-11-25T07:00:00.000Z' });
    const err = await expectLocked();
    expect(err.message).toBe(`data directory ${dir.path} is in use by process ${sleep.pid} (started 2026-11-25T07:00:00.000Z)`);
    expect(err.holder.pid).toBe(sleep.pid);
    expect((await readLock()).pid).toBe(sleep.pid);
    // Nothing else in the directory was created by the refused open.
    expect(await stat(join(dir.path, 'meta.sqlite')).catch(() => undefined)).toBeUndefined();

    sleep.kill('SIGKILL');
    await exited(sleep);
    await expectUsable();
  });

  it.each([
    ['not JSON', 'garbage{'],
    ['empty (crash right after create)', ''],
    ['missing fields', '{"pid":123}'],
    ['pid 0', JSON.stringify({ pid: 0, hostname: hostname(), bootId, startedAt: 'x', token: 't' })],
  ])('takes over a garbage lock file: %s', async (_, content) => {
    await writeFile(lockPath(), content);
    const aMinuteAgo = new Date(Date.now() - 60_000);
    await utimes(lockPath(), aMinuteAgo, aMinuteAgo);
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const store = await openStore(dir.path, { logger });
    expect((await readLock()).pid).toBe(process.pid);
    expect(lines.some((line) => line.includes('took over a stale data directory lock'))).toBe(true);
    await store.close();
  });

  it('waits for a fresh unreadable lock to be written (its creator is mid-write) instead of taking it over', async () => {
    const sleep = await sleeper();
    await writeFile(lockPath(), '');
    setTimeout(() => void writeLock({ pid: sleep.pid }), 300);
    expect((await expectLocked()).holder.pid).toBe(sleep.pid);
  });

  it('lets exactly one of two concurrent opens in this process have the directory', async () => {
    const results = await Promise.allSettled([openStore(dir.path), openStore(dir.path)]);
    const opened = results.filter((r) => r.status === 'fulfilled');
    expect(opened).toHaveLength(1);
    expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toBeInstanceOf(DataDirLockedError);
    await (opened[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof openStore>>>).value.close();
  });

  it('takes over a lock written before this host booted, even if its pid now runs', async () => {
    if (bootId === '') return; // boot ids are Linux-only
    const sleep = await sleeper();
    await writeLock({ pid: sleep.pid, bootId: '00000000-0000-0000-0000-000000000000' });
    await expectUsable();
  });

  it('refuses a lock from another host and says how to clear it', async () => {
    await writeLock({ pid: 4242, hostname: 'elsewhere.example' });
    const err = await expectLocked();
    expect(err.message).toContain('locked by process 4242 on host elsewhere.example');
    expect(err.message).toContain(`remove ${lockPath()}`);
  });

  it('takes over a lock left by a store of this process whose close could not remove it (power loss)', async () => {
    const io = new CrashSimFileIO();
    const crashed = await openStore(dir.path, { fileIO: io });
    const topic = createTopic(crashed, 1);
    expect((await crashed.append(message(topic, 0, 'before'))).status).toBe(AppendStatus.PUT_OK);
    await io.crash();
    await crashed.close(); // fails to write; the lock file stays
    expect((await readLock()).pid).toBe(process.pid);
    await expectUsable();
  });

  it('takeOverOwnLock takes the lock of an abandoned open store, whose close then writes nothing', async () => {
    const abandoned = await openStore(dir.path);
    await expectLocked();
    const store = await openStore(dir.path, { takeOverOwnLock: true });
    const holder = await readLock();
    await abandoned.close();
    expect(await readLock()).toEqual(holder);
    expect(await stat(join(dir.path, CLEAN_SHUTDOWN_FILE)).catch(() => undefined)).toBeUndefined();
    await store.close();
    expect(await stat(lockPath()).catch(() => undefined)).toBeUndefined();
  });

  it('releases the lock when open fails after taking it', async () => {
    await mkdir(dir.path, { recursive: true });
    await writeFile(join(dir.path, 'queues'), 'a file where the queues directory belongs');
    await expect(openStore(dir.path)).rejects.toThrow();
    expect(await stat(lockPath()).catch(() => undefined)).toBeUndefined();
  });
});
