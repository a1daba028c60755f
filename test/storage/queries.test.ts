import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../storage/clock.js';
import type { FileIO } from '../../storage/file-io.js';
import { NodeFileIO } from '../../storage/file-io.js';
import type { MessageStore } from '../../storage/message-store.js';
import { validateTopicName } from '../../storage/topic-name.js';
import { AppendStatus, GetMessageStatus } from '../../storage/types.js';
import { tempDir, waitFor } from '../helpers/common.js';
import { createTopic, message, openStore } from './store-fixture.js';

let dir: { path: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  dir = await tempDir('ferrymq-queries-');
});
afterEach(async () => {
  await dir.cleanup();
});

describe('searchOffsetByTimestamp', () => {
  it('returns the offset whose store time is closest (earlier on a tie, exact match wins)', async () => {
    const clock = new FakeClock(10_000);
    const store = await openStore(dir.path, { clock, config: { segmentSize: 1024 } });
    const topic = createTopic(store, 1);
    expect(await store.searchOffsetByTimestamp(topic, 0, 12_000)).toBe(0);
    // Store times 10000, 11000, ..., 29000 over several segments.
    for (let i = 0; i < 20; i++) {
      await store.append(message(topic, 0, `m${i}`.padEnd(150, '.')));
      clock.advance(1000);
    }
    const cases: [number, number][] = [
      [0, 0],
      [10_000, 0],
      [12_000, 2],
      [12_400, 2],
      [12_600, 3],
      [12_500, 2],
      [28_999, 19],
      [99_999, 19],
    ];
    for (const [ts, offset] of cases) expect(await store.searchOffsetByTimestamp(topic, 0, ts), `ts ${ts}`).toBe(offset);
    expect(await store.storeTimestampAt(topic, 0, 7)).toBe(17_000);
    expect(await store.storeTimestampAt(topic, 0, 20)).toBeUndefined();
    expect(await store.searchOffsetByTimestamp('Nope', 0, 5)).toBe(0);
    await store.close();
  });
});

describe('topic names', () => {
  it('accepts RocketMQ names and refuses path tricks', () => {
    for (const ok of ['TopicTest', '%RETRY%group_1', '%DLQ%g', 'a|b', 'A-b_9', 'x'.repeat(127)]) expect(validateTopicName(ok)).toBeUndefined();
    for (const bad of ['', '.', '..', '../x', 'a/b', 'a\\b', 'a\0b', 'a b', 'é', 'x'.repeat(128), 'a.b']) {
      expect(validateTopicName(bad), JSON.stringify(bad)).toBeTypeOf('string');
    }
  });

  it('validates before any filesystem call', async () => {
    const calls: string[] = [];
    const real = new NodeFileIO();
    const spy = new Proxy(real, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? (...args: unknown[]) => (calls.push(String(prop)), value.apply(target, args)) : value;
      },
    }) as FileIO;
    const store = await openStore(dir.path, { fileIO: spy });
    createTopic(store, 1, '..');
    calls.length = 0;
    for (const name of ['..', '../../etc', 'a/../../b', '/abs']) {
      expect((await store.append(message(name, 0, 'x'))).status).toBe(AppendStatus.TOPIC_INVALID);
      expect((await store.read(name, 0, 0, 1, 100)).status).toBe(GetMessageStatus.NO_MATCHED_LOGIC_QUEUE);
      await store.deleteTopic(name);
    }
    expect(calls).toEqual([]);
    await store.close();
  });
});

describe('many queues', () => {
  it('keeps open segment handles bounded with 2,000 queues', async () => {
    const config = { flushMode: 'ASYNC_FLUSH' as const, maxOpenSegments: 64 };
    let store: MessageStore = await openStore(dir.path, { config });
    const topics = Array.from({ length: 4 }, () => createTopic(store, 500));
    const appends: Promise<unknown>[] = [];
    for (const topic of topics) for (let q = 0; q < 500; q++) for (let i = 0; i < 3; i++) appends.push(store.append(message(topic, q, `${q}-${i}`)));
    const results = await Promise.all(appends);
    expect(results.every((r) => (r as { status: string }).status === AppendStatus.PUT_OK)).toBe(true);
    // Handles beyond the bound are closed as their last I/O finishes.
    await waitFor(() => store.openSegmentCount() <= 64, { what: 'open handles back under the bound' });
    expect(store.stats().queueCount).toBe(2000);
    for (let q = 0; q < 500; q += 37) {
      const read = await store.read(topics[q % 4], q, 0, 32, 1 << 20);
      expect(read.messageCount).toBe(3);
    }
    expect(store.openSegmentCount()).toBeLessThanOrEqual(64);
    await store.close();
    store = await openStore(dir.path, { config });
    expect(store.stats().queueCount).toBe(2000);
    expect(store.maxOffset(topics[3], 499)).toBe(3);
    expect(store.openSegmentCount()).toBeLessThanOrEqual(64);
    await store.close();
  }, 60_000);
});

describe('ASYNC_FLUSH', () => {
  it('acknowledges after the write and syncs on the interval and on close', async () => {
    const { CrashSimFileIO } = await import('../../storage/crash-sim-file-io.js');
    const io = new CrashSimFileIO();
    const clock = new FakeClock();
    const store = await openStore(dir.path, { fileIO: io, clock, config: { flushMode: 'ASYNC_FLUSH', flushIntervalMs: 500 } });
    const topic = createTopic(store, 1);
    for (let i = 0; i < 5; i++) await store.append(message(topic, 0, `a${i}`));
    expect((await store.read(topic, 0, 0, 32, 1 << 20)).messageCount).toBe(5);
    expect(io.unsyncedBytes()).toBeGreaterThan(0);
    clock.advance(500);
    await store.runCheckpoint(); // syncs the index files the interval flush leaves to it
    await new Promise((r) => setTimeout(r, 20));
    expect(io.unsyncedBytes()).toBe(0);
    await store.append(message(topic, 0, 'a5'));
    await store.close();
    const reopened = await openStore(dir.path);
    expect(reopened.maxOffset(topic, 0)).toBe(6);
    await reopened.close();
  });
});
