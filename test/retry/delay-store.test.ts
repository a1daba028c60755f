/**
 * DelayDeliveryService on the real MessageStore (no broker): delivery, restart from persisted
 * progress, and the duplicate count after an interrupted batch, across a store close and reopen.
 */
import { afterEach, expect, it } from 'vitest';
import { DelayDeliveryService, ensureScheduleTopic } from '../../broker/delay/delay-delivery-service.js';
import { routeDelayedMessage } from '../../broker/delay/delay-queue.js';
import { parseDelaySchedule } from '../../broker/delay/delay-schedule.js';
import { decodeRecords } from '../../protocol/message-codec.js';
import { encodeProperties } from '../../protocol/properties.js';
import { MessageStore } from '../../storage/message-store.js';
import { AppendStatus } from '../../storage/types.js';
import { tempDir, waitFor } from '../helpers/common.js';

const schedule = parseDelaySchedule('100ms 200ms');
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function openStore(dataDir: string): Promise<MessageStore> {
  const store = await MessageStore.open({ dataDir, config: { segmentSize: 64 * 1024 } });
  store.meta.putTopic({ topicName: 'orders', readQueueNums: 1, writeQueueNums: 1, perm: 6, topicSysFlag: 0, order: false });
  ensureScheduleTopic(store, schedule.maxLevel);
  return store;
}

async function park(store: MessageStore, bodies: string[]): Promise<void> {
  for (const body of bodies) {
    const properties = { DELAY: '1', KEYS: body };
    const message = routeDelayedMessage(
      { topic: 'orders', queueId: 0, body: Buffer.from(body), flag: 0, properties: encodeProperties(properties), sysFlag: 0, bornTimestamp: Date.now(), bornHost: { ip: '127.0.0.1', port: 1 }, reconsumeTimes: 0, tagsCode: 0, keys: [body] },
      properties,
      schedule,
      Date.now(),
    );
    expect((await store.append(message)).status).toBe(AppendStatus.PUT_OK);
  }
}

async function bodiesOn(store: MessageStore): Promise<string[]> {
  const result = await store.read('orders', 0, 0, 1000, 16 * 1024 * 1024);
  return result.buffers.flatMap((b) => decodeRecords(b)).map((r) => r.body.toString());
}

it('counts the duplicates of a batch interrupted before its progress write, after a reopen', async () => {
  const dir = await tempDir();
  cleanups.push(dir.cleanup);
  let store = await openStore(dir.path);
  // The store and service outlive nothing: "crash" = progress write fails, then everything is closed.
  store.meta.putDelayProgress = () => {
    throw new Error('simulated crash before progress');
  };
  await park(store, ['a', 'b', 'c']);
  // All three due before the service starts: they go out as one batch.
  await new Promise((r) => setTimeout(r, schedule.delayMs(1) + 50));
  let service = new DelayDeliveryService({ store, schedule, retryAfterMs: 60_000 });
  service.start();
  await waitFor(() => store.maxOffset('orders', 0) === 3, { what: 'first delivery' });
  await service.shutdown();
  await store.close();

  store = await openStore(dir.path);
  cleanups.push(() => store.close());
  service = new DelayDeliveryService({ store, schedule });
  cleanups.push(() => service.shutdown());
  service.start();
  await waitFor(() => store.maxOffset('orders', 0) === 6, { what: 'redelivery' });
  expect(service.stats.duplicates).toBe(3);
  expect(await bodiesOn(store)).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
  expect(store.meta.getDelayProgress(1)).toBe(3);

  // Progress is now saved: more entries go through once, and a restart redelivers nothing.
  await park(store, ['d']);
  await waitFor(() => store.maxOffset('orders', 0) === 7, { what: 'delivery of d' });
  await service.shutdown();
  service = new DelayDeliveryService({ store, schedule });
  service.start();
  await new Promise((r) => setTimeout(r, 300));
  expect(service.stats).toMatchObject({ delivered: 0, duplicates: 0 });
  expect(await bodiesOn(store)).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'd']);
});
