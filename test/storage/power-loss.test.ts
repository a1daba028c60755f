import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CrashSimFileIO, type CrashMode } from '../../storage/crash-sim-file-io.js';
import { NodeFileIO, type FileHandle } from '../../storage/file-io.js';
import type { MessageStore } from '../../storage/message-store.js';
import { AppendStatus } from '../../storage/types.js';
import { tempDir, waitFor } from '../helpers/common.js';
import { Gate, createTopic, message, openStore, readBodies } from './store-fixture.js';

/** CrashSimFileIO counting inline (`writevSync`) log writes. */
class InlineCountingCrashSim extends CrashSimFileIO {
  inlineLogWrites = 0;

  override writevSync(handle: FileHandle, buffers: readonly Buffer[], position: number): void {
    if (handle.path.endsWith('.log')) this.inlineLogWrites += 1;
    super.writevSync(handle, buffers, position);
  }
}

let dir: { path: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  dir = await tempDir('ferrymq-powerloss-');
});
afterEach(async () => {
  await dir.cleanup();
});


describe('simulated power loss (SYNC_FLUSH)', () => {
  const cases: [CrashMode, number][] = [
    ['drop', 1],
    ['tear', 7],
    ['tear', 8],
    ['random', 3],
    ['random', 4],
  ];
  it.each(cases)('loses no acknowledged append (%s, seed %i)', async (mode, seed) => {
    const io = new CrashSimFileIO();
    const store = await openStore(dir.path, { fileIO: io, config: { segmentSize: 2048 } });
    const topic = createTopic(store, 3);
    const acked = new Map<string, { queueId: number; offset: number }>();
    let crashed: Promise<void> | undefined;
    const appender = async (worker: number) => {
      for (let i = 0; i < 200 && !crashed; i++) {
        const body = `w${worker}-${i}-`.padEnd(60 + ((i * 7) % 50), 'z');
        const result = await store.append(message(topic, worker % 3, body));
        if (result.status === AppendStatus.PUT_OK) {
          acked.set(body, { queueId: worker % 3, offset: result.queueOffset });
          if (acked.size === 150) crashed = io.crash({ mode, seed });
        }
      }
    };
    await Promise.all(Array.from({ length: 12 }, (_, w) => appender(w)));
    await crashed;
    await store.close();
    expect(acked.size).toBeGreaterThanOrEqual(150);

    const reopened = await openStore(dir.path, { config: { segmentSize: 2048 } });
    for (const queueId of [0, 1, 2]) {
      const bodies = await readBodies(reopened, topic, queueId);
      expect(bodies.length).toBe(reopened.maxOffset(topic, queueId)); // dense
      for (const [body, where] of acked) {
        if (where.queueId === queueId) expect(bodies[where.offset], `${mode}/${seed} q${queueId}@${where.offset}`).toBe(body);
      }
      const next = await reopened.append(message(topic, queueId, 'after'));
      expect(next.status === 'PUT_OK' && next.queueOffset).toBe(bodies.length);
    }
    await reopened.close();
  });
});

describe('ENOSPC', () => {
  it('refuses the whole batch, leaves nothing half-written, and works again once space returns', async () => {
    const io = new CrashSimFileIO();
    const store = await openStore(dir.path, { fileIO: io, config: { segmentSize: 4096 } });
    const topic = createTopic(store, 1);
    for (let i = 0; i < 5; i++) expect((await store.append(message(topic, 0, `ok-${i}`))).status).toBe(AppendStatus.PUT_OK);
    const log = join(dir.path, 'queues', topic, '0', '00000000000000000000.log');
    // SYNC_FLUSH zero-fills the log ahead of the appends: compare bytes, not sizes.
    const bytesBefore = await readFile(log);
    io.injectNoSpace(150);
    const refused = await Promise.all([0, 1, 2].map((i) => store.append(message(topic, 0, `no-${i}`.padEnd(100, 'n')))));
    for (const r of refused) {
      expect(r.status).toBe(AppendStatus.DISK_FULL);
      expect((r as { reason: string }).reason).toMatch(/ENOSPC/);
    }
    await new Promise((r) => setTimeout(r, 20));
    // Cut back to the records (or still zeros past them): nothing of the refused batch is left.
    const bytesAfter = await readFile(log);
    expect(bytesAfter.length).toBeLessThanOrEqual(bytesBefore.length);
    expect(bytesAfter.equals(bytesBefore.subarray(0, bytesAfter.length))).toBe(true);
    expect(store.maxOffset(topic, 0)).toBe(5);

    io.injectNoSpace(undefined);
    const after = await store.append(message(topic, 0, 'ok-5'));
    expect(after.status === 'PUT_OK' && after.queueOffset).toBe(5);
    await store.close();
    const reopened = await openStore(dir.path, { config: { segmentSize: 4096 } });
    expect(await readBodies(reopened, topic, 0)).toEqual(['ok-0', 'ok-1', 'ok-2', 'ok-3', 'ok-4', 'ok-5']);
    await reopened.close();
  });

  it('refuses an append whose segment roll hits ENOSPC and removes the new segment', async () => {
    const io = new CrashSimFileIO();
    const store = await openStore(dir.path, { fileIO: io, config: { segmentSize: 1024 } });
    const topic = createTopic(store, 1);
    let i = 0;
    while (store.maxOffset(topic, 0) < 6) await store.append(message(topic, 0, `ok-${i++}`.padEnd(150, 'o')));
    io.injectNoSpace(10);
    let refused = 0;
    for (let k = 0; k < 4; k++) {
      const r = await store.append(message(topic, 0, `no-${k}`.padEnd(150, 'n')));
      if (r.status === AppendStatus.DISK_FULL) refused += 1;
    }
    expect(refused).toBe(4);
    io.injectNoSpace(undefined);
    const max = store.maxOffset(topic, 0);
    while (store.maxOffset(topic, 0) < max + 8) await store.append(message(topic, 0, `ok-${i++}`.padEnd(150, 'o')));
    await store.close();
    const reopened = await openStore(dir.path, { config: { segmentSize: 1024 } });
    const bodies = await readBodies(reopened, topic, 0);
    expect(bodies.map((b) => b.replace(/o+$/, ''))).toEqual(Array.from({ length: i }, (_, k) => `ok-${k}`));
    await reopened.close();
  });
});

describe('ENOSPC (ASYNC_FLUSH, inline writes)', () => {
  it('refuses the appends of an inline write that hits ENOSPC, cuts the file back, and works again once space returns', async () => {
    const { FakeClock } = await import('../../storage/clock.js');
    const io = new InlineCountingCrashSim();
    const config = { flushMode: 'ASYNC_FLUSH' as const, segmentSize: 4096 };
    const store = await openStore(dir.path, { fileIO: io, clock: new FakeClock(), config });
    const topic = createTopic(store, 1);
    for (let i = 0; i < 5; i++) expect((await store.append(message(topic, 0, `ok-${i}`))).status).toBe(AppendStatus.PUT_OK);
    const log = join(dir.path, 'queues', topic, '0', '00000000000000000000.log');
    const sizeBefore = (await stat(log)).size;
    const inlineBefore = io.inlineLogWrites;
    expect(inlineBefore).toBeGreaterThan(0);
    io.injectNoSpace(150);
    const refused = await Promise.all([0, 1, 2].map((i) => store.append(message(topic, 0, `no-${i}`.padEnd(100, 'n')))));
    expect(io.inlineLogWrites).toBe(inlineBefore + 1);
    for (const r of refused) {
      expect(r.status).toBe(AppendStatus.DISK_FULL);
      expect((r as { reason: string }).reason).toMatch(/ENOSPC/);
    }
    // Later appends, staged while the files are cut back, are refused or stored, never half of either.
    await waitFor(async () => (await stat(log)).size === sizeBefore, { what: 'the log cut back' });
    expect(store.maxOffset(topic, 0)).toBe(5);
    expect((await store.append(message(topic, 0, 'still-full'))).status).toBe(AppendStatus.DISK_FULL);

    io.injectNoSpace(undefined);
    await waitFor(async () => (await stat(log)).size === sizeBefore, { what: 'the log cut back again' });
    const after = await store.append(message(topic, 0, 'ok-5'));
    expect(after.status === 'PUT_OK' && after.queueOffset).toBe(5);
    expect(io.inlineLogWrites).toBeGreaterThan(inlineBefore + 1);
    expect(await readBodies(store, topic, 0)).toEqual(['ok-0', 'ok-1', 'ok-2', 'ok-3', 'ok-4', 'ok-5']);
    await store.close();
    const reopened = await openStore(dir.path, { config: { segmentSize: 4096 } });
    expect(await readBodies(reopened, topic, 0)).toEqual(['ok-0', 'ok-1', 'ok-2', 'ok-3', 'ok-4', 'ok-5']);
    await reopened.close();
  });
});

describe('fdatasync failure', () => {
  it('refuses the appends of the failed sync and every later one, then works again', async () => {
    const io = new CrashSimFileIO();
    const store = await openStore(dir.path, { fileIO: io });
    const topic = createTopic(store, 1);
    for (let i = 0; i < 3; i++) expect((await store.append(message(topic, 0, `ok-${i}`))).status).toBe(AppendStatus.PUT_OK);
    io.failNextSyncs(1);
    const results = await Promise.all([0, 1, 2, 3].map((i) => store.append(message(topic, 0, `lost-${i}`))));
    expect(results.map((r) => r.status)).toEqual(Array(4).fill(AppendStatus.IO_ERROR));
    expect(store.maxOffset(topic, 0)).toBe(3);
    const after = await store.append(message(topic, 0, 'ok-3'));
    expect(after.status === 'PUT_OK' && after.queueOffset).toBe(3);
    expect(await readBodies(store, topic, 0)).toEqual(['ok-0', 'ok-1', 'ok-2', 'ok-3']);
    await store.close();
    const reopened = await openStore(dir.path);
    expect(await readBodies(reopened, topic, 0)).toEqual(['ok-0', 'ok-1', 'ok-2', 'ok-3']);
    await reopened.close();
  });
});

describe('simulated power loss (ASYNC_FLUSH)', () => {
  it('loses at most what was written since the last interval flush, and offsets stay dense', async () => {
    const { FakeClock } = await import('../../storage/clock.js');
    const io = new CrashSimFileIO();
    const clock = new FakeClock();
    const config = { flushMode: 'ASYNC_FLUSH' as const, flushIntervalMs: 500, segmentSize: 2048 };
    const store = await openStore(dir.path, { fileIO: io, clock, config });
    const topic = createTopic(store, 1);
    for (let i = 0; i < 20; i++) expect((await store.append(message(topic, 0, `s${i}`.padEnd(100, '.')))).status).toBe(AppendStatus.PUT_OK);
    clock.advance(500); // interval flush
    // Once it is done the checkpoint can vouch for all 20.
    await waitFor(async () => {
      await store.runCheckpoint();
      return (await readFile(join(dir.path, 'checkpoint'), 'utf8')).includes(`"${topic}",0,20,`);
    }, { what: 'interval flush and checkpoint' });
    for (let i = 20; i < 25; i++) await store.append(message(topic, 0, `u${i}`.padEnd(100, '.')));
    await io.crash({ mode: 'drop' });
    await store.close();
    const reopened = await openStore(dir.path, { config: { segmentSize: 2048 } });
    const bodies = await readBodies(reopened, topic, 0);
    expect(bodies.length).toBe(reopened.maxOffset(topic, 0));
    expect(bodies.length).toBeGreaterThanOrEqual(20);
    expect(bodies.slice(0, 20)).toEqual(Array.from({ length: 20 }, (_, i) => `s${i}`.padEnd(100, '.')));
    await reopened.close();
  });

  it('keeps appends acknowledged after an inline write through a process crash; a power loss drops the unsynced ones', async () => {
    const { FakeClock } = await import('../../storage/clock.js');
    const config = { flushMode: 'ASYNC_FLUSH' as const, flushIntervalMs: 500, segmentSize: 2048 };
    const bodies = Array.from({ length: 30 }, (_, i) => `p${i}`.padEnd(100, '.'));
    const crashedStores: MessageStore[] = [];
    for (const crash of ['process', 'power'] as const) {
      const io = new InlineCountingCrashSim();
      const clock = new FakeClock();
      const store = await openStore(dir.path, { fileIO: io, clock, config, takeOverOwnLock: true });
      crashedStores.push(store);
      const topic = createTopic(store, 1);
      for (let i = 0; i < 10; i++) expect((await store.append(message(topic, 0, bodies[i]))).status).toBe(AppendStatus.PUT_OK);
      clock.advance(500); // interval flush: the first 10 are synced
      await waitFor(() => io.unsyncedBytes() === 0, { what: 'interval flush' });
      const inlineBefore = io.inlineLogWrites;
      for (let i = 10; i < 30; i++) expect((await store.append(message(topic, 0, bodies[i]))).status).toBe(AppendStatus.PUT_OK);
      // Acknowledged from the page cache: written inline, not synced.
      expect(io.inlineLogWrites).toBeGreaterThan(inlineBefore);
      expect(io.unsyncedBytes()).toBeGreaterThan(0);
      // A process crash keeps the page cache (the store is abandoned as it is); a power loss loses what was not synced.
      if (crash === 'power') await io.crash({ mode: 'drop' });
      const reopened = await openStore(dir.path, { config, takeOverOwnLock: true });
      const stored = await readBodies(reopened, topic, 0);
      expect(stored.length).toBe(reopened.maxOffset(topic, 0)); // dense
      if (crash === 'process') expect(stored).toEqual(bodies);
      else {
        expect(stored.length).toBeGreaterThanOrEqual(10);
        expect(stored).toEqual(bodies.slice(0, stored.length));
        expect(stored.length).toBeLessThan(30);
      }
      await reopened.close();
    }
    for (const store of crashedStores) await store.close().catch(() => undefined);
  });

  it('a flush round vouches only for the segments it synced, also for queues that rolled while other queues synced', async () => {
    const { FakeClock } = await import('../../storage/clock.js');
    /** fdatasync of segment logs waits at a gate. */
    class GatedSyncIO extends NodeFileIO {
      held = 0;
      readonly gate = new Gate();
      override async datasync(handle: FileHandle): Promise<void> {
        if (this.gate.holding && handle.path.endsWith('.log')) {
          this.held += 1;
          await this.gate.pass();
        }
        return super.datasync(handle);
      }
    }
    const io = new GatedSyncIO();
    const clock = new FakeClock();
    const store = await openStore(dir.path, { fileIO: io, clock, config: { flushMode: 'ASYNC_FLUSH', flushIntervalMs: 500, segmentSize: 1024 } });
    // More queues than a round syncs at once (16), so the last ones wait for a worker.
    const queues = 20;
    const topic = createTopic(store, queues);
    for (let q = 0; q < queues; q++) expect((await store.append(message(topic, q, 'a'))).status).toBe(AppendStatus.PUT_OK);
    io.gate.hold();
    clock.advance(500);
    await waitFor(() => io.held === 16, { what: 'a round syncing 16 queues' });
    // Every queue rolls to a second segment, which this round does not sync.
    for (let q = 0; q < queues; q++) {
      while (store.minOffset(topic, q) === 0 && (await store.append(message(topic, q, 'b'.repeat(300)))).status === AppendStatus.PUT_OK) {
        if (store.maxOffset(topic, q) > 8) break;
      }
    }
    io.gate.release();
    let rows: [string, number, number, number, number][] = [];
    await waitFor(async () => {
      await store.runCheckpoint();
      rows = (JSON.parse(await readFile(join(dir.path, 'checkpoint'), 'utf8')) as { queues: typeof rows }).queues.filter((r) => r[0] === topic);
      return rows.length === queues;
    }, { what: 'the round to mark every queue' });
    for (const [, queueId, offset, segmentBase] of rows) expect({ queueId, offset, segmentBase }).toEqual({ queueId, offset: 1, segmentBase: 0 });
    await store.close();
  });
});
