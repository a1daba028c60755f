/**
 * Every byte the storage engine reads or writes goes through `FileIO`, so tests (and the crash kit)
 * can substitute `CrashSimFileIO`, which forgets unsynced bytes on a simulated power loss and can
 * inject ENOSPC. Handles are small objects carrying the path they were opened with.
 */
import fs from 'node:fs';
import { dirname } from 'node:path';

export interface FileHandle {
  readonly path: string;
  readonly fd: number;
}

export interface FileStats {
  size: number;
  mtimeMs: number;
  isDirectory: boolean;
}

export interface FsUsage {
  totalBytes: number;
  freeBytes: number;
}

/**
 * `read`: existing file, read-only. `write`: existing file, read-write. `create`: read-write, created if
 * missing. `exclusive`: read-write, created; fails with EEXIST if the file exists (O_EXCL).
 */
export type OpenMode = 'read' | 'write' | 'create' | 'exclusive';

export interface OpenOptions {
  /**
   * O_DSYNC: every write through the handle returns only once its bytes (and the metadata needed to
   * read them back, such as the file size) are durable, as if each were followed by fdatasync. Writes
   * are durable one by one, so several can be in flight at once, unlike write-then-fdatasync rounds.
   */
  dsync?: boolean;
}

export interface FileIO {
  open(path: string, mode: OpenMode, options?: OpenOptions): Promise<FileHandle>;
  close(handle: FileHandle): Promise<void>;
  /** Writes every byte of `buffers` at `position` or throws (a short write is continued, then fails with its errno). */
  writev(handle: FileHandle, buffers: readonly Buffer[], position: number): Promise<void>;
  /**
   * `writev` on the calling thread (blocks it until the kernel returns): for writes that only copy
   * into the page cache, where a threadpool round trip costs more than the copy. Same contract.
   */
  writevSync(handle: FileHandle, buffers: readonly Buffer[], position: number): void;
  /** Reads up to `length` bytes; returns how many were read (fewer at end of file). */
  read(handle: FileHandle, target: Buffer, targetOffset: number, length: number, position: number): Promise<number>;
  /**
   * `read` on the calling thread: for bytes just written, which the page cache still holds, so
   * the read is a copy and a threadpool round trip would cost more. Same contract.
   */
  readSync(handle: FileHandle, target: Buffer, targetOffset: number, length: number, position: number): number;
  datasync(handle: FileHandle): Promise<void>;
  truncate(handle: FileHandle, length: number): Promise<void>;
  /** fsync of a directory, making created/renamed/removed entries durable. */
  fsyncDir(path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** undefined when the path does not exist. */
  stat(path: string): Promise<FileStats | undefined>;
  mkdir(path: string): Promise<void>;
  /** Entry names; empty when the directory does not exist. */
  readdir(path: string): Promise<string[]>;
  removeDir(path: string): Promise<void>;
  statfs(path: string): Promise<FsUsage>;
}

// Not 'a+' for create: it forces O_APPEND, which ignores positions on Linux.
const OPEN_FLAGS: Record<OpenMode, number> = {
  read: fs.constants.O_RDONLY,
  write: fs.constants.O_RDWR,
  create: fs.constants.O_CREAT | fs.constants.O_RDWR,
  exclusive: fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_RDWR,
};

function settle<T>(resolve: (value: T) => void, reject: (err: Error) => void) {
  return (err: NodeJS.ErrnoException | null, value?: T) => (err ? reject(err) : resolve(value as T));
}

/** The real thing: Node's callback fs API (cheaper than fs/promises' FileHandle on the hot path). */
export class NodeFileIO implements FileIO {
  open(path: string, mode: OpenMode, options?: OpenOptions): Promise<FileHandle> {
    const flags = OPEN_FLAGS[mode] | (options?.dsync ? fs.constants.O_DSYNC : 0);
    return new Promise((resolve, reject) => fs.open(path, flags, 0o644, (err, fd) => (err ? reject(err) : resolve({ path, fd }))));
  }

  close(handle: FileHandle): Promise<void> {
    return new Promise((resolve, reject) => fs.close(handle.fd, settle(resolve, reject)));
  }

  async writev(handle: FileHandle, buffers: readonly Buffer[], position: number): Promise<void> {
    let remaining = buffers as Buffer[];
    let at = position;
    for (;;) {
      const total = remaining.reduce((sum, b) => sum + b.length, 0);
      if (total === 0) return;
      const written = await new Promise<number>((resolve, reject) =>
        fs.writev(handle.fd, remaining, at, (err, bytes) => (err ? reject(err) : resolve(bytes))),
      );
      if (written === total) return;
      // Short write (e.g. the disk filled up mid-way): continue; the next call reports the errno.
      at += written;
      remaining = skipBytes(remaining, written);
    }
  }

  writevSync(handle: FileHandle, buffers: readonly Buffer[], position: number): void {
    let remaining = buffers as Buffer[];
    let at = position;
    for (;;) {
      let total = 0;
      for (const buffer of remaining) total += buffer.length;
      if (total === 0) return;
      const written = fs.writevSync(handle.fd, remaining, at);
      if (written === total) return;
      // Short write (e.g. the disk filled up mid-way): continue; the next call throws the errno.
      at += written;
      remaining = skipBytes(remaining, written);
    }
  }

  read(handle: FileHandle, target: Buffer, targetOffset: number, length: number, position: number): Promise<number> {
    return new Promise((resolve, reject) =>
      fs.read(handle.fd, target, targetOffset, length, position, (err, bytes) => (err ? reject(err) : resolve(bytes))),
    );
  }

  readSync(handle: FileHandle, target: Buffer, targetOffset: number, length: number, position: number): number {
    return fs.readSync(handle.fd, target, targetOffset, length, position);
  }

  datasync(handle: FileHandle): Promise<void> {
    return new Promise((resolve, reject) => fs.fdatasync(handle.fd, settle(resolve, reject)));
  }

  truncate(handle: FileHandle, length: number): Promise<void> {
    return new Promise((resolve, reject) => fs.ftruncate(handle.fd, length, settle(resolve, reject)));
  }

  async fsyncDir(path: string): Promise<void> {
    const fd = await new Promise<number>((resolve, reject) =>
      fs.open(path, 'r', (err, value) => (err ? reject(err) : resolve(value))),
    );
    try {
      await new Promise<void>((resolve, reject) => fs.fsync(fd, settle(resolve, reject)));
    } finally {
      await new Promise<void>((resolve) => fs.close(fd, () => resolve()));
    }
  }

  rename(from: string, to: string): Promise<void> {
    return new Promise((resolve, reject) => fs.rename(from, to, settle(resolve, reject)));
  }

  unlink(path: string): Promise<void> {
    return new Promise((resolve, reject) =>
      fs.unlink(path, (err) => (err && err.code !== 'ENOENT' ? reject(err) : resolve())),
    );
  }

  stat(path: string): Promise<FileStats | undefined> {
    return new Promise((resolve, reject) =>
      fs.stat(path, (err, stats) => {
        if (err) return err.code === 'ENOENT' ? resolve(undefined) : reject(err);
        resolve({ size: stats.size, mtimeMs: stats.mtimeMs, isDirectory: stats.isDirectory() });
      }),
    );
  }

  async mkdir(path: string): Promise<void> {
    await fs.promises.mkdir(path, { recursive: true });
  }

  readdir(path: string): Promise<string[]> {
    return new Promise((resolve, reject) =>
      fs.readdir(path, (err, names) => {
        if (err) return err.code === 'ENOENT' ? resolve([]) : reject(err);
        resolve(names);
      }),
    );
  }

  async removeDir(path: string): Promise<void> {
    await fs.promises.rm(path, { recursive: true, force: true });
  }

  async statfs(path: string): Promise<FsUsage> {
    const stats = await fs.promises.statfs(path);
    return { totalBytes: stats.blocks * stats.bsize, freeBytes: stats.bavail * stats.bsize };
  }
}

/**
 * Replaces `path` with `bytes` so that a crash leaves either the old or the new content: temp file →
 * fdatasync → rename → fsync of the directory. `beforeRename` runs between the sync and the rename
 * (a crash point).
 */
export async function replaceFile(io: FileIO, path: string, bytes: Buffer, beforeRename?: () => void): Promise<void> {
  const temp = `${path}.tmp`;
  const handle = await io.open(temp, 'create');
  try {
    await io.truncate(handle, 0);
    await io.writev(handle, [bytes], 0);
    await io.datasync(handle);
  } finally {
    await io.close(handle);
  }
  beforeRename?.();
  await io.rename(temp, path);
  await io.fsyncDir(dirname(path));
}

/** The buffers after the first `count` bytes (sharing memory). */
export function skipBytes(buffers: readonly Buffer[], count: number): Buffer[] {
  const out: Buffer[] = [];
  let skip = count;
  for (const buffer of buffers) {
    if (skip >= buffer.length) {
      skip -= buffer.length;
      continue;
    }
    out.push(skip > 0 ? buffer.subarray(skip) : buffer);
    skip = 0;
  }
  return out;
}

/** True for errors that mean "the disk is full". */
export function isNoSpaceError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}
