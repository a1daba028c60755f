import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeRecords } from '../../protocol/message-codec.js';
import { decodeProperties } from '../../protocol/properties.js';
import { javaStringHashCode } from '../../protocol/tag-filter.js';
import type { MessageStore } from '../../storage/message-store.js';
import { AppendStatus, GetMessageStatus } from '../../storage/types.js';
import { tempDir } from '../helpers/common.js';
import { createTopic, message, openStore } from './store-fixture.js';

let dir: { path: string; cleanup: () => Promise<void> };
let store: MessageStore;

beforeEach(async () => {
  dir = await tempDir('ferrymq-store-');
  store = await openStore(dir.path);
});

afterEach(async () => {
  await store.close();
  await dir.cleanup();
});

describe('MessageStore append and read', () => {
  it('appends, reads back the exact records, and resolves msgIds by lookup', async () => {
    store.setStoreHost({ ip: '192.168.1.2', port: 10911 });
    const topic = createTopic(store);
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await store.append(message(topic, 1, `body-${i}`, { tags: 'TagA', keys: [`k${i}`] })));
    expect(results.map((r) => r.status)).toEqual(Array(5).fill(AppendStatus.PUT_OK));
    const ok = results.map((r) => (r.status === 'PUT_OK' ? r : expect.unreachable()));
    expect(ok.map((r) => r.queueOffset)).toEqual([0, 1, 2, 3, 4]);
    expect(new Set(ok.map((r) => r.physicalOffset)).size).toBe(5);
    expect(store.maxOffset(topic, 1)).toBe(5);
    expect(store.minOffset(topic, 1)).toBe(0);

    const read = await store.read(topic, 1, 0, 32, 1 << 20);
    expect(read.status).toBe(GetMessageStatus.FOUND);
    expect(read.messageCount).toBe(5);
    expect(read.buffers).toHaveLength(1); // one contiguous range
    expect(read.nextBeginOffset).toBe(5);
    const records = decodeRecords(Buffer.concat(read.buffers));
    expect(records.map((r) => r.body.toString())).toEqual(['body-0', 'body-1', 'body-2', 'body-3', 'body-4']);
    expect(records.map((r) => r.msgId)).toEqual(ok.map((r) => r.msgId));
    expect(records[0].topic).toBe(topic);
    expect(records[0].queueId).toBe(1);
    expect(records[0].propertyMap.TAGS).toBe('TagA');
    expect(records[0].propertyMap['__CRC32#']).toMatch(/^\d{10}$/);
    expect(records[2].storeHost).toEqual({ ip: '192.168.1.2', port: 10911 });

    const found = await store.lookup(ok[3].physicalOffset);
    expect(found).toMatchObject({ topic, queueId: 1, queueOffset: 3 });
    expect(decodeRecords(found!.bytes)[0].body.toString()).toBe('body-3');
    expect(await store.lookup(ok[3].physicalOffset + 1)).toBeUndefined();
    expect(await store.lookup(2 ** 52)).toBeUndefined();

    const byKey = await store.queryByKey(topic, 'k2', 10);
    expect(byKey.map((l) => l.queueOffset)).toEqual([2]);
  });

  it('keeps msgIds equal to what clients compute from the record for a non-IPv4 store host', async () => {
    const topic = createTopic(store);
    store.setStoreHost({ ip: '::1', port: 10911 });
    const result = await store.append(message(topic, 0, 'v6'));
    const read = await store.read(topic, 0, 0, 1, 1 << 20);
    expect(result.status === 'PUT_OK' && result.msgId).toBe(decodeRecords(read.buffers[0])[0].msgId);
  });

  it('maps read statuses as RocketMQ does', async () => {
    const topic = createTopic(store);
    expect((await store.read('NoSuchTopic', 0, 0, 32, 1 << 20)).status).toBe(GetMessageStatus.NO_MATCHED_LOGIC_QUEUE);
    const empty = await store.read(topic, 0, 5, 32, 1 << 20);
    expect(empty).toMatchObject({ status: GetMessageStatus.NO_MESSAGE_IN_QUEUE, nextBeginOffset: 0, maxOffset: 0 });
    for (let i = 0; i < 3; i++) await store.append(message(topic, 0, `m${i}`));
    expect(await store.read(topic, 0, 3, 32, 1 << 20)).toMatchObject({ status: GetMessageStatus.OFFSET_OVERFLOW_ONE, nextBeginOffset: 3 });
    expect(await store.read(topic, 0, 9, 32, 1 << 20)).toMatchObject({ status: GetMessageStatus.OFFSET_OVERFLOW_BADLY, nextBeginOffset: 0 });
    expect(await store.read(topic, 0, 1, 1, 1 << 20)).toMatchObject({ status: GetMessageStatus.FOUND, messageCount: 1, nextBeginOffset: 2 });
  });

  it('filters by tagsCode without reading bodies and moves past filtered entries', async () => {
    const topic = createTopic(store);
    const tags = ['TagA', 'TagB', 'TagB', 'TagA', 'TagB'];
    for (const [i, tag] of tags.entries()) await store.append(message(topic, 0, `m${i}`, { tags: tag }));
    const filter = { tagsCodes: new Set([javaStringHashCode('TagA')]) };
    const read = await store.read(topic, 0, 0, 32, 1 << 20, filter);
    expect(read.status).toBe(GetMessageStatus.FOUND);
    expect(read.messageCount).toBe(2);
    expect(read.buffers).toHaveLength(2); // split around the filtered records
    expect(decodeRecords(Buffer.concat(read.buffers)).map((r) => r.body.toString())).toEqual(['m0', 'm3']);
    expect(read.nextBeginOffset).toBe(5);
    const none = await store.read(topic, 0, 4, 32, 1 << 20, filter);
    expect(none).toMatchObject({ status: GetMessageStatus.NO_MATCHED_MESSAGE, messageCount: 0, nextBeginOffset: 5 });
  });

  it('honours maxMessages and maxBytes but always returns at least one record', async () => {
    const topic = createTopic(store);
    for (let i = 0; i < 10; i++) await store.append(message(topic, 0, 'x'.repeat(100)));
    const one = await store.read(topic, 0, 0, 32, 10);
    expect(one).toMatchObject({ status: GetMessageStatus.FOUND, messageCount: 1, nextBeginOffset: 1 });
    const size = one.buffers[0].length;
    const three = await store.read(topic, 0, 0, 32, size * 3 + 5);
    expect(three.messageCount).toBe(3);
    const four = await store.read(topic, 0, 2, 4, 1 << 20);
    expect(four).toMatchObject({ messageCount: 4, nextBeginOffset: 6 });
  });

  it('refuses bad input with a status and a reason, before touching the filesystem', async () => {
    const topic = createTopic(store, 2);
    const cases: [ReturnType<typeof message>, string][] = [
      [message('../etc', 0, 'x'), AppendStatus.TOPIC_INVALID],
      [message('a/b', 0, 'x'), AppendStatus.TOPIC_INVALID],
      [message('..', 0, 'x'), AppendStatus.TOPIC_INVALID],
      [message('x'.repeat(128), 0, 'x'), AppendStatus.TOPIC_INVALID],
      [message('UnknownTopic', 0, 'x'), AppendStatus.TOPIC_INVALID],
      [message(topic, 2, 'x'), AppendStatus.QUEUE_INVALID],
      [message(topic, -1, 'x'), AppendStatus.QUEUE_INVALID],
      [message(topic, 0, Buffer.alloc(4 * 1024 * 1024 + 1)), AppendStatus.BODY_TOO_LARGE],
      [{ ...message(topic, 0, 'x'), properties: 'K\x01' + 'v'.repeat(40_000) + '\x02' }, AppendStatus.PROPERTIES_TOO_LARGE],
    ];
    for (const [msg, status] of cases) {
      const result = await store.append(msg);
      expect(result.status, msg.topic.slice(0, 20)).toBe(status);
      expect((result as { reason: string }).reason.length).toBeGreaterThan(5);
    }
    expect(store.maxOffset(topic, 0)).toBe(0);
    expect(store.stats().queueCount).toBe(0);
  });

  it('appendBatch stores consecutive offsets and onAppend fires once after the promises resolve', async () => {
    const topic = createTopic(store);
    const events: unknown[] = [];
    let resolved = false;
    store.onAppend((t, q, max) => {
      if (t === topic) events.push({ q, max, resolvedFirst: resolved });
    });
    const batch = store.appendBatch([0, 1, 2].map((i) => message(topic, 3, `b${i}`)));
    const results = await batch;
    resolved = true;
    expect(results.map((r) => (r.status === 'PUT_OK' ? r.queueOffset : -1))).toEqual([0, 1, 2]);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(events).toEqual([{ q: 3, max: 3, resolvedFirst: true }]);
  });

  it('onAppend runs once per queue committed to in a turn, all in one callback, with the newest max offset', async () => {
    await store.close();
    store = await openStore(dir.path, { config: { flushMode: 'ASYNC_FLUSH' } });
    const topic = createTopic(store, 3);
    for (let q = 0; q < 3; q++) await store.append(message(topic, q, 'warm'));
    await new Promise((r) => setImmediate(r));
    const events: { q: number; max: number; afterMicrotask: boolean }[] = [];
    let microtaskRan = false;
    store.onAppend((t, q, max) => {
      if (t !== topic) return;
      // Between two callbacks Node runs the microtasks: one queued by the first call would show in the next.
      if (events.length === 0) queueMicrotask(() => (microtaskRan = true));
      events.push({ q, max, afterMicrotask: microtaskRan });
    });
    await Promise.all([
      store.appendBatch([message(topic, 0, 'a'), message(topic, 0, 'b')]),
      store.append(message(topic, 1, 'c')),
      store.append(message(topic, 2, 'd')),
      store.append(message(topic, 0, 'e')),
    ]);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(events).toEqual([
      { q: 0, max: 4, afterMicrotask: false },
      { q: 1, max: 2, afterMicrotask: false },
      { q: 2, max: 2, afterMicrotask: false },
    ]);
  });

  it('stores a batch in one segment, even past the segment size, and bounds its total size', async () => {
    await store.close();
    store = await openStore(dir.path, { config: { segmentSize: 1024, maxMessageSize: 4096 } });
    const topic = createTopic(store);
    await store.append(message(topic, 0, 'first'.padEnd(600, '.')));
    const results = await store.appendBatch(Array.from({ length: 10 }, (_, i) => message(topic, 0, `b${i}`.padEnd(200, '.'))));
    expect(results.map((r) => (r.status === 'PUT_OK' ? r.queueOffset : r.status))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const physical = results.map((r) => (r as { physicalOffset: number }).physicalOffset);
    // One run of consecutive positions in a fresh segment: the batch was not split by the roll.
    for (let i = 1; i < physical.length; i++) expect(physical[i] - physical[i - 1]).toBe(physical[1] - physical[0]);
    expect((await store.lookup(physical[9]))?.queueOffset).toBe(10);
    const tooBig = await store.appendBatch(Array.from({ length: 40 }, () => message(topic, 0, 'x'.repeat(1000))));
    expect(tooBig.every((r) => r.status === AppendStatus.BODY_TOO_LARGE)).toBe(true);
    expect(store.maxOffset(topic, 0)).toBe(11);
  });

  it('reads index entries across the boundary between the .idx file and the in-memory tail', async () => {
    await store.close();
    store = await openStore(dir.path, { config: { segmentSize: 4 * 1024 * 1024 } });
    const topic = createTopic(store);
    const total = 2600; // the first 2048 entries (64 KiB) get written out, the rest stay in memory
    await Promise.all(Array.from({ length: total }, (_, i) => store.append(message(topic, 0, `r${i}`))));
    const seen: string[] = [];
    // Small reads from 1900 to the end cross the boundary wherever the write-out cut it.
    for (let offset = 1900; offset < total; ) {
      const read = await store.read(topic, 0, offset, 7, 1 << 20);
      expect(read.status).toBe(GetMessageStatus.FOUND);
      seen.push(...decodeRecords(Buffer.concat(read.buffers)).map((r) => r.body.toString()));
      offset = read.nextBeginOffset;
    }
    expect(seen).toEqual(Array.from({ length: total - 1900 }, (_, i) => `r${1900 + i}`));
    await store.runCheckpoint(); // writes the tail out; reads still agree
    const again = await store.read(topic, 0, 2590, 32, 1 << 20);
    expect(decodeRecords(Buffer.concat(again.buffers)).map((r) => r.body.toString())).toEqual(
      Array.from({ length: 10 }, (_, i) => `r${2590 + i}`),
    );
  });

  it('strips a __CRC32# property carried over from a stored record', async () => {
    const topic = createTopic(store);
    const copy = { ...message(topic, 0, 'again', { tags: 'T' }), properties: 'TAGS\x01T\x02__CRC32#\x010123456789\x02' };
    await store.append(copy);
    const read = await store.read(topic, 0, 0, 1, 1 << 20);
    const props = decodeRecords(read.buffers[0])[0].properties;
    expect(props.match(/__CRC32#/g)).toHaveLength(1);
    expect(decodeProperties(props).TAGS).toBe('T');
  });
});
