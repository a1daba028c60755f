/**
 * Retry, DLQ and delayed sends end to end with ali-ons against a real broker using the short delay
 * profile (100..440 ms). ali-ons sends back with delayLevel 0, so retry n waits level 3 + n - 1.
 */
import { createRequire } from 'node:module';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SCHEDULE_TOPIC } from '../../broker/delay/delay-queue.js';
import { TEST_DELAY_LEVELS, parseDelaySchedule } from '../../broker/delay/delay-schedule.js';
import { decodeRecords, type DecodedRecord } from '../../protocol/message-codec.js';
import { uniqueName, waitFor } from '../helpers/common.js';
import { createTopic, startBroker, type TestBroker } from '../helpers/broker.js';

interface OnsMessage {
  topic: string;
  body: Buffer;
  msgId: string;
  originMessageId?: string;
  reconsumeTimes: number;
  delayTimeLevel?: number;
}
interface OnsConsumer {
  ready(): Promise<void>;
  subscribe(topic: string, expression: string, handler: (msg: OnsMessage) => Promise<unknown>): void;
  on(event: 'error', listener: (err: Error) => void): void;
  close(): Promise<void>;
}
interface OnsProducer {
  ready(): Promise<void>;
  send(msg: OnsMessage): Promise<{ msgId: string; sendStatus: string }>;
  close(): Promise<void>;
}
interface AliOns {
  Consumer: new (options: Record<string, unknown>) => OnsConsumer;
  Producer: new (options: Record<string, unknown>) => OnsProducer;
  Message: new (topic: string, tags: string, body: Buffer) => OnsMessage;
}
const ons = createRequire(import.meta.url)('ali-ons') as AliOns;

const quiet = { info() {}, warn() {}, error() {}, debug() {} };
// ali-ons asserts an HTTP client even when nameSrv is given; it is never called then.
const httpclient = { request: async () => Promise.reject(new Error('no HTTP in tests')) };
const schedule = parseDelaySchedule(TEST_DELAY_LEVELS);

let broker: TestBroker;
let producer: OnsProducer;
const consumers: OnsConsumer[] = [];

beforeAll(async () => {
  broker = await startBroker({ messageDelayLevel: TEST_DELAY_LEVELS });
  producer = new ons.Producer({ producerGroup: uniqueName('PG'), nameSrv: broker.nameSrv, httpclient, logger: quiet, instanceName: uniqueName('p') });
  await producer.ready();
});

afterEach(async () => {
  await Promise.all(consumers.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await producer?.close();
  await broker?.stop();
});

function newConsumer(group: string, options: Record<string, unknown> = {}): OnsConsumer {
  // A known group gets its %RETRY% route on the first lookup (no 30 s wait for the next route poll).
  broker.broker.context.topics.ensureGroup(group);
  const consumer = new ons.Consumer({
    consumerGroup: group,
    nameSrv: broker.nameSrv,
    httpclient,
    logger: quiet,
    instanceName: uniqueName('c'),
    ...options,
  });
  consumer.on('error', () => undefined); // the handler's own failures are reported here
  consumers.push(consumer);
  return consumer;
}

async function records(topic: string, queueId = 0): Promise<DecodedRecord[]> {
  const result = await broker.broker.context.store.read(topic, queueId, 0, 1000, 64 * 1024 * 1024);
  return result.buffers.flatMap((b) => decodeRecords(b));
}

function newTopic(queues = 1): string {
  const topic = uniqueName('T');
  createTopic(broker, topic, queues);
  return topic;
}

describe('ali-ons clustering consumer', () => {
  it('a listener that always fails gets 16 redeliveries at growing delays, then one copy lands in %DLQ%<group>', async () => {
    const topic = newTopic();
    const group = uniqueName('G');
    const deliveries: { at: number; reconsumeTimes: number; originMessageId?: string; msgId: string }[] = [];
    const consumer = newConsumer(group);
    consumer.subscribe(topic, '*', async (msg) => {
      deliveries.push({ at: Date.now(), reconsumeTimes: msg.reconsumeTimes, originMessageId: msg.originMessageId, msgId: msg.msgId });
      throw new Error('always fails');
    });
    await consumer.ready();
    const sent = await producer.send(new ons.Message(topic, 'TagA', Buffer.from('poison')));

    const dlq = `%DLQ%${group}`;
    await waitFor(async () => (await records(dlq)).length > 0, { what: 'the DLQ copy', timeoutMs: 25_000, intervalMs: 50 });
    expect(deliveries.map((d) => d.reconsumeTimes)).toEqual(Array.from({ length: 17 }, (_, i) => i));
    expect(deliveries[0].msgId).toBe(sent.msgId);
    for (let n = 1; n <= 16; n++) {
      expect(deliveries[n].originMessageId).toBe(sent.msgId);
      // Retry n waited at least level 3 + (n - 1) after the failed attempt before it.
      expect(deliveries[n].at - deliveries[n - 1].at).toBeGreaterThanOrEqual(schedule.delayMs(2 + n) - 5);
    }
    const [dead, ...more] = await records(dlq);
    expect(more).toHaveLength(0);
    expect(dead.body.toString()).toBe('poison');
    expect(dead.reconsumeTimes).toBe(17);
    expect(dead.propertyMap).toMatchObject({ RETRY_TOPIC: topic, ORIGIN_MESSAGE_ID: sent.msgId });
    // Nothing more is redelivered after the DLQ.
    await new Promise((r) => setTimeout(r, 600));
    expect(deliveries).toHaveLength(17);
  });

  it('a handler that throws once gets the retry with reconsumeTimes 1 and originMessageId set', async () => {
    const topic = newTopic();
    const group = uniqueName('G');
    const seen: OnsMessage[] = [];
    const consumer = newConsumer(group);
    consumer.subscribe(topic, '*', async (msg) => {
      seen.push(msg);
      if (seen.length === 1) throw new Error('first attempt fails');
    });
    await consumer.ready();
    const sent = await producer.send(new ons.Message(topic, 'TagA', Buffer.from('once')));
    await waitFor(() => seen.length >= 2, { what: 'the retry', timeoutMs: 10_000 });
    expect(seen[1].reconsumeTimes).toBe(1);
    expect(seen[1].originMessageId).toBe(sent.msgId);
    expect(seen[1].topic).toBe(topic);
    expect(seen[1].body.toString()).toBe('once');
    await new Promise((r) => setTimeout(r, 500));
    expect(seen).toHaveLength(2);
    expect(await records(`%DLQ%${group}`)).toHaveLength(0);
  });

  it('maxReconsumeTimes: 2 ends in the DLQ after reconsumeTimes 2', async () => {
    const topic = newTopic();
    const group = uniqueName('G');
    const times: number[] = [];
    const consumer = newConsumer(group, { maxReconsumeTimes: 2 });
    consumer.subscribe(topic, '*', async (msg) => {
      times.push(msg.reconsumeTimes);
      throw new Error('fails');
    });
    await consumer.ready();
    const sent = await producer.send(new ons.Message(topic, 'TagA', Buffer.from('two')));
    await waitFor(async () => (await records(`%DLQ%${group}`)).length > 0, { what: 'the DLQ copy', timeoutMs: 10_000 });
    expect(times).toEqual([0, 1, 2]);
    const [dead] = await records(`%DLQ%${group}`);
    expect(dead.reconsumeTimes).toBe(3);
    expect(dead.propertyMap.ORIGIN_MESSAGE_ID).toBe(sent.msgId);
  });
});

describe('ali-ons broadcasting consumer', () => {
  it('a failing listener causes no redelivery and nothing on the retry or delay queues', async () => {
    const topic = newTopic();
    const group = uniqueName('G');
    const scheduledBefore = await Promise.all(Array.from({ length: 18 }, (_, i) => records(SCHEDULE_TOPIC, i)));
    let calls = 0;
    const consumer = newConsumer(group, { isBroadcast: true, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
    consumer.subscribe(topic, '*', async () => {
      calls += 1;
      throw new Error('fails');
    });
    await consumer.ready();
    await producer.send(new ons.Message(topic, 'TagA', Buffer.from('broadcast')));
    await waitFor(() => calls > 0, { what: 'the first delivery' });
    // Longer than the whole short retry chain's first step (level 3) plus delivery.
    await new Promise((r) => setTimeout(r, 1000));
    expect(calls).toBe(1);
    expect(await records(`%RETRY%${group}`)).toHaveLength(0);
    const scheduledAfter = await Promise.all(Array.from({ length: 18 }, (_, i) => records(SCHEDULE_TOPIC, i)));
    expect(scheduledAfter.map((r) => r.length)).toEqual(scheduledBefore.map((r) => r.length));
  });
});

describe('ali-ons delayed send', () => {
  it('is not consumed before its level delay and is consumed soon after', async () => {
    const topic = newTopic();
    const group = uniqueName('G');
    const level = 18;
    const received: { at: number; body: string }[] = [];
    const consumer = newConsumer(group);
    consumer.subscribe(topic, '*', async (msg) => {
      received.push({ at: Date.now(), body: msg.body.toString() });
    });
    await consumer.ready();
    const msg = new ons.Message(topic, 'TagA', Buffer.from('later'));
    msg.delayTimeLevel = level;
    const sentAt = Date.now();
    await producer.send(msg);
    await waitFor(() => received.length > 0, { what: 'the delayed message', intervalMs: 5 });
    const waited = received[0].at - sentAt;
    expect(waited).toBeGreaterThanOrEqual(schedule.delayMs(level) - 20);
    expect(waited).toBeLessThan(schedule.delayMs(level) + 1000);
    expect(received.map((r) => r.body)).toEqual(['later']);
  });
});
