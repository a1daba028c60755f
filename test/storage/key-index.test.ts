import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { indexKeysOf } from '../../broker/handlers/put-message.js';
import { FakeClock } from '../../storage/clock.js';
import { META_FILE, type MessageStore } from '../../storage/message-store.js';
import { MetaStore } from '../../storage/meta-store.js';
import { tempDir, uniqueName } from '../helpers/common.js';
import { createTopic, message, openStore } from './store-fixture.js';

const child = fileURLToPath(new URL('./key-index-child.ts', import.meta.url));
/** A flush interval no test waits for: rows reach SQLite only through the paths under test. */
const NEVER = 3_600_000;

let dir: { path: string; cleanup: () => Promise<void> };
let store: MessageStore | undefined;
beforeEach(async () => {
  dir = await tempDir('ferrymq-keys-');
});
afterEach(async () => {
  await store?.close();
  store = undefined;
  await dir.cleanup();
});

function indexedKeys(meta: { findKeys: MessageStore['meta']['findKeys'] }, topic: string, key: string): number[] {
  return meta.findKeys(topic, key, 100).map((e) => e.physicalOffset);
}

describe('key index written behind the appends', () => {
  it('does not write key rows on the append path, yet queryByKey finds a message right after its append', async () => {
    store = await openStore(dir.path, { keysOf: indexKeysOf, config: { keyIndexFlushIntervalMs: NEVER } });
    const topic = createTopic(store);
    const result = await store.append(message(topic, 1, 'hello', { keys: ['order-1'] }));
    expect(result.status).toBe('PUT_OK');
    expect(indexedKeys(store.meta, topic, 'order-1')).toEqual([]);
    const found = await store.queryByKey(topic, 'order-1', 10);
    expect(found.map((f) => [f.queueId, f.queueOffset])).toEqual([[1, 0]]);
  });

  it('flushes buffered rows on the timer', async () => {
    const clock = new FakeClock();
    store = await openStore(dir.path, { clock, config: { keyIndexFlushIntervalMs: 100 } });
    const topic = createTopic(store);
    const result = await store.append(message(topic, 0, 'a', { keys: ['k1', 'k2'] }));
    if (result.status !== 'PUT_OK') throw new Error(result.reason);
    clock.advance(99);
    await new Promise((resolve) => setImmediate(resolve));
    expect(indexedKeys(store.meta, topic, 'k1')).toEqual([]);
    clock.advance(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(indexedKeys(store.meta, topic, 'k1')).toEqual([result.physicalOffset]);
    expect(indexedKeys(store.meta, topic, 'k2')).toHaveLength(1);
  });

  it('flushes once the buffer holds enough rows, before the timer', async () => {
    store = await openStore(dir.path, { config: { keyIndexFlushIntervalMs: NEVER, segmentSize: 1 << 20 } });
    const topic = createTopic(store);
    const batch = Array.from({ length: 4100 }, (_, i) => message(topic, 0, 'x', { keys: [`b${i}`] }));
    await store.appendBatch(batch);
    expect(indexedKeys(store.meta, topic, 'b0')).toHaveLength(1);
    expect(indexedKeys(store.meta, topic, 'b4099')).toHaveLength(1);
  });

  it('writes buffered rows before a checkpoint and on a clean close', async () => {
    store = await openStore(dir.path, { config: { keyIndexFlushIntervalMs: NEVER } });
    const topic = createTopic(store);
    await store.append(message(topic, 0, 'a', { keys: ['before-checkpoint'] }));
    await store.runCheckpoint();
    expect(indexedKeys(store.meta, topic, 'before-checkpoint')).toHaveLength(1);
    await store.append(message(topic, 0, 'b', { keys: ['before-close'] }));
    await store.close();
    // Without keysOf the reopened store could not re-index anything: the rows were written at close.
    store = await openStore(dir.path);
    expect(indexedKeys(store.meta, topic, 'before-close')).toHaveLength(1);
    expect(await store.queryByKey(topic, 'before-close', 10)).toHaveLength(1);
  });

  it('keeps the rows buffered and fails the checkpoint while SQLite refuses them', async () => {
    store = await openStore(dir.path, { config: { keyIndexFlushIntervalMs: NEVER } });
    const topic = createTopic(store);
    const addKeys = vi.spyOn(store.meta, 'addKeys').mockImplementation(() => {
      throw new Error('SQLITE_FULL');
    });
    await store.append(message(topic, 0, 'a', { keys: ['kept'] }));
    await expect(store.runCheckpoint()).rejects.toThrow('SQLITE_FULL');
    expect(await store.queryByKey(topic, 'kept', 10)).toEqual([]);
    addKeys.mockRestore();
    await store.runCheckpoint();
    expect(indexedKeys(store.meta, topic, 'kept')).toHaveLength(1);
  });

  it('skips empty keys instead of failing the buffered transaction', async () => {
    store = await openStore(dir.path, { config: { keyIndexFlushIntervalMs: NEVER } });
    const topic = createTopic(store);
    await store.append({ ...message(topic, 0, 'a'), keys: ['', 'ok'] });
    expect(await store.queryByKey(topic, 'ok', 10)).toHaveLength(1);
  });
});

describe('key index after a crash (SIGKILL in a child process)', () => {
  it('re-indexes the keys of records after the checkpoint when the buffered rows died with the process', async () => {
    const topic = uniqueName('K');
    const count = 30;
    const checkpointAfter = 10;
    const proc = spawn(process.execPath, ['--import', 'tsx', child, dir.path, topic, String(count), String(checkpointAfter)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    proc.stderr.on('data', (d) => (err += d));
    await new Promise<void>((resolve, reject) => {
      proc.stdout.on('data', (d: Buffer) => {
        if (d.toString().includes('acked')) resolve();
      });
      proc.on('exit', (code) => reject(new Error(`child exited (${code}) before acknowledging: ${err}`)));
    });
    const exited = new Promise((resolve) => proc.on('exit', resolve));
    proc.kill('SIGKILL');
    await exited;

    // Only the checkpoint wrote rows: the keys of the later appends are not in the database.
    const meta = MetaStore.open(join(dir.path, META_FILE), { readonly: true, synchronous: 'NORMAL' });
    try {
      expect(indexedKeys(meta, topic, `k${checkpointAfter - 1}`)).toHaveLength(1);
      expect(indexedKeys(meta, topic, `k${checkpointAfter}`)).toEqual([]);
      expect(indexedKeys(meta, topic, 'shared')).toHaveLength(checkpointAfter);
    } finally {
      meta.close();
    }

    store = await openStore(dir.path, { keysOf: indexKeysOf });
    // Rows are written by recovery itself, not by the query's flush.
    expect(indexedKeys(store.meta, topic, 'shared')).toHaveLength(count);
    for (let i = 0; i < count; i++) {
      const found = await store.queryByKey(topic, `k${i}`, 10);
      expect(found.map((f) => [f.queueId, f.queueOffset])).toEqual([[i % 2, Math.floor(i / 2)]]);
    }
  }, 30_000);
});
