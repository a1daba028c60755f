/**
 * Retry, DLQ, broadcasting and delayed sends with FerryMQ's own SDK (`client/`) against a real broker
 * using the short delay profile (100..440 ms).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SCHEDULE_TOPIC } from '../../broker/delay/delay-queue.js';
import { TEST_DELAY_LEVELS, parseDelaySchedule } from '../../broker/delay/delay-schedule.js';
import { ConsumeStatus, Producer, PushConsumer, type PushConsumerOptions, type ReceivedMessage } from '../../client/index.js';
import { tempDir, uniqueName, waitFor } from '../helpers/common.js';
import { newTopic, startBroker, storedRecords, type TestBroker } from '../helpers/broker.js';

const schedule = parseDelaySchedule(TEST_DELAY_LEVELS);
let broker: TestBroker;
let producer: Producer;
const consumers: PushConsumer[] = [];

beforeAll(async () => {
  broker = await startBroker({ messageDelayLevel: TEST_DELAY_LEVELS });
  producer = new Producer({ nameServer: broker.nameSrv, group: uniqueName('PG') });
  await producer.start();
});

afterEach(async () => {
  await Promise.all(consumers.splice(0).map((c) => c.shutdown()));
});

afterAll(async () => {
  await producer?.shutdown();
  await broker?.stop();
});

async function startConsumer(topic: string, options: Omit<PushConsumerOptions, 'nameServer'>, listener: (msg: ReceivedMessage) => ConsumeStatus | void) {
  const consumer = new PushConsumer({ nameServer: broker.nameSrv, consumeFromWhere: 'FIRST_OFFSET', ...options });
  consumers.push(consumer);
  consumer.subscribe(topic, '*');
  await consumer.start(async (messages) => {
    let status: ConsumeStatus | void = undefined;
    for (const msg of messages) status = listener(msg) ?? status;
    return status;
  });
  return consumer;
}

describe('SDK clustering consumer', () => {
  it('RECONSUME_LATER every time: 16 redeliveries with reconsumeTimes 1..16 at growing delays, then one copy in %DLQ%<group>', async () => {
    const topic = newTopic(broker);
    const group = uniqueName('G');
    const deliveries: { at: number; msg: ReceivedMessage }[] = [];
    await startConsumer(topic, { group }, (msg) => {
      deliveries.push({ at: Date.now(), msg });
      return ConsumeStatus.RECONSUME_LATER;
    });
    const sent = await producer.send({ topic, body: 'poison', tags: 'TagA' });
    await waitFor(async () => (await storedRecords(broker, `%DLQ%${group}`)).length > 0, { what: 'the DLQ copy', timeoutMs: 25_000, intervalMs: 50 });
    expect(deliveries.map((d) => d.msg.reconsumeTimes)).toEqual(Array.from({ length: 17 }, (_, i) => i));
    for (let n = 1; n <= 16; n++) {
      expect(deliveries[n].msg.topic).toBe(topic);
      expect(deliveries[n].msg.originMessageId).toBe(sent.msgId);
      expect(deliveries[n].msg.uniqKey).toBe(sent.uniqKey);
      expect(deliveries[n].at - deliveries[n - 1].at).toBeGreaterThanOrEqual(schedule.delayMs(2 + n) - 5);
    }
    const dlq = await storedRecords(broker, `%DLQ%${group}`);
    expect(dlq).toHaveLength(1);
    expect(dlq[0].reconsumeTimes).toBe(17);
    await new Promise((r) => setTimeout(r, 600));
    expect(deliveries).toHaveLength(17);
  });
});

describe('SDK broadcasting consumer', () => {
  it('a failing listener causes no redelivery and nothing on the retry or delay queues', async () => {
    const topic = newTopic(broker);
    const group = uniqueName('G');
    const offsets = await tempDir();
    const scheduledBefore = await Promise.all(Array.from({ length: 18 }, (_, i) => storedRecords(broker, SCHEDULE_TOPIC, i)));
    let calls = 0;
    try {
      await startConsumer(topic, { group, messageModel: 'BROADCASTING', offsetStoreDir: offsets.path }, () => {
        calls += 1;
        throw new Error('fails');
      });
      await producer.send({ topic, body: 'broadcast' });
      await waitFor(() => calls > 0, { what: 'the first delivery' });
      await new Promise((r) => setTimeout(r, 1000));
      expect(calls).toBe(1);
      expect(await storedRecords(broker, `%RETRY%${group}`)).toHaveLength(0);
      const scheduledAfter = await Promise.all(Array.from({ length: 18 }, (_, i) => storedRecords(broker, SCHEDULE_TOPIC, i)));
      expect(scheduledAfter.map((r) => r.length)).toEqual(scheduledBefore.map((r) => r.length));
    } finally {
      await Promise.all(consumers.splice(0).map((c) => c.shutdown()));
      await offsets.cleanup();
    }
  });
});

describe('SDK delayed send', () => {
  it('is not delivered before its level delay and is delivered soon after', async () => {
    const topic = newTopic(broker);
    const received: number[] = [];
    await startConsumer(topic, { group: uniqueName('G') }, () => {
      received.push(Date.now());
    });
    const level = 16;
    const sentAt = Date.now();
    await producer.send({ topic, body: 'later', delayLevel: level });
    await waitFor(() => received.length > 0, { what: 'the delayed message', intervalMs: 5 });
    expect(received[0] - sentAt).toBeGreaterThanOrEqual(schedule.delayMs(level) - 20);
    expect(received[0] - sentAt).toBeLessThan(schedule.delayMs(level) + 1000);
  });
});
