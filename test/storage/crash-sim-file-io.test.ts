import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CrashSimFileIO } from '../../storage/crash-sim-file-io.js';
import { tempDir } from '../helpers/common.js';

let dir: { path: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  dir = await tempDir('ferrymq-crashsim-');
});
afterEach(async () => {
  await dir.cleanup();
});

async function written(io: CrashSimFileIO, name: string, synced: Buffer, unsynced: Buffer, syncDir = true) {
  const path = join(dir.path, name);
  const handle = await io.open(path, 'create');
  await io.writev(handle, [synced], 0);
  await io.datasync(handle);
  if (syncDir) await io.fsyncDir(dir.path);
  await io.writev(handle, [unsynced], synced.length);
  return path;
}

describe('CrashSimFileIO', () => {
  it('drop: keeps exactly the synced bytes and restores overwritten ones', async () => {
    const io = new CrashSimFileIO();
    const path = await written(io, 'a', Buffer.alloc(1000, 1), Buffer.alloc(3000, 2));
    const handle = await io.open(path, 'write');
    await io.writev(handle, [Buffer.alloc(10, 9)], 100); // overwrite synced bytes, unsynced
    expect(io.unsyncedBytes()).toBe(3010);
    await io.crash({ mode: 'drop' });
    expect(await readFile(path)).toEqual(Buffer.alloc(1000, 1));
    await expect(io.stat(path)).rejects.toThrow(/power loss/);
  });

  it('tear: keeps a prefix of whole 512-byte sectors of each unsynced write', async () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const io = new CrashSimFileIO();
      const path = await written(io, `t${seed}`, Buffer.alloc(512, 1), Buffer.alloc(4096, 2));
      await io.crash({ mode: 'tear', seed });
      const size = (await stat(path)).size;
      expect(size % 512).toBe(0);
      expect(size).toBeGreaterThanOrEqual(512);
      const bytes = await readFile(path);
      expect(bytes.subarray(0, 512)).toEqual(Buffer.alloc(512, 1));
      expect(bytes.subarray(512)).toEqual(Buffer.alloc(size - 512, 2));
    }
  });

  it('random: lost sectors inside the surviving length read as zeros', async () => {
    const io = new CrashSimFileIO();
    const path = await written(io, 'r', Buffer.alloc(0), Buffer.alloc(512 * 16, 7));
    await io.crash({ mode: 'random', seed: 42 });
    const bytes = await readFile(path);
    const sectors = Array.from({ length: bytes.length / 512 }, (_, i) => bytes[i * 512]);
    expect(sectors.every((b) => b === 0 || b === 7)).toBe(true);
    expect(sectors.some((b) => b === 0)).toBe(true);
  });

  it('drop: a file created since its directory was last fsynced disappears', async () => {
    const io = new CrashSimFileIO();
    const path = await written(io, 'new', Buffer.alloc(100, 1), Buffer.alloc(0), false);
    await io.crash({ mode: 'drop' });
    await expect(stat(path)).rejects.toThrow(/ENOENT/);
  });

  it('injects ENOSPC after a byte budget, writing what fits', async () => {
    const io = new CrashSimFileIO();
    const handle = await io.open(join(dir.path, 'full'), 'create');
    io.injectNoSpace(100);
    await expect(io.writev(handle, [Buffer.alloc(60), Buffer.alloc(60)], 0)).rejects.toMatchObject({ code: 'ENOSPC' });
    expect((await stat(join(dir.path, 'full'))).size).toBe(100);
    io.injectNoSpace(undefined);
    await io.writev(handle, [Buffer.alloc(60)], 100);
    await io.close(handle);
  });

  it('dsync: a write that returned is durable; one in flight at the crash is torn like any other', async () => {
    for (const seed of [1, 2, 3]) {
      const io = new CrashSimFileIO();
      const path = join(dir.path, `d${seed}`);
      const handle = await io.open(path, 'create', { dsync: true });
      await io.fsyncDir(dir.path);
      await io.writev(handle, [Buffer.alloc(1000, 1)], 0);
      expect(io.unsyncedBytes()).toBe(0);
      const inFlight = io.writev(handle, [Buffer.alloc(4096, 2)], 1000);
      await io.crash({ mode: 'tear', seed });
      await expect(inFlight).rejects.toThrow(/power loss/);
      const bytes = await readFile(path);
      expect(bytes.length).toBeGreaterThanOrEqual(1000);
      expect(bytes.subarray(0, 1000)).toEqual(Buffer.alloc(1000, 1));
      expect(bytes.subarray(1000)).toEqual(Buffer.alloc(bytes.length - 1000, 2));
    }
  });

  it('dsync: failNextSyncs fails the write with EIO and leaves its bytes unsynced', async () => {
    const io = new CrashSimFileIO();
    const path = join(dir.path, 'dfail');
    const handle = await io.open(path, 'create', { dsync: true });
    await io.fsyncDir(dir.path);
    await io.writev(handle, [Buffer.alloc(100, 1)], 0);
    io.failNextSyncs(1);
    await expect(io.writev(handle, [Buffer.alloc(100, 2)], 100)).rejects.toMatchObject({ code: 'EIO' });
    expect(io.unsyncedBytes()).toBe(100);
    await io.crash({ mode: 'drop' });
    expect(await readFile(path)).toEqual(Buffer.alloc(100, 1));
  });

  it('writevSync: unsynced until fdatasync, then lost or torn on a crash like writev', async () => {
    for (const seed of [1, 2, 3]) {
      const io = new CrashSimFileIO();
      const path = join(dir.path, `s${seed}`);
      const handle = await io.open(path, 'create');
      await io.fsyncDir(dir.path);
      io.writevSync(handle, [Buffer.alloc(300, 1), Buffer.alloc(212, 1)], 0);
      expect(io.unsyncedBytes()).toBe(512);
      await io.datasync(handle);
      expect(io.unsyncedBytes()).toBe(0);
      io.writevSync(handle, [Buffer.alloc(4096, 2)], 512);
      expect(io.unsyncedBytes()).toBe(4096);
      await io.crash({ mode: 'tear', seed });
      const bytes = await readFile(path);
      expect(bytes.length % 512).toBe(0);
      expect(bytes.subarray(0, 512)).toEqual(Buffer.alloc(512, 1));
      expect(bytes.subarray(512)).toEqual(Buffer.alloc(bytes.length - 512, 2));
      expect(() => io.writevSync(handle, [Buffer.alloc(1)], 0)).toThrow(/power loss/);
    }
  });

  it('a truncation cuts an unsynced write reaching past it: a later sync vouches only for what is left', async () => {
    const io = new CrashSimFileIO();
    const path = join(dir.path, 'cut');
    const handle = await io.open(path, 'create');
    await io.fsyncDir(dir.path);
    await io.writev(handle, [Buffer.alloc(100, 1)], 0);
    await io.datasync(handle);
    // Zeros ahead, then a record inside them, then the zeros cut back behind the record.
    await io.writev(handle, [Buffer.alloc(400)], 100);
    io.writevSync(handle, [Buffer.alloc(50, 2)], 100);
    await io.truncate(handle, 150);
    await io.datasync(handle);
    await io.crash({ mode: 'drop' });
    expect(await readFile(path)).toEqual(Buffer.concat([Buffer.alloc(100, 1), Buffer.alloc(50, 2)]));
  });

  it('writevSync: ENOSPC after the byte budget, writing what fits; a dsync handle is durable on return', async () => {
    const io = new CrashSimFileIO();
    const path = join(dir.path, 'sfull');
    const handle = await io.open(path, 'create', { dsync: true });
    await io.fsyncDir(dir.path);
    io.injectNoSpace(100);
    expect(() => io.writevSync(handle, [Buffer.alloc(60, 1), Buffer.alloc(60, 1)], 0)).toThrow(expect.objectContaining({ code: 'ENOSPC' }));
    expect((await stat(path)).size).toBe(100);
    io.injectNoSpace(undefined);
    await io.truncate(handle, 0);
    io.writevSync(handle, [Buffer.alloc(100, 3)], 0);
    expect(io.unsyncedBytes()).toBe(0);
    await io.crash({ mode: 'drop' });
    expect(await readFile(path)).toEqual(Buffer.alloc(100, 3));
  });
});
