import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BrokerOffsetStore, LocalFileOffsetStore } from '../../client/offset-store.js';
import { storeHasAnyOffset } from '../../client/start-offset.js';
import type { MessageQueue } from '../../client/message-queue.js';
import { tempDir } from '../helpers/common.js';

const q0: MessageQueue = { topic: 'T', brokerName: 'b', queueId: 0 };
const q1: MessageQueue = { topic: 'T', brokerName: 'b', queueId: 1 };

describe('BrokerOffsetStore', () => {
  it('reads from the broker, commits only changes, and keeps increase-only updates', async () => {
    const commits: Array<[number, number]> = [];
    const store = new BrokerOffsetStore('g', {
      queryOffset: async (_g, mq) => (mq.queueId === 0 ? 7 : undefined),
      updateOffset: async (_g, mq, offset) => { commits.push([mq.queueId, offset]); },
    });
    expect(await store.read(q0)).toBe(-1);
    expect(await store.read(q0, true)).toBe(7);
    expect(await store.read(q1, true)).toBe(-1);
    await store.persistAll([q0]);
    expect(commits).toEqual([]);
    store.update(q0, 9, true);
    store.update(q0, 8, true);
    expect(await store.read(q0)).toBe(9);
    store.update(q1, 3, false);
    await store.persistAll([q0, q1]);
    await store.persistAll([q0, q1]);
    expect(commits.sort()).toEqual([[0, 9], [1, 3]]);
  });

  it('surfaces a failed commit', async () => {
    const store = new BrokerOffsetStore('g', { queryOffset: async () => undefined, updateOffset: async () => { throw new Error('down'); } });
    store.update(q0, 1, false);
    await expect(store.persistAll([q0])).rejects.toThrow('down');
  });
});

describe('LocalFileOffsetStore', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => { await cleanup?.(); });

  it('survives a restart and leaves no temp file behind', async () => {
    const dir = await tempDir();
    cleanup = dir.cleanup;
    const file = join(dir.path, 'g', 'offsets.json');
    const first = new LocalFileOffsetStore(file);
    await first.load();
    expect(await first.read(q0)).toBe(-1);
    first.update(q0, 5, true);
    first.update(q1, 2, true);
    await Promise.all([first.persistAll(), first.persistAll()]);
    await expect(new LocalFileOffsetStore(file).load()).rejects.toThrow(/already used/);
    first.close();
    const second = new LocalFileOffsetStore(file);
    await second.load();
    expect(await second.read(q0)).toBe(5);
    expect(await second.read(q1)).toBe(2);
    expect(await readdir(join(dir.path, 'g'))).toEqual(['offsets.json']);
  });

  it('refuses a file it does not understand instead of starting over', async () => {
    const dir = await tempDir();
    cleanup = dir.cleanup;
    const file = join(dir.path, 'offsets.json');
    await writeFile(file, '{"version":9}');
    await expect(new LocalFileOffsetStore(file).load()).rejects.toThrow(/unrecognised/);
  });
});

describe('storeHasAnyOffset', () => {
  it('answers from memory first and never overwrites an offset in use with an older stored one', async () => {
    const queried: number[] = [];
    const store = new BrokerOffsetStore('g', {
      queryOffset: async (_g, mq) => { queried.push(mq.queueId); return 3; },
      updateOffset: async () => {},
    });
    store.update(q1, 40, false);
    expect(await storeHasAnyOffset(store, [q0, q1])).toBe(true);
    expect(queried).toEqual([]);
    expect(await store.read(q1)).toBe(40);
    const fresh = new BrokerOffsetStore('g', { queryOffset: async () => undefined, updateOffset: async () => {} });
    expect(await storeHasAnyOffset(fresh, [q0, q1])).toBe(false);
  });
});
