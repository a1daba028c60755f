/**
 * A FileIO for tests and the crash kit that simulates power loss in process (what LazyFS does under
 * FUSE). It writes through to real files and remembers, per file, every write since that file's
 * last fdatasync together with the bytes it overwrote. `crash()` then rewinds the files to what a
 * disk could hold after losing power:
 * - `drop`: every unsynced byte is lost (files cut back to their synced length);
 * - `tear`: each unsynced write keeps a random prefix of its 512-byte sectors;
 * - `random`: each unsynced sector independently survives or not; lost sectors inside the new
 *   length read back as zeros (the zero-filled tail of a file whose size reached the disk first).
 * Files created since their directory's last fsync disappear in `drop` mode. Truncations and renames
 * are treated as durable at once. After `crash()` every call on this instance fails, including
 * calls in flight when it happened (the dead process never saw them complete); open a fresh
 * instance to "reboot". A write that completes while an fdatasync runs counts as unsynced.
 * A write through a handle opened with `dsync` (O_DSYNC) is durable once it returns; one still in
 * flight at the crash is unsynced, so it is dropped or torn like any other. `writevSync` is tracked
 * the same way (it cannot be in flight at a crash: it completes before any other code runs).
 *
 * ENOSPC: `injectNoSpace(afterBytes)` lets that many more bytes be written, then writes fail with
 * ENOSPC after writing what fits (a partial write, as a real full disk does). `failNextSyncs(n)`
 * makes fdatasync fail with EIO.
 */
import fs from 'node:fs';
import { dirname } from 'node:path';
import { NodeFileIO, type FileHandle, type FileIO, type FileStats, type FsUsage, type OpenMode, type OpenOptions } from './file-io.js';

export type CrashMode = 'drop' | 'tear' | 'random';

const SECTOR = 512;

interface UnsyncedWrite {
  position: number;
  length: number;
  /** The bytes this write replaced, for its part below the file's length at write time. */
  preimage: Buffer;
}

interface PlannedWrite {
  track: FileTrack;
  /** The bytes that go to the file (all, or what fits before a simulated ENOSPC). */
  data: readonly Buffer[];
  write: UnsyncedWrite;
  failure: Error | undefined;
}

interface FileTrack {
  durableSize: number;
  writes: UnsyncedWrite[];
}

/** mulberry32: small, seeded, good enough to pick sectors (and crash moments) reproducibly. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class CrashSimFileIO implements FileIO {
  private readonly inner = new NodeFileIO();
  private readonly tracks = new Map<string, FileTrack>();
  private readonly createdSinceDirSync = new Set<string>();
  private readonly openHandles = new Set<FileHandle>();
  private readonly dsyncHandles = new WeakSet<FileHandle>();
  private inFlight = 0;
  private drained: (() => void) | undefined;
  private crashed = false;
  private noSpaceBudget: number | undefined;
  private usageOverride: FsUsage | undefined;
  private failingSyncs = 0;

  /** Bytes written since the last sync, over all files (for assertions). */
  unsyncedBytes(): number {
    let total = 0;
    for (const track of this.tracks.values()) for (const w of track.writes) total += w.length;
    return total;
  }

  /** After `afterBytes` more bytes, writes fail with ENOSPC; `undefined` lifts the limit. */
  injectNoSpace(afterBytes: number | undefined): void {
    this.noSpaceBudget = afterBytes;
  }

  /** The next `count` fdatasync calls or dsync writes fail with EIO (their bytes stay unsynced). */
  failNextSyncs(count: number): void {
    this.failingSyncs = count;
  }

  /** Makes `statfs` report this usage (for watermark tests); `undefined` reports the real one. */
  setFsUsage(usage: FsUsage | undefined): void {
    this.usageOverride = usage;
  }

  /** Simulated power loss; see the file comment. Waits for in-flight calls, then rewinds the files. */
  async crash(options: { mode?: CrashMode; seed?: number } = {}): Promise<void> {
    const { mode = 'drop', seed = 1 } = options;
    this.crashed = true;
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    for (const handle of this.openHandles) fs.closeSync(handle.fd);
    this.openHandles.clear();
    const random = seededRandom(seed);
    for (const [path, track] of this.tracks) {
      if (!fs.existsSync(path)) continue;
      if (mode === 'drop' && this.createdSinceDirSync.has(path)) {
        fs.unlinkSync(path);
        continue;
      }
      rewindFile(path, track, mode, random);
    }
    this.tracks.clear();
    this.createdSinceDirSync.clear();
  }

  private async guard<T>(op: () => Promise<T>): Promise<T> {
    if (this.crashed) throw Object.assign(new Error('simulated power loss: I/O after crash'), { code: 'EIO' });
    this.inFlight += 1;
    try {
      const result = await op();
      // A call that completes after the power went out was never seen by the dead process.
      if (this.crashed) throw Object.assign(new Error('simulated power loss: I/O interrupted'), { code: 'EIO' });
      return result;
    } finally {
      this.inFlight -= 1;
      if (this.inFlight === 0 && this.drained) {
        const resolve = this.drained;
        this.drained = undefined;
        resolve();
      }
    }
  }

  private guardSync(): void {
    if (this.crashed) throw Object.assign(new Error('simulated power loss: I/O after crash'), { code: 'EIO' });
  }

  private track(path: string, currentSize: number): FileTrack {
    let track = this.tracks.get(path);
    if (!track) {
      track = { durableSize: currentSize, writes: [] };
      this.tracks.set(path, track);
    }
    return track;
  }

  open(path: string, mode: OpenMode, options?: OpenOptions): Promise<FileHandle> {
    return this.guard(async () => {
      const existed = fs.existsSync(path);
      // The real file is not opened O_DSYNC: durability is what this class models.
      const handle = await this.inner.open(path, mode);
      if (options?.dsync) this.dsyncHandles.add(handle);
      if (this.crashed) {
        fs.closeSync(handle.fd);
        return handle;
      }
      this.openHandles.add(handle);
      if (!existed) {
        this.createdSinceDirSync.add(path);
        this.track(path, 0);
      }
      return handle;
    });
  }

  close(handle: FileHandle): Promise<void> {
    return this.guard(async () => {
      this.openHandles.delete(handle);
      await this.inner.close(handle);
    });
  }

  writev(handle: FileHandle, buffers: readonly Buffer[], position: number): Promise<void> {
    return this.guard(async () => {
      const plan = this.beginWrite(handle, buffers, position);
      if (plan) {
        await this.inner.writev(handle, plan.data, position);
        this.endWrite(handle, plan);
      }
      if (plan?.failure) throw plan.failure;
    });
  }

  /** The same bookkeeping as `writev`, on the calling thread; nothing can crash in between. */
  writevSync(handle: FileHandle, buffers: readonly Buffer[], position: number): void {
    this.guardSync();
    const plan = this.beginWrite(handle, buffers, position);
    if (plan) {
      this.inner.writevSync(handle, plan.data, position);
      this.endWrite(handle, plan);
    }
    if (plan?.failure) throw plan.failure;
  }

  /**
   * Before a write: how much of it fits (ENOSPC injection) and what it overwrites. A write through
   * a dsync handle is recorded as unsynced at once (a crash while it is in flight drops or tears it).
   */
  private beginWrite(handle: FileHandle, buffers: readonly Buffer[], position: number): PlannedWrite | undefined {
    const size = fs.fstatSync(handle.fd).size;
    const track = this.track(handle.path, size);
    let total = buffers.reduce((sum, b) => sum + b.length, 0);
    let failure: Error | undefined;
    if (this.noSpaceBudget !== undefined && total > this.noSpaceBudget) {
      total = this.noSpaceBudget;
      failure = Object.assign(new Error('ENOSPC: no space left on device (simulated)'), { code: 'ENOSPC' });
    }
    if (total <= 0) return failure ? { track, data: [], write: { position, length: 0, preimage: Buffer.alloc(0) }, failure } : undefined;
    const preimageLength = Math.max(0, Math.min(position + total, size) - position);
    const preimage = Buffer.alloc(preimageLength);
    if (preimageLength > 0) fs.readSync(handle.fd, preimage, 0, preimageLength, position);
    const data = failure ? takeBytes(buffers, total) : buffers;
    const write: UnsyncedWrite = { position, length: total, preimage };
    if (this.dsyncHandles.has(handle)) track.writes.push(write);
    return { track, data, write, failure };
  }

  /** After the bytes went to the file: unsynced, or durable for a dsync handle whose write returned whole. */
  private endWrite(handle: FileHandle, plan: PlannedWrite): void {
    const { track, write } = plan;
    if (write.length === 0) return;
    if (!this.dsyncHandles.has(handle)) track.writes.push(write);
    else if (!this.crashed && !plan.failure) {
      if (this.failingSyncs > 0) {
        this.failingSyncs -= 1;
        plan.failure = Object.assign(new Error('EIO: i/o error, write (O_DSYNC, simulated)'), { code: 'EIO' });
      } else {
        track.writes = track.writes.filter((w) => w !== write);
        track.durableSize = Math.max(track.durableSize, write.position + write.length);
      }
    }
    if (this.noSpaceBudget !== undefined) this.noSpaceBudget -= write.length;
  }

  read(handle: FileHandle, target: Buffer, targetOffset: number, length: number, position: number): Promise<number> {
    return this.guard(() => this.inner.read(handle, target, targetOffset, length, position));
  }

  readSync(handle: FileHandle, target: Buffer, targetOffset: number, length: number, position: number): number {
    this.guardSync();
    return this.inner.readSync(handle, target, targetOffset, length, position);
  }

  datasync(handle: FileHandle): Promise<void> {
    return this.guard(async () => {
      if (this.failingSyncs > 0) {
        this.failingSyncs -= 1;
        throw Object.assign(new Error('EIO: i/o error, fdatasync (simulated)'), { code: 'EIO' });
      }
      // Only writes completed before the sync started are certainly covered by it.
      const before = this.tracks.get(handle.path);
      const covered = new Set(before?.writes);
      await this.inner.datasync(handle);
      const track = this.tracks.get(handle.path);
      if (track) {
        for (const write of covered) track.durableSize = Math.max(track.durableSize, write.position + write.length);
        track.writes = track.writes.filter((write) => !covered.has(write));
      }
    });
  }

  truncate(handle: FileHandle, length: number): Promise<void> {
    return this.guard(async () => {
      await this.inner.truncate(handle, length);
      const track = this.tracks.get(handle.path);
      if (track) {
        track.durableSize = Math.min(track.durableSize, length);
        // A write reaching past the new end keeps only its part below it: a later sync must not
        // vouch for the cut bytes (a file extended by an unsynced write, then cut back).
        track.writes = track.writes
          .filter((w) => w.position < length)
          .map((w) => (w.position + w.length <= length ? w : { position: w.position, length: length - w.position, preimage: w.preimage.subarray(0, Math.max(0, length - w.position)) }));
      }
    });
  }

  fsyncDir(path: string): Promise<void> {
    return this.guard(async () => {
      await this.inner.fsyncDir(path);
      for (const created of this.createdSinceDirSync) if (dirname(created) === path) this.createdSinceDirSync.delete(created);
    });
  }

  rename(from: string, to: string): Promise<void> {
    return this.guard(async () => {
      await this.inner.rename(from, to);
      const track = this.tracks.get(from);
      this.tracks.delete(from);
      if (track) this.tracks.set(to, track);
      else this.tracks.delete(to);
      if (this.createdSinceDirSync.delete(from)) this.createdSinceDirSync.add(to);
    });
  }

  unlink(path: string): Promise<void> {
    return this.guard(async () => {
      await this.inner.unlink(path);
      this.tracks.delete(path);
      this.createdSinceDirSync.delete(path);
    });
  }

  stat(path: string): Promise<FileStats | undefined> {
    return this.guard(() => this.inner.stat(path));
  }

  mkdir(path: string): Promise<void> {
    return this.guard(() => this.inner.mkdir(path));
  }

  readdir(path: string): Promise<string[]> {
    return this.guard(() => this.inner.readdir(path));
  }

  removeDir(path: string): Promise<void> {
    return this.guard(async () => {
      await this.inner.removeDir(path);
      for (const tracked of [...this.tracks.keys()]) if (tracked.startsWith(path + '/')) this.tracks.delete(tracked);
    });
  }

  statfs(path: string): Promise<FsUsage> {
    return this.guard(async () => this.usageOverride ?? this.inner.statfs(path));
  }
}

function takeBytes(buffers: readonly Buffer[], count: number): Buffer[] {
  const out: Buffer[] = [];
  let left = count;
  for (const buffer of buffers) {
    if (left <= 0) break;
    out.push(buffer.length <= left ? buffer : buffer.subarray(0, left));
    left -= buffer.length;
  }
  return out;
}

/** Undoes the lost part of each unsynced write, newest first, and sets the surviving length. */
function rewindFile(path: string, track: FileTrack, mode: CrashMode, random: () => number): void {
  const fd = fs.openSync(path, 'r+');
  try {
    let finalSize = track.durableSize;
    const lost: { from: number; to: number; write: UnsyncedWrite }[] = [];
    for (let i = track.writes.length - 1; i >= 0; i--) {
      const write = track.writes[i];
      const end = write.position + write.length;
      const sectors: { from: number; to: number }[] = [];
      for (let at = write.position; at < end; ) {
        const next = Math.min(end, (Math.floor(at / SECTOR) + 1) * SECTOR);
        sectors.push({ from: at, to: next });
        at = next;
      }
      let keep: boolean[];
      if (mode === 'drop') keep = sectors.map(() => false);
      else if (mode === 'tear') {
        const kept = Math.floor(random() * (sectors.length + 1));
        keep = sectors.map((_, k) => k < kept);
      } else keep = sectors.map(() => random() < 0.5);
      sectors.forEach((sector, k) => {
        if (keep[k]) finalSize = Math.max(finalSize, sector.to);
        else lost.push({ ...sector, write });
      });
    }
    // `lost` is newest-first, so restoring preimages in this order leaves the oldest surviving bytes.
    for (const { from, to, write } of lost) {
      const preimageEnd = write.position + write.preimage.length;
      if (from < preimageEnd) {
        const upto = Math.min(to, preimageEnd);
        fs.writeSync(fd, write.preimage, from - write.position, upto - from, from);
      }
      if (to > preimageEnd) {
        const zeroFrom = Math.max(from, preimageEnd);
        fs.writeSync(fd, Buffer.alloc(to - zeroFrom), 0, to - zeroFrom, zeroFrom);
      }
    }
    fs.ftruncateSync(fd, finalSize);
  } finally {
    fs.closeSync(fd);
  }
}
