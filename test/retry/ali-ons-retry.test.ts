/**
 * Retry, DLQ and delayed sends end to end with ali-ons against a real broker using the short delay
 * profile (100..440 ms). ali-ons sends back with delayLevel 0, so retry n waits level 3 + n - 1.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SCHEDULE_TOPIC } from '../../broker/delay/delay-queue.js';
import { TEST_DELAY_LEVELS, parseDelaySchedule } from '../../broker/delay/delay-schedule.js';
import { ons, onsClientOptions, type OnsConsumer, type OnsProducer, type OnsMessage } from '../helpers/ali-ons.js';
import { uniqueName, waitFor } from '../helpers/common.js';
import { newTopic, startBroker, storedRecords, type TestBroker } from '../helpers/broker.js';

const schedule = parseDelaySchedule(TEST_DELAY_LEVELS);

let broker: TestBroker;
let producer: OnsProducer;
const consumers: OnsConsumer[] = [];

beforeAll(async () => {
  broker = await startBroker({ messageDelayLevel: TEST_DELAY_LEVELS });
  producer = new ons.Producer({ ...onsClientOptions(broker.nameSrv), producerGroup: uniqueName('PG') });
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
  const consumer = new ons.Consumer({ ...onsClientOptions(broker.nameSrv), consumerGroup: group, ...options });
  consumer.on('error', () => undefined); // the handler's own failures are reported here
  consumers.push(consumer);
  return consumer;
}

describe('ali-ons clustering consumer', () => {
  it('a listener that always fails gets 16 redeliveries at growing delays, then one copy lands in %DLQ%<group>', async () => {
    const topic = newTopic(broker);
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
    await waitFor(async () => (await storedRecords(broker, dlq)).length > 0, { what: 'the DLQ copy', timeoutMs: 25_000, intervalMs: 50 });
    expect(deliveries.map((d) => d.reconsumeTimes)).toEqual(Array.from({ length: 17 }, (_, i) => i));
    expect(deliveries[0].msgId).toBe(sent.msgId);
    for (let n = 1; n <= 16; n++) {
      expect(deliveries[n].originMessageId).toBe(sent.msgId);
      // Retry n waited at least level 3 + (n - 1) after the failed attempt before it.
      expect(deliveries[n].at - deliveries[n - 1].at).toBeGreaterThanOrEqual(schedule.delayMs(2 + n) - 5);
    }
    const [dead, ...more] = await storedRecords(broker, dlq);
    expect(more).toHaveLength(0);
    expect(dead.body.toString()).toBe('poison');
    expect(dead.reconsumeTimes).toBe(17);
    expect(dead.propertyMap).toMatchObject({ RETRY_TOPIC: topic, ORIGIN_MESSAGE_ID: sent.msgId });
    // Nothing more is redelivered after the DLQ.
    await new Promise((r) => setTimeout(r, 600));
    expect(deliveries).toHaveLength(17);
  });

  it('a handler that throws once gets the retry with reconsumeTimes 1 and originMessageId set', async () => {
    const topic = newTopic(broker);
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
    expect(await storedRecords(broker, `%DLQ%${group}`)).toHaveLength(0);
  });

  it('maxReconsumeTimes: 2 ends in the DLQ after reconsumeTimes 2', async () => {
    const topic = newTopic(broker);
    const group = uniqueName('G');
    const times: number[] = [];
    const consumer = newConsumer(group, { maxReconsumeTimes: 2 });
    consumer.subscribe(topic, '*', async (msg) => {
      times.push(msg.reconsumeTimes);
      throw new Error('fails');
    });
    await consumer.ready();
    const sent = await producer.send(new ons.Message(topic, 'TagA', Buffer.from('two')));
    await waitFor(async () => (await storedRecords(broker, `%DLQ%${group}`)).length > 0, { what: 'the DLQ copy', timeoutMs: 10_000 });
    expect(times).toEqual([0, 1, 2]);
    const [dead] = await storedRecords(broker, `%DLQ%${group}`);
    expect(dead.reconsumeTimes).toBe(3);
    expect(dead.propertyMap.ORIGIN_MESSAGE_ID).toBe(sent.msgId);
  });
});

describe('ali-ons broadcasting consumer', () => {
  it('a failing listener causes no redelivery and nothing on the retry or delay queues', async () => {
    const topic = newTopic(broker);
    const group = uniqueName('G');
    const scheduledBefore = await Promise.all(Array.from({ length: 18 }, (_, i) => storedRecords(broker, SCHEDULE_TOPIC, i)));
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
    expect(await storedRecords(broker, `%RETRY%${group}`)).toHaveLength(0);
    const scheduledAfter = await Promise.all(Array.from({ length: 18 }, (_, i) => storedRecords(broker, SCHEDULE_TOPIC, i)));
    expect(scheduledAfter.map((r) => r.length)).toEqual(scheduledBefore.map((r) => r.length));
  });
});

describe('ali-ons delayed send', () => {
  it('is not consumed before its level delay and is consumed soon after', async () => {
    const topic = newTopic(broker);
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
