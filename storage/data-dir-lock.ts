/**
 * The data directory's exclusive lock, `<dataDir>/lock`: created with O_EXCL by `MessageStore.open`
 * before anything else in the directory is read or written, removed by `close()` or at process exit.
 *
 * File content (JSON): {"pid":1234,"hostname":"box","bootId":"<Linux boot_id or empty>",
 *                       "startedAt":"2026-11-25T07:30:00.000Z","token":"<16 random bytes, hex>"}
 *
 * An existing lock is honoured while its holder may still run:
 * - written on another host: that host's processes cannot be checked from here, so it is refused,
 *   and the error says how to clear it (a data dir shared between hosts is not otherwise detected);
 * - written before this host's last boot (boot_id differs): stale;
 * - another pid: held while `process.kill(pid, 0)` finds it (EPERM: alive, owned by another user);
 * - this pid: held while a store of this process that took it with that token is still open. A token
 *   no open store owns was left by a store whose close could not remove it (its FileIO crashed): stale.
 *   `takeOverOwnLock` also takes a lock a still-open store of this process holds, for tests that
 *   simulate a crash by abandoning a store; that store's close then writes no checkpoint or marker.
 * Unreadable content (a crash between the create and the write) is stale once it is a second old
 * (younger, its creator may still be writing it). A stale lock is replaced by rename-over of a synced
 * temp file, so the file is never missing meanwhile; two processes taking over the same stale lock at
 * the same instant are caught only if the loser re-reads after the winner renamed.
 * Release removes the file only while it still carries this holder's token.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { replaceFile, type FileIO } from './file-io.js';

export const LOCK_FILE = 'lock';
/** Anything larger is not a lock this code wrote. */
const MAX_LOCK_SIZE = 4096;
/** Rounds of create / read / take over when the file vanishes, changes or is being written. */
const MAX_ATTEMPTS = 20;
/** Unreadable content this recent may be a lock whose creator is still writing it: wait, read again. */
const UNREADABLE_GRACE_MS = 1000;
const RETRY_DELAY_MS = 100;

export interface LockHolder {
  pid: number;
  hostname: string;
  bootId: string;
  startedAt: string;
  token: string;
}

export class DataDirLockedError extends Error {
  readonly code = 'DATA_DIR_LOCKED';

  constructor(
    readonly dataDir: string,
    readonly holder: LockHolder,
  ) {
    super(
      holder.hostname === hostname()
        ? `data directory ${dataDir} is in use by process ${holder.pid} (started ${holder.startedAt})`
        : `data directory ${dataDir} is locked by process ${holder.pid} on host ${holder.hostname} (started ${holder.startedAt}); ` +
            `this host cannot tell whether it still runs: if it does not, remove ${join(dataDir, LOCK_FILE)}`,
    );
    this.name = 'DataDirLockedError';
  }
}

/** Lock files (path by token) of the stores of this process that are open; removed at exit. */
const heldByThisProcess = new Map<string, string>();
let exitHookInstalled = false;

function currentBootId(): string {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

const bootId = currentBootId();

function parseHolder(text: string): LockHolder | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    const { pid, hostname: host, bootId: boot, startedAt, token } = value;
    // pid 0 and negative pids would make process.kill signal process groups.
    if (!Number.isSafeInteger(pid) || (pid as number) <= 0) return undefined;
    if (typeof host !== 'string' || typeof boot !== 'string' || typeof startedAt !== 'string' || typeof token !== 'string') return undefined;
    return { pid: pid as number, hostname: host, bootId: boot, startedAt, token };
  } catch {
    return undefined;
  }
}

interface LockFile {
  /** undefined: unreadable content. */
  holder: LockHolder | undefined;
  mtimeMs: number;
}

/** The lock file's holder and age; `null` when there is no lock file. */
async function readLockFile(io: FileIO, path: string): Promise<LockFile | null> {
  const stats = await io.stat(path);
  if (!stats) return null;
  if (stats.size > MAX_LOCK_SIZE) return { holder: undefined, mtimeMs: stats.mtimeMs };
  let handle;
  try {
    handle = await io.open(path, 'read');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const bytes = Buffer.alloc(stats.size);
    const length = await io.read(handle, bytes, 0, bytes.length, 0);
    return { holder: parseHolder(bytes.toString('utf8', 0, length)), mtimeMs: stats.mtimeMs };
  } finally {
    await io.close(handle);
  }
}

function mayStillRun(holder: LockHolder, takeOverOwnLock: boolean): boolean {
  if (holder.hostname !== hostname()) return true;
  if (holder.bootId !== '' && bootId !== '' && holder.bootId !== bootId) return false;
  if (holder.pid === process.pid) return heldByThisProcess.has(holder.token) && !takeOverOwnLock;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Exit can only run synchronous code, so this bypasses FileIO. */
function releaseAllAtExit(): void {
  for (const [token, path] of heldByThisProcess) {
    try {
      if (parseHolder(fs.readFileSync(path, 'utf8'))?.token === token) fs.unlinkSync(path);
    } catch {
      // Nothing left to do at exit: the next open finds our pid dead and takes the lock over.
    }
  }
}

export class DataDirLock {
  private constructor(
    private readonly io: FileIO,
    private readonly path: string,
    private readonly holder: LockHolder,
  ) {}

  /** Takes the lock of `dataDir` (which must exist) or throws `DataDirLockedError`. */
  static async acquire(io: FileIO, dataDir: string, logger: Logger, options: { takeOverOwnLock?: boolean } = {}): Promise<DataDirLock> {
    const path = join(dataDir, LOCK_FILE);
    const holder: LockHolder = {
      pid: process.pid,
      hostname: hostname(),
      bootId,
      startedAt: new Date().toISOString(),
      token: randomBytes(16).toString('hex'),
    };
    const bytes = Buffer.from(JSON.stringify(holder));
    // Registered before the file exists, so a concurrent open in this process never sees it as stale.
    heldByThisProcess.set(holder.token, path);
    if (!exitHookInstalled) {
      process.on('exit', releaseAllAtExit);
      exitHookInstalled = true;
    }
    try {
      for (let attempt = 1; ; attempt++) {
        if (await createExclusive(io, path, bytes)) break;
        const previous = await readLockFile(io, path);
        if (previous?.holder && mayStillRun(previous.holder, options.takeOverOwnLock ?? false)) {
          throw new DataDirLockedError(dataDir, previous.holder);
        }
        if (previous && (previous.holder || Date.now() - previous.mtimeMs >= UNREADABLE_GRACE_MS)) {
          if (await takeOver(io, path, bytes, holder.token)) {
            logger.info({ dataDir, previous: previous.holder ?? 'unreadable' }, 'took over a stale data directory lock');
            break;
          }
        } else if (previous) {
          await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
        }
        // Otherwise released meanwhile, or another process took it over first: look again.
        if (attempt === MAX_ATTEMPTS) throw new Error(`could not lock data directory ${dataDir}: its lock file kept changing`);
      }
    } catch (err) {
      heldByThisProcess.delete(holder.token);
      throw err;
    }
    return new DataDirLock(io, path, holder);
  }

  /** Whether the lock file still carries this holder's token (false once another store took it over). */
  async isHeld(): Promise<boolean> {
    return (await readLockFile(this.io, this.path))?.holder?.token === this.holder.token;
  }

  /** Removes the lock file if it is still ours; this process forgets the lock even if that fails. */
  async release(): Promise<void> {
    try {
      if (await this.isHeld()) {
        await this.io.unlink(this.path);
        await this.io.fsyncDir(dirname(this.path));
      }
    } finally {
      heldByThisProcess.delete(this.holder.token);
    }
  }
}

/** Creates the lock file holding `bytes`; false if it exists. */
async function createExclusive(io: FileIO, path: string, bytes: Buffer): Promise<boolean> {
  let handle;
  try {
    handle = await io.open(path, 'exclusive');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    await io.writev(handle, [bytes], 0);
    await io.datasync(handle);
  } catch (err) {
    await io.close(handle).catch(() => undefined);
    await io.unlink(path).catch(() => undefined);
    throw err;
  }
  await io.close(handle);
  await io.fsyncDir(dirname(path));
  return true;
}

/** Replaces a stale lock with ours; false if another process replaced it at the same time. */
async function takeOver(io: FileIO, path: string, bytes: Buffer, token: string): Promise<boolean> {
  try {
    await replaceFile(io, path, bytes);
  } catch (err) {
    // The other taker renamed the shared temp file away first.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  return (await readLockFile(io, path))?.holder?.token === token;
}
