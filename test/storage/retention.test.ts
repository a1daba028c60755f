import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../storage/clock.js';
import { CrashSimFileIO } from '../../storage/crash-sim-file-io.js';
import type { MessageStore } from '../../storage/message-store.js';
import { AppendStatus, GetMessageStatus } from '../../storage/types.js';
import { tempDir, waitFor } from '../helpers/common.js';
import { createTopic, message, openStore } from './store-fixture.js';

let dir: { path: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  dir = await tempDir('ferrymq-retention-');
});
afterEach(async () => {
  await dir.cleanup();
});

async function fillSegments(store: MessageStore, topic: string, queueId: number, segments: number, dataDir: string): Promise<void> {
  const count = async () => (await readdir(join(dataDir, 'queues', topic, String(queueId)))).filter((n) => n.endsWith('.log')).length;
  let i = 0;
  while ((await count().catch(() => 0)) < segments) {
    const r = await store.append(message(topic, queueId, `m${i++}`.padEnd(200, '.')));
    expect(r.status).toBe(AppendStatus.PUT_OK);
  }
}

async function logFiles(topic: string, queueId: number): Promise<string[]> {
  return (await readdir(join(dir.path, 'queues', topic, String(queueId)))).filter((n) => n.endsWith('.log')).sort();
}

describe('retention', () => {
  it('deletes segments older than fileReservedTimeHours on the service timer, moving the min offset', async () => {
    const clock = new FakeClock();
    const store = await openStore(dir.path, {
      clock,
      config: { segmentSize: 1024, fileReservedTimeHours: 1, cleanupIntervalMs: 5_000 },
    });
    const topic = createTopic(store, 1);
    await fillSegments(store, topic, 0, 4, dir.path);
    clock.advance(2 * 3_600_000);
    await fillSegments(store, topic, 0, 6, dir.path); // two newer segments
    const before = await logFiles(topic, 0);
    clock.advance(5_000); // the CleanupService's timer fires
    await waitFor(async () => (await logFiles(topic, 0)).length < before.length, { what: 'old segments deleted' });
    await waitFor(async () => (await logFiles(topic, 0)).length === 3, { what: 'exactly the three old segments deleted' });
    const after = await logFiles(topic, 0);
    expect(after).toEqual(before.slice(3));
    const min = store.minOffset(topic, 0);
    expect(min).toBe(Number(after[0].slice(0, 20)));
    const tooSmall = await store.read(topic, 0, 0, 32, 1 << 20);
    expect(tooSmall).toMatchObject({ status: GetMessageStatus.OFFSET_TOO_SMALL, nextBeginOffset: min, minOffset: min });
    expect((await store.read(topic, 0, min, 32, 1 << 20)).status).toBe(GetMessageStatus.FOUND);
    await store.close();
  });

  it('never deletes the active segment, however old', async () => {
    const clock = new FakeClock();
    const store = await openStore(dir.path, { clock, config: { segmentSize: 1024, fileReservedTimeHours: 1 } });
    const topic = createTopic(store, 1);
    await fillSegments(store, topic, 0, 3, dir.path);
    const max = store.maxOffset(topic, 0);
    clock.advance(100 * 3_600_000);
    // The advance also fired the timers; a pass skips segments a concurrent checkpoint holds open.
    await waitFor(async () => (await store.runCleanup(), (await logFiles(topic, 0)).length === 1), { what: 'old segments deleted' });
    await store.runCleanup();
    const left = await logFiles(topic, 0);
    expect(left).toHaveLength(1);
    expect(store.maxOffset(topic, 0)).toBe(max);
    expect(store.minOffset(topic, 0)).toBe(Number(left[0].slice(0, 20)));
    const next = await store.append(message(topic, 0, 'still works'));
    expect(next.status === 'PUT_OK' && next.queueOffset).toBe(max);
    await store.close();
    // The min offset survives a restart.
    const reopened = await openStore(dir.path, { clock, config: { segmentSize: 1024 } });
    expect(reopened.minOffset(topic, 0)).toBe(Number(left[0].slice(0, 20)));
    expect(reopened.maxOffset(topic, 0)).toBe(max + 1);
    await reopened.close();
  });

  it('deletes the oldest segments beyond maxQueueBytes and maxTotalBytes', async () => {
    const clock = new FakeClock();
    const store = await openStore(dir.path, { clock, config: { segmentSize: 1024, maxQueueBytes: 3000 } });
    const topic = createTopic(store, 2);
    await fillSegments(store, topic, 0, 8, dir.path);
    await store.runCleanup();
    const left = await logFiles(topic, 0);
    expect(left.length).toBeLessThanOrEqual(3);
    expect(left.length).toBeGreaterThanOrEqual(2);
    expect(store.minOffset(topic, 0)).toBe(Number(left[0].slice(0, 20)));
    await store.close();

    const total = await openStore(dir.path, { clock, config: { segmentSize: 1024, maxTotalBytes: 5000 } });
    clock.advance(60_000);
    await fillSegments(total, topic, 1, 6, dir.path); // queue 1 holds the newer data
    await total.runCleanup();
    expect(total.stats().totalBytes).toBeLessThanOrEqual(5000);
    // Queue 0's data is older, so it went first; both keep their active segment.
    expect(await logFiles(topic, 0)).toHaveLength(1);
    expect((await logFiles(topic, 1)).length).toBeGreaterThanOrEqual(1);
    await total.close();
  });
});

describe('disk watermark', () => {
  it('refuses appends above diskMaxUsedRatio with a clear reason and resumes once space is freed', async () => {
    const io = new CrashSimFileIO();
    const clock = new FakeClock();
    const store = await openStore(dir.path, { fileIO: io, clock, config: { diskMaxUsedRatio: 0.9 } });
    const topic = createTopic(store, 1);
    expect((await store.append(message(topic, 0, 'a'))).status).toBe(AppendStatus.PUT_OK);
    io.setFsUsage({ totalBytes: 1000, freeBytes: 50 });
    await store.runCleanup();
    const refused = await store.append(message(topic, 0, 'b'));
    expect(refused.status).toBe(AppendStatus.DISK_FULL);
    expect((refused as { reason: string }).reason).toMatch(/95\.0%.*diskMaxUsedRatio 90\.0%/);
    expect(store.stats()).toMatchObject({ appendsRefused: true, diskUsedRatio: 0.95 });
    expect(store.maxOffset(topic, 0)).toBe(1);

    io.setFsUsage({ totalBytes: 1000, freeBytes: 500 });
    clock.advance(1_000);
    // A refused append re-reads the usage (at most once a second); the next one goes through.
    await store.append(message(topic, 0, 'c'));
    await waitFor(async () => (await store.append(message(topic, 0, 'd'))).status === AppendStatus.PUT_OK, { what: 'appends resume' });
    expect(store.stats().appendsRefused).toBe(false);
    await store.close();
  });
});
