/**
 * maxOpenSegments against the process's open-file limit: two descriptors per segment, and the
 * store never plans on more than 3/4 of the limit.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { Writable } from 'node:stream';
import { openFileLimit, segmentHandleBudget } from '../../storage/open-file-limit.js';
import { AppendStatus } from '../../storage/types.js';
import { tempDir, waitFor } from '../helpers/common.js';
import { createTopic, message, openStore } from './store-fixture.js';

let dir: { path: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  dir = await tempDir('ferrymq-fdlimit-');
});
afterEach(async () => {
  await dir.cleanup();
});

describe('open-file limit', () => {
  it('reads the soft limit of this process', () => {
    const limit = openFileLimit();
    if (process.platform === 'linux') expect(limit).toBeGreaterThan(0);
  });

  it('caps segment pairs at 3/8 of the limit, never below 16, and keeps a lower configured value', () => {
    expect(segmentHandleBudget(4096, 20_000)).toBe(4096);
    expect(segmentHandleBudget(4096, 1024)).toBe(384);
    expect(segmentHandleBudget(100, 1024)).toBe(100);
    expect(segmentHandleBudget(4096, 10)).toBe(16);
    expect(segmentHandleBudget(4096, undefined)).toBe(4096);
  });

  it('a store under a low limit keeps its open segments within it and says so once', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }));
    const store = await openStore(dir.path, { openFileLimit: 64, logger, config: { flushMode: 'ASYNC_FLUSH', maxOpenSegments: 512 } });
    expect(lines.filter((l) => l.includes('open-file limit'))).toHaveLength(1);
    expect(JSON.parse(lines.find((l) => l.includes('open-file limit'))!)).toMatchObject({ maxOpenSegments: 512, openFileLimit: 64, using: 24 });
    const topic = createTopic(store, 100);
    const results = await Promise.all(Array.from({ length: 100 }, (_, q) => store.append(message(topic, q, `q${q}`))));
    expect(results.every((r) => r.status === AppendStatus.PUT_OK)).toBe(true);
    // Handles beyond the bound are closed as their last I/O finishes.
    await waitFor(() => store.openSegmentCount() <= 24, { what: 'open segments within the capped bound' });
    await store.close();
  });
});
