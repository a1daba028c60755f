import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeRecords } from '../../protocol/message-codec.js';
import { GetMessageStatus } from '../../storage/types.js';
import { tempDir, uniqueName } from '../helpers/common.js';
import { openStore } from './store-fixture.js';

const child = fileURLToPath(new URL('./crash-child.ts', import.meta.url));

let dir: { path: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  dir = await tempDir('ferrymq-crashpoint-');
});
afterEach(async () => {
  await dir.cleanup();
});

/** Runs the child; returns what it acknowledged and how it ended. */
function runChild(
  topic: string,
  count: number,
  crashPoint: string,
  flushMode = 'SYNC_FLUSH',
): Promise<{ acked: { offset: number; body: string }[]; signal: string | null }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', child, dir.path, topic, String(count), flushMode], {
      env: { ...process.env, FERRYMQ_CRASH_POINT: crashPoint },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.stderr.on('data', (d) => (err += d));
    proc.on('error', reject);
    proc.on('exit', (code, signal) => {
      if (code && code !== 0) return reject(new Error(`child failed (${code}): ${err}`));
      const acked = out.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { offset: number; body: string });
      resolve({ acked, signal });
    });
  });
}

async function storedBodies(topic: string): Promise<string[]> {
  const store = await openStore(dir.path, { config: { segmentSize: 2048 } });
  const out: string[] = [];
  let offset = 0;
  for (;;) {
    const read = await store.read(topic, 0, offset, 64, 1 << 20);
    if (read.status !== GetMessageStatus.FOUND) break;
    out.push(...decodeRecords(Buffer.concat(read.buffers)).map((r) => r.body.toString()));
    offset = read.nextBeginOffset;
  }
  expect(out.length).toBe(store.maxOffset(topic, 0));
  await store.close();
  return out;
}

describe('crash points (SIGKILL in a child process)', () => {
  it.each(['append-before-fsync:4', 'mid-record-write:3', 'segment-roll:2', 'checkpoint-write:3'])(
    'keeps every acknowledged append when killed at %s',
    async (point) => {
      const topic = uniqueName('C');
      const { acked, signal } = await runChild(topic, 40, point);
      expect(signal).toBe('SIGKILL');
      const bodies = await storedBodies(topic);
      for (const { offset, body } of acked) expect(bodies[offset]).toBe(body);
    },
    60_000,
  );

  // ASYNC_FLUSH writes to an open segment inline (writevSync): a kill keeps the page cache, so nothing acknowledged is lost either.
  it.each(['append-before-fsync:4', 'mid-record-write:3', 'segment-roll:2'])(
    'keeps every acknowledged append when killed at %s (ASYNC_FLUSH)',
    async (point) => {
      const topic = uniqueName('C');
      const { acked, signal } = await runChild(topic, 40, point, 'ASYNC_FLUSH');
      expect(signal).toBe('SIGKILL');
      expect(acked.length).toBeGreaterThan(0);
      const bodies = await storedBodies(topic);
      for (const { offset, body } of acked) expect(bodies[offset]).toBe(body);
    },
    60_000,
  );

  it('survives a crash during recovery, then recovers the same state', async () => {
    const topic = uniqueName('C');
    const first = await runChild(topic, 40, 'mid-record-write:5');
    expect(first.signal).toBe('SIGKILL');
    const during = await runChild(topic, 1, 'recovery');
    expect(during.signal).toBe('SIGKILL');
    expect(during.acked).toEqual([]);
    const bodies = await storedBodies(topic);
    for (const { offset, body } of first.acked) expect(bodies[offset]).toBe(body);
  }, 60_000);
});
