import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { ConsumerOffsetManager } from '../../broker/consumer-offset-manager.js';
import { FakeClock } from '../../storage/clock.js';
import { MetaStore } from '../../storage/meta-store.js';
import { settle, tempDir, uniqueName } from '../helpers/common.js';

const repoRoot = resolve(import.meta.dirname, '../..');

let dir: { path: string; cleanup: () => Promise<void> };
let meta: MetaStore;
let clock: FakeClock;
let group: string;
let topic: string;

function openMeta(): MetaStore {
  return MetaStore.open(join(dir.path, 'meta.db'), { synchronous: 'NORMAL' });
}

/** Moves the fake clock and lets the flush loop run that fell due. */
async function advance(ms: number): Promise<void> {
  clock.advance(ms);
  await settle();
}

function manager(flushIntervalMs = 1000): ConsumerOffsetManager {
  return new ConsumerOffsetManager(meta, { clock, flushIntervalMs });
}

beforeEach(async () => {
  dir = await tempDir('ferrymq-offsets-');
  meta = openMeta();
  clock = new FakeClock();
  group = uniqueName('group');
  topic = uniqueName('topic');
});

afterEach(async () => {
  meta.close();
  await dir.cleanup();
});

describe('ConsumerOffsetManager commits', () => {
  it('a durable commit is in SQLite when it returns', () => {
    const offsets = manager();
    expect(offsets.commit(group, topic, 0, 17, { durable: true })).toBe(true);
    expect(meta.getOffset(group, topic, 0)).toBe(17);
    expect(offsets.query(group, topic, 0)).toBe(17);
    expect(offsets.stats().dirty).toBe(0);
  });

  it('a non-durable commit is visible at once and persisted by the flush loop within the interval', async () => {
    const offsets = manager(1000);
    offsets.start();
    offsets.commit(group, topic, 1, 5, { durable: false });
    expect(offsets.query(group, topic, 1)).toBe(5);
    expect(meta.getOffset(group, topic, 1)).toBeUndefined();
    await advance(999);
    expect(meta.getOffset(group, topic, 1)).toBeUndefined();
    await advance(1);
    expect(meta.getOffset(group, topic, 1)).toBe(5);
    expect(offsets.stats().dirty).toBe(0);

    // The loop keeps running: the next commit lands one interval later.
    offsets.commit(group, topic, 1, 9, { durable: false });
    await advance(1000);
    expect(meta.getOffset(group, topic, 1)).toBe(9);
    await offsets.shutdown();
  });

  it('writes all dirty entries of a tick in one putOffsets call, with only the newest value per queue', async () => {
    const offsets = manager(500);
    const putOffsets = vi.spyOn(meta, 'putOffsets');
    offsets.start();
    for (let offset = 1; offset <= 50; offset++) {
      for (let queueId = 0; queueId < 4; queueId++) offsets.commit(group, topic, queueId, offset, { durable: false });
    }
    expect(putOffsets).not.toHaveBeenCalled();
    await advance(500);
    expect(putOffsets).toHaveBeenCalledTimes(1);
    expect(putOffsets.mock.calls[0]![0]).toHaveLength(4);
    expect(meta.listOffsets({ group }).map((e) => e.offset)).toEqual([50, 50, 50, 50]);
    await advance(5000);
    expect(putOffsets).toHaveBeenCalledTimes(1);
    await offsets.shutdown();
  });

  it('ignores negative commits (ali-ons sends -1 for offset 0)', () => {
    const offsets = manager();
    expect(offsets.commit(group, topic, 0, -1, { durable: true })).toBe(false);
    expect(offsets.commit(group, topic, 0, -1, { durable: false })).toBe(false);
    expect(offsets.query(group, topic, 0)).toBeUndefined();
    offsets.commit(group, topic, 0, 3, { durable: true });
    expect(offsets.commit(group, topic, 0, -1, { durable: true })).toBe(false);
    expect(offsets.query(group, topic, 0)).toBe(3);
    expect(meta.getOffset(group, topic, 0)).toBe(3);
  });

  it('accepts a backwards commit, as RocketMQ does, and counts it', () => {
    const offsets = manager();
    offsets.commit(group, topic, 0, 100, { durable: true });
    offsets.commit(group, topic, 0, 40, { durable: true });
    expect(offsets.query(group, topic, 0)).toBe(40);
    expect(meta.getOffset(group, topic, 0)).toBe(40);
    expect(offsets.stats().regressions).toBe(1);
  });

  it('skips the SQLite write when a durable commit repeats the persisted value', () => {
    const offsets = manager();
    const putOffsets = vi.spyOn(meta, 'putOffsets');
    offsets.commit(group, topic, 0, 8, { durable: true });
    offsets.commit(group, topic, 0, 8, { durable: true });
    expect(putOffsets).toHaveBeenCalledTimes(1);
    // A dirty entry with the same value still has to be written by a durable commit.
    offsets.commit(group, topic, 1, 4, { durable: false });
    offsets.commit(group, topic, 1, 4, { durable: true });
    expect(putOffsets).toHaveBeenCalledTimes(2);
    expect(meta.getOffset(group, topic, 1)).toBe(4);
    expect(offsets.stats().dirty).toBe(0);
  });

  it('rejects malformed commits with a clear error', () => {
    const offsets = manager();
    expect(() => offsets.commit(group, topic, -1, 1, { durable: false })).toThrow(/commit\.queueId/);
    expect(() => offsets.commit(group, topic, 0, 1.5, { durable: false })).toThrow(RangeError);
    expect(() => offsets.commit(group, topic, 0, Number.NaN, { durable: false })).toThrow(/commit\.offset/);
    expect(() => offsets.commit(group, topic, 0, 2 ** 53, { durable: true })).toThrow(RangeError);
    expect(() => offsets.commit('', topic, 0, 1, { durable: false })).toThrow(TypeError);
    expect(offsets.stats().dirty).toBe(0);
    expect(meta.listOffsets()).toEqual([]);
  });
});

describe('ConsumerOffsetManager lifecycle', () => {
  it('shutdown flushes before it returns, stops the timer, and later commits write through', async () => {
    const offsets = manager();
    offsets.start();
    offsets.commit(group, topic, 0, 11, { durable: false });
    const stopped = offsets.shutdown();
    expect(meta.getOffset(group, topic, 0)).toBe(11);
    expect(clock.pendingTimers()).toBe(0);
    await stopped;
    await offsets.shutdown();
    offsets.commit(group, topic, 0, 12, { durable: false });
    expect(meta.getOffset(group, topic, 0)).toBe(12);
  });

  it('loads stored offsets when created over a reopened store', async () => {
    const first = manager();
    first.start();
    first.commit(group, topic, 0, 1, { durable: true });
    first.commit(group, topic, 1, 2, { durable: false });
    await first.shutdown();
    meta.close();

    meta = openMeta();
    const second = manager();
    expect(second.query(group, topic, 0)).toBe(1);
    expect(second.query(group, topic, 1)).toBe(2);
    expect(second.listByGroup(group)).toHaveLength(2);
  });

  it('keeps entries dirty when a flush fails and writes them on a later tick', async () => {
    const offsets = manager(100);
    const putOffsets = vi.spyOn(meta, 'putOffsets').mockImplementationOnce(() => {
      throw new Error('SQLITE_FULL: database or disk is full');
    });
    offsets.start();
    offsets.commit(group, topic, 0, 6, { durable: false });
    await advance(100);
    expect(putOffsets).toHaveBeenCalledTimes(1);
    expect(meta.getOffset(group, topic, 0)).toBeUndefined();
    expect(offsets.stats().dirty).toBe(1);
    await advance(100);
    expect(meta.getOffset(group, topic, 0)).toBe(6);
    expect(offsets.stats().dirty).toBe(0);
    await offsets.shutdown();
  });

  it('commitDurably resolves once in SQLite, writing the commits of one turn in one putOffsets call', async () => {
    const offsets = manager();
    const putOffsets = vi.spyOn(meta, 'putOffsets');
    offsets.commit(group, topic, 3, 7, { durable: false });
    const commits = [0, 1, 2].map((queueId) => offsets.commitDurably(group, topic, queueId, 10 + queueId));
    expect(offsets.query(group, topic, 1)).toBe(11);
    expect(putOffsets).not.toHaveBeenCalled();
    expect(await Promise.all(commits)).toEqual([true, true, true]);
    expect(putOffsets).toHaveBeenCalledTimes(1);
    expect(meta.listOffsets({ group }).map((e) => [e.queueId, e.offset])).toEqual([[0, 10], [1, 11], [2, 12], [3, 7]]);
    expect(offsets.stats().dirty).toBe(0);
    // Unchanged and negative commits write nothing.
    expect(await offsets.commitDurably(group, topic, 0, 10)).toBe(true);
    expect(await offsets.commitDurably(group, topic, 0, -1)).toBe(false);
    expect(putOffsets).toHaveBeenCalledTimes(1);
    expect(() => offsets.commitDurably(group, topic, -1, 1)).toThrow(/commit\.queueId/);
    await offsets.shutdown();
  });

  it('SYNC_FLUSH (synchronous=FULL): commitDurably resolves after the WAL sync, which runs off the event loop; a repeat waits for it too', async () => {
    meta.close();
    const releases: (() => void)[] = [];
    meta = MetaStore.open(join(dir.path, 'meta.db'), { synchronous: 'FULL', syncFile: () => new Promise<void>((resolve) => releases.push(resolve)) });
    const offsets = manager();
    let first = false;
    let repeat = false;
    const commit = offsets.commitDurably(group, topic, 0, 9).then(() => (first = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(meta.getOffset(group, topic, 0)).toBe(9);
    expect(releases).toHaveLength(1);
    // Same value while the sync is in flight: in SQLite already, but not durable yet.
    const again = offsets.commitDurably(group, topic, 0, 9).then(() => (repeat = true));
    await settle();
    expect([first, repeat]).toEqual([false, false]);
    releases[0]!();
    await Promise.all([commit, again]);
    expect([first, repeat]).toEqual([true, true]);
    expect(releases).toHaveLength(1);
    await offsets.shutdown();
  });

  it('a failed WAL sync rejects commitDurably and leaves the entry to the flush loop', async () => {
    meta.close();
    let fail = true;
    meta = MetaStore.open(join(dir.path, 'meta.db'), { synchronous: 'FULL', syncFile: async () => {
      if (fail) throw new Error('EIO: fdatasync failed');
    } });
    const offsets = manager(500);
    offsets.start();
    await expect(offsets.commitDurably(group, topic, 0, 5)).rejects.toThrow('EIO');
    expect(offsets.stats().dirty).toBe(1);
    fail = false;
    await advance(500);
    expect(offsets.stats().dirty).toBe(0);
    await offsets.shutdown();
  });

  it('commitDurably rejects when the write fails and leaves the commit to the flush loop', async () => {
    const offsets = manager(500);
    offsets.start();
    vi.spyOn(meta, 'putOffsets').mockImplementationOnce(() => {
      throw new Error('disk I/O error');
    });
    await expect(offsets.commitDurably(group, topic, 0, 5)).rejects.toThrow('disk I/O error');
    expect(meta.getOffset(group, topic, 0)).toBeUndefined();
    await advance(500);
    expect(meta.getOffset(group, topic, 0)).toBe(5);
    await offsets.shutdown();
  });

  it('commitDurably after shutdown writes through', async () => {
    const offsets = manager();
    await offsets.shutdown();
    const commit = offsets.commitDurably(group, topic, 0, 4);
    expect(meta.getOffset(group, topic, 0)).toBe(4);
    expect(await commit).toBe(true);
  });

  it('a failed durable commit leaves memory unchanged and throws', () => {
    const offsets = manager();
    offsets.commit(group, topic, 0, 1, { durable: true });
    vi.spyOn(meta, 'putOffsets').mockImplementationOnce(() => {
      throw new Error('disk I/O error');
    });
    expect(() => offsets.commit(group, topic, 0, 2, { durable: true })).toThrow('disk I/O error');
    expect(offsets.query(group, topic, 0)).toBe(1);
  });

  it('after kill -9: durable and flushed commits survive, an unflushed piggybacked one is lost', async () => {
    meta.close();
    const url = (path: string) => JSON.stringify(pathToFileURL(join(repoRoot, path)).href);
    const script = join(dir.path, 'child.mts');
    await writeFile(
      script,
      `import { ConsumerOffsetManager } from ${url('broker/consumer-offset-manager.ts')};
      import { FakeClock } from ${url('storage/clock.ts')};
      import { MetaStore } from ${url('storage/meta-store.ts')};
      import { settle } from ${url('test/helpers/common.ts')};
      const [g, t] = [${JSON.stringify(group)}, ${JSON.stringify(topic)}];
      const clock = new FakeClock();
      const offsets = new ConsumerOffsetManager(MetaStore.open(process.argv[2], { synchronous: 'FULL' }), { clock });
      offsets.start();
      offsets.commit(g, t, 0, 10, { durable: true });
      offsets.commit(g, t, 1, 20, { durable: false });
      clock.advance(1000);
      await settle();
      offsets.commit(g, t, 2, 30, { durable: false });
      process.kill(process.pid, 'SIGKILL');`,
    );
    const result = spawnSync(process.execPath, ['--import', 'tsx', script, join(dir.path, 'meta.db')], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.stderr).toBe('');
    expect(result.signal).toBe('SIGKILL');

    meta = openMeta();
    const offsets = manager();
    expect(offsets.query(group, topic, 0)).toBe(10);
    expect(offsets.query(group, topic, 1)).toBe(20);
    expect(offsets.query(group, topic, 2)).toBeUndefined();
  });

  it('rejects a non-positive flush interval', () => {
    expect(() => manager(0)).toThrow(RangeError);
  });
});

describe('ConsumerOffsetManager admin operations', () => {
  it('reset writes durably, may move backwards, and wins over pending piggybacked commits', async () => {
    const offsets = manager();
    offsets.start();
    offsets.commit(group, topic, 0, 50, { durable: true });
    offsets.commit(group, topic, 1, 60, { durable: false });
    offsets.reset(group, topic, [
      { queueId: 0, offset: 10 },
      { queueId: 1, offset: 20 },
    ]);
    expect(meta.listOffsets({ group }).map((e) => e.offset)).toEqual([10, 20]);
    await advance(5000);
    expect(meta.getOffset(group, topic, 1)).toBe(20);
    expect(offsets.query(group, topic, 1)).toBe(20);
    expect(offsets.stats().regressions).toBe(0);
    expect(() => offsets.reset(group, topic, [{ queueId: 0, offset: -5 }])).toThrow(/reset\[0\]\.offset/);
    await offsets.shutdown();
  });

  it('lists by group and by topic in a deterministic order', () => {
    const offsets = manager();
    const [g1, g2] = [`a_${group}`, `b_${group}`];
    const [t1, t2] = [`a_${topic}`, `b_${topic}`];
    offsets.commit(g2, t1, 3, 1, { durable: false });
    offsets.commit(g1, t2, 0, 2, { durable: true });
    offsets.commit(g1, t1, 10, 3, { durable: false });
    offsets.commit(g1, t1, 2, 4, { durable: true });
    expect(offsets.listByGroup(g1)).toEqual([
      { group: g1, topic: t1, queueId: 2, offset: 4 },
      { group: g1, topic: t1, queueId: 10, offset: 3 },
      { group: g1, topic: t2, queueId: 0, offset: 2 },
    ]);
    expect(offsets.listByTopic(t1)).toEqual([
      { group: g1, topic: t1, queueId: 2, offset: 4 },
      { group: g1, topic: t1, queueId: 10, offset: 3 },
      { group: g2, topic: t1, queueId: 3, offset: 1 },
    ]);
    expect(offsets.listByGroup('nobody')).toEqual([]);
    offsets.flush();
    expect(meta.listOffsets({ group: g1 })).toEqual(offsets.listByGroup(g1));
  });

  it('deleteTopic and deleteGroup remove memory, SQLite rows and pending commits', async () => {
    const offsets = manager();
    offsets.start();
    const other = uniqueName('group');
    const otherTopic = uniqueName('topic');
    offsets.commit(group, topic, 0, 1, { durable: true });
    offsets.commit(group, topic, 1, 2, { durable: false });
    offsets.commit(other, topic, 0, 3, { durable: false });
    offsets.commit(other, otherTopic, 0, 4, { durable: true });
    offsets.commit(group, otherTopic, 0, 5, { durable: false });

    offsets.deleteTopic(topic);
    await advance(1000);
    expect(offsets.listByTopic(topic)).toEqual([]);
    expect(meta.listOffsets({ topic })).toEqual([]);
    expect(meta.getOffset(group, otherTopic, 0)).toBe(5);

    offsets.commit(group, otherTopic, 1, 6, { durable: false });
    offsets.deleteGroup(group);
    await advance(1000);
    expect(offsets.listByGroup(group)).toEqual([]);
    expect(meta.listOffsets({ group })).toEqual([]);
    expect(meta.listOffsets()).toEqual([{ group: other, topic: otherTopic, queueId: 0, offset: 4 }]);
    await offsets.shutdown();
  });
});
