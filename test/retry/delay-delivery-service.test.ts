import { afterEach, describe, expect, it } from 'vitest';
import { SCHEDULE_TOPIC, routeDelayedMessage } from '../../broker/delay/delay-queue.js';
import { DelayDeliveryService } from '../../broker/delay/delay-delivery-service.js';
import { parseDelaySchedule } from '../../broker/delay/delay-schedule.js';
import { decodeRecords, encodeRecord } from '../../protocol/message-codec.js';
import { decodeProperties, encodeProperties, type PropertyMap } from '../../protocol/properties.js';
import { javaStringHashCode } from '../../protocol/tag-filter.js';
import { FakeClock } from '../../storage/clock.js';
import { MetaStore } from '../../storage/meta-store.js';
import {
  AppendStatus,
  GetMessageStatus,
  type AppendListener,
  type AppendResult,
  type MessageStoreApi,
  type MessageToAppend,
  type ReadResult,
} from '../../storage/types.js';

/** The part of a message store the service uses, in memory, with injectable append failures. */
class MemoryStore {
  readonly meta = MetaStore.open(':memory:', { synchronous: 'NORMAL' });
  readonly queues = new Map<string, Buffer[]>();
  readonly failures: AppendStatus[] = [];
  private readonly listeners = new Set<AppendListener>();
  private nextPhysical = 1000;

  constructor(private readonly clock: FakeClock) {}

  async append(m: MessageToAppend): Promise<AppendResult> {
    const failure = this.failures.shift();
    if (failure) return { status: failure as Exclude<AppendStatus, 'PUT_OK'>, reason: 'injected' };
    const topic = this.meta.getTopic(m.topic);
    if (!topic) return { status: AppendStatus.TOPIC_INVALID, reason: 'unknown topic' };
    if (m.queueId >= topic.writeQueueNums) return { status: AppendStatus.QUEUE_INVALID, reason: 'bad queue' };
    const key = `${m.topic}/${m.queueId}`;
    const queue = this.queues.get(key) ?? [];
    this.queues.set(key, queue);
    const physicalOffset = this.nextPhysical++;
    const storeHost = { ip: '127.0.0.1', port: 9876 };
    const storeTimestamp = this.clock.now();
    queue.push(encodeRecord({ ...m, queueOffset: queue.length, physicalOffset, storeTimestamp, storeHost }));
    const maxOffset = queue.length;
    queueMicrotask(() => this.listeners.forEach((l) => l(m.topic, m.queueId, maxOffset, m.tagsCode)));
    return { status: AppendStatus.PUT_OK, queueId: m.queueId, queueOffset: maxOffset - 1, physicalOffset, storeTimestamp, msgId: '' };
  }

  async read(topic: string, queueId: number, offset: number, max: number): Promise<ReadResult> {
    const queue = this.queues.get(`${topic}/${queueId}`) ?? [];
    const slice = queue.slice(offset, offset + max);
    const status = queue.length === 0 ? GetMessageStatus.NO_MESSAGE_IN_QUEUE : slice.length ? GetMessageStatus.FOUND : GetMessageStatus.OFFSET_OVERFLOW_ONE;
    return { status, buffers: slice.length ? [Buffer.concat(slice)] : [], messageCount: slice.length, nextBeginOffset: offset + slice.length, minOffset: 0, maxOffset: queue.length };
  }

  /** Set by a test to simulate retention removing the first entries of every queue. */
  retainedFrom = 0;

  minOffset(): number {
    return this.retainedFrom;
  }

  maxOffset(topic: string, queueId: number): number {
    return this.queues.get(`${topic}/${queueId}`)?.length ?? 0;
  }

  onAppend(listener: AppendListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  records(topic: string, queueId = 0) {
    return (this.queues.get(`${topic}/${queueId}`) ?? []).flatMap((b) => decodeRecords(b));
  }

  asApi(): MessageStoreApi {
    return this as unknown as MessageStoreApi;
  }
}

const schedule = parseDelaySchedule('1s 5s 10s');
const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

let services: DelayDeliveryService[] = [];
afterEach(async () => {
  await Promise.all(services.map((s) => s.shutdown()));
  services = [];
});

function setup() {
  const clock = new FakeClock();
  const store = new MemoryStore(clock);
  store.meta.putTopic({ topicName: 'orders', readQueueNums: 4, writeQueueNums: 4, perm: 6, topicSysFlag: 0, order: false });
  return { clock, store };
}

async function startService(store: MemoryStore, clock: FakeClock, overrides: Partial<ConstructorParameters<typeof DelayDeliveryService>[0]> = {}) {
  const service = new DelayDeliveryService({ store: store.asApi(), schedule, clock, retryAfterMs: 500, ...overrides });
  services.push(service);
  service.start();
  return service;
}

async function sendDelayed(store: MemoryStore, clock: FakeClock, level: number, body: string, extra: PropertyMap = {}, queueId = 2) {
  const properties: PropertyMap = { TAGS: 'TagA', KEYS: 'k1 k2', DELAY: String(level), ...extra };
  const message: MessageToAppend = {
    topic: 'orders',
    queueId,
    body: Buffer.from(body),
    flag: 7,
    properties: encodeProperties(properties),
    sysFlag: 0,
    bornTimestamp: 1234,
    bornHost: { ip: '10.0.0.9', port: 5555 },
    reconsumeTimes: 3,
    tagsCode: javaStringHashCode('TagA'),
    keys: ['k1', 'k2'],
  };
  const parked = routeDelayedMessage(message, properties, schedule, clock.now());
  const result = await store.append(parked);
  expect(result.status).toBe(AppendStatus.PUT_OK);
  return parked;
}

describe('routeDelayedMessage', () => {
  it('parks a DELAY message on queue level-1 of the schedule topic with its real destination', () => {
    const clock = new FakeClock();
    const message = { topic: 'orders', queueId: 3, properties: encodeProperties({ DELAY: '2', TAGS: 'a' }) } as MessageToAppend;
    const parked = routeDelayedMessage(message, decodeProperties(message.properties), schedule, clock.now());
    expect(parked.topic).toBe(SCHEDULE_TOPIC);
    expect(parked.queueId).toBe(1);
    expect(parked.tagsCode).toBe(clock.now() + 5000);
    expect(decodeProperties(parked.properties)).toMatchObject({ REAL_TOPIC: 'orders', REAL_QID: '3', DELAY: '2', TAGS: 'a' });
  });

  it('clamps a level above the table to the last level', () => {
    const message = { topic: 'orders', queueId: 0, properties: encodeProperties({ DELAY: '40' }) } as MessageToAppend;
    const parked = routeDelayedMessage(message, decodeProperties(message.properties), schedule, 0);
    expect(parked.queueId).toBe(2);
    expect(decodeProperties(parked.properties).DELAY).toBe('3');
  });

  it.each([{}, { DELAY: '0' }, { DELAY: '-1' }, { DELAY: 'x' }, { DELAY: '2', TRAN_MSG: 'true' }])('leaves %j unchanged', (props) => {
    const message = { topic: 'orders', queueId: 0, properties: encodeProperties(props) } as MessageToAppend;
    expect(routeDelayedMessage(message, decodeProperties(message.properties), schedule, 0)).toBe(message);
  });
});

describe('DelayDeliveryService', () => {
  it('delivers a parked message to its real queue when due, never before, and persists progress', async () => {
    const { clock, store } = setup();
    await startService(store, clock);
    await sendDelayed(store, clock, 2, 'hello');
    clock.advance(4999);
    await settle();
    expect(store.records('orders', 2)).toHaveLength(0);
    clock.advance(1);
    await settle();
    const [delivered] = store.records('orders', 2);
    expect(delivered.body.toString()).toBe('hello');
    expect(delivered).toMatchObject({ flag: 7, bornTimestamp: 1234, reconsumeTimes: 3, bornHost: { ip: '10.0.0.9', port: 5555 } });
    const props = decodeProperties(delivered.properties);
    expect(props.DELAY).toBeUndefined();
    expect(props).toMatchObject({ WAIT: 'false', REAL_TOPIC: 'orders', REAL_QID: '2', TAGS: 'TagA', KEYS: 'k1 k2' });
    expect(store.meta.getDelayProgress(2)).toBe(1);
  });

  it('keeps per-level order and delivers each level on its own schedule', async () => {
    const { clock, store } = setup();
    const service = await startService(store, clock);
    await sendDelayed(store, clock, 1, 'a1');
    await sendDelayed(store, clock, 2, 'b1');
    clock.advance(200);
    await sendDelayed(store, clock, 1, 'a2');
    clock.advance(1000);
    await settle();
    expect(store.records('orders', 2).map((r) => r.body.toString())).toEqual(['a1', 'a2']);
    clock.advance(4000);
    await settle();
    expect(store.records('orders', 2).map((r) => r.body.toString())).toEqual(['a1', 'a2', 'b1']);
    expect(service.stats.delivered).toBe(3);
  });

  it('retries after a failed append without losing or reordering anything', async () => {
    const { clock, store } = setup();
    const service = await startService(store, clock);
    await sendDelayed(store, clock, 1, 'm1');
    await sendDelayed(store, clock, 1, 'm2');
    store.failures.push(AppendStatus.DISK_FULL);
    clock.advance(1000);
    await settle();
    // m1 failed, m2 went through: progress stays before m1, so m2 will be delivered twice (counted).
    expect(store.meta.getDelayProgress(1) ?? 0).toBe(0);
    expect(service.stats.appendFailures).toBe(1);
    clock.advance(500);
    await settle();
    expect(store.records('orders', 2).map((r) => r.body.toString())).toEqual(['m2', 'm1', 'm2']);
    expect(service.stats.duplicates).toBe(1);
    expect(store.meta.getDelayProgress(1)).toBe(2);
  });

  it('skips and counts a message whose real queue does not exist, then goes on', async () => {
    const { clock, store } = setup();
    const service = await startService(store, clock);
    await sendDelayed(store, clock, 1, 'lost-queue', {}, 9);
    await sendDelayed(store, clock, 1, 'fine');
    clock.advance(1000);
    await settle();
    expect(service.stats.undeliverable).toBe(1);
    expect(store.records('orders', 2).map((r) => r.body.toString())).toEqual(['fine']);
    expect(store.meta.getDelayProgress(1)).toBe(2);
  });

  it('counts entries removed by retention before they were due, and delivers the rest', async () => {
    const { clock, store } = setup();
    const service = await startService(store, clock);
    for (const body of ['gone-1', 'gone-2', 'kept']) await sendDelayed(store, clock, 2, body);
    store.retainedFrom = 2;
    clock.advance(5000);
    await settle();
    expect(store.records('orders', 2).map((r) => r.body.toString())).toEqual(['kept']);
    expect(service.stats.undeliverable).toBe(2);
    expect(store.meta.getDelayProgress(2)).toBe(3);
  });

  it('resumes from persisted progress after a restart without redelivering', async () => {
    const { clock, store } = setup();
    const first = await startService(store, clock);
    await sendDelayed(store, clock, 1, 'before');
    clock.advance(1000);
    await settle();
    await first.shutdown();
    await sendDelayed(store, clock, 1, 'while-down');
    clock.advance(1000);
    await startService(store, clock);
    await settle();
    expect(store.records('orders', 2).map((r) => r.body.toString())).toEqual(['before', 'while-down']);
  });

  it('after a crash between append and progress, redelivers the batch and counts the duplicates', async () => {
    const { clock, store } = setup();
    const realPut = store.meta.putDelayProgress.bind(store.meta);
    store.meta.putDelayProgress = () => {
      throw new Error('simulated crash before progress');
    };
    const first = await startService(store, clock, { logger: undefined });
    await sendDelayed(store, clock, 1, 'x');
    await sendDelayed(store, clock, 1, 'y');
    clock.advance(1000);
    await settle();
    await first.shutdown();
    expect(store.records('orders', 2)).toHaveLength(2);
    store.meta.putDelayProgress = realPut;
    const second = await startService(store, clock);
    await settle();
    expect(second.stats.duplicates).toBe(2);
    expect(store.records('orders', 2).map((r) => r.body.toString())).toEqual(['x', 'y', 'x', 'y']);
    expect(store.meta.getDelayProgress(1)).toBe(2);
  });

  it('wakes an idle level when a new entry is parked', async () => {
    const { clock, store } = setup();
    await startService(store, clock);
    clock.advance(60_000);
    await settle();
    await sendDelayed(store, clock, 3, 'late');
    await settle();
    clock.advance(10_000);
    await settle();
    expect(store.records('orders', 2)).toHaveLength(1);
  });
});
