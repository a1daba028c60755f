/**
 * The npm client ali-ons, unmodified, against a real broker over TCP: produce, cluster consumption
 * with a tag filter, and broadcast consumption.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ons, onsClientOptions, type OnsConsumer, type OnsMessage, type OnsProducer } from '../helpers/ali-ons.js';
import { uniqueName, waitFor } from '../helpers/common.js';
import { createTopic, startBroker, type TestBroker } from '../helpers/broker.js';

let broker: TestBroker;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  broker = await startBroker();
});
async function closeAll(): Promise<void> {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
}

afterAll(async () => {
  await closeAll();
  await broker.stop();
});

async function producerFor(): Promise<OnsProducer> {
  const producer = new ons.Producer({ ...onsClientOptions(broker.nameSrv), producerGroup: uniqueName('PG') });
  producer.on('error', () => undefined);
  await producer.ready();
  closers.push(() => producer.close());
  return producer;
}

async function consumerFor(group: string, topic: string, expression: string, extra: object, received: OnsMessage[]): Promise<OnsConsumer> {
  const consumer = new ons.Consumer({ ...onsClientOptions(broker.nameSrv), consumerGroup: group, rebalanceInterval: 500, ...extra });
  // ali-ons reports QUERY_NOT_FOUND and similar through 'error' events; they are expected here.
  consumer.on('error', () => undefined);
  consumer.subscribe(topic, expression, async (msg) => {
    received.push(msg);
  });
  await consumer.ready();
  closers.push(() => consumer.close());
  return consumer;
}

describe('ali-ons against FerryMQ', () => {
  it('cluster consumer with a tag filter gets every matching message exactly once', async () => {
    const topic = uniqueName('alions_cluster');
    const group = uniqueName('GID');
    createTopic(broker, topic, 2);
    const producer = await producerFor();
    const sentIds = new Map<string, string>();
    const sendOne = async (tag: string, i: number) => {
      const result = await producer.send(new ons.Message(topic, tag, Buffer.from(`${tag}-${i}`)));
      expect(result.sendStatus).toBe('SEND_OK');
      sentIds.set(`${tag}-${i}`, result.msgId);
    };
    // Sent before the group exists: a new group on a young queue starts at offset 0.
    for (let i = 0; i < 4; i++) await sendOne(i % 2 === 0 ? 'TagA' : 'TagB', i);
    const received: OnsMessage[] = [];
    await consumerFor(group, topic, 'TagA', {}, received);
    for (let i = 4; i < 8; i++) await sendOne(i % 2 === 0 ? 'TagA' : 'TagB', i);
    await waitFor(() => received.length >= 4, { timeoutMs: 20_000, what: '4 TagA messages' });
    await new Promise((r) => setTimeout(r, 500)); // room for a duplicate to show up
    const bodies = received.map((m) => m.body.toString()).sort();
    expect(bodies).toEqual(['TagA-0', 'TagA-2', 'TagA-4', 'TagA-6']);
    for (const msg of received) {
      expect(msg.tags).toBe('TagA');
      expect(msg.msgId).toBe(sentIds.get(msg.body.toString()));
    }
  });

  it('broadcast consumers each get every matching message', async () => {
    const topic = uniqueName('alions_broadcast');
    const group = uniqueName('GID');
    createTopic(broker, topic, 2);
    const producer = await producerFor();
    const first: OnsMessage[] = [];
    const second: OnsMessage[] = [];
    await consumerFor(group, topic, 'TagA', { isBroadcast: true }, first);
    await consumerFor(group, topic, 'TagA', { isBroadcast: true }, second);
    // Both consumers pull both queues: once all four pulls are held, messages sent now reach both.
    await waitFor(() => broker.broker.context.pullHolds.heldOnTopic(topic) >= 4, { timeoutMs: 15_000, what: 'broadcast pulls held' });
    for (let i = 0; i < 6; i++) {
      const result = await producer.send(new ons.Message(topic, i % 2 === 0 ? 'TagA' : 'TagB', Buffer.from(`b-${i}`)));
      expect(result.sendStatus).toBe('SEND_OK');
    }
    await waitFor(() => first.length >= 3 && second.length >= 3, { timeoutMs: 20_000, what: 'both broadcast consumers' });
    await new Promise((r) => setTimeout(r, 300));
    for (const got of [first, second]) expect(got.map((m) => m.body.toString()).sort()).toEqual(['b-0', 'b-2', 'b-4']);
  });

  // Last: it restarts the shared broker.
  it('a group resumes from its committed offsets after a broker restart', async () => {
    const topic = uniqueName('alions_restart');
    const group = uniqueName('GID');
    createTopic(broker, topic, 1);
    const producer = await producerFor();
    for (let i = 0; i < 3; i++) await producer.send(new ons.Message(topic, 'TagA', Buffer.from(`before-${i}`)));
    const early: OnsMessage[] = [];
    const consumer = await consumerFor(group, topic, '*', {}, early);
    await waitFor(() => early.length >= 3, { timeoutMs: 20_000, what: 'first 3 messages' });
    await consumer.close(); // persists its offsets (UPDATE_CONSUMER_OFFSET)
    // A client left connected across the restart reconnects into ECONNREFUSED, which ali-ons can throw uncaught.
    await closeAll();

    await broker.restart();
    const producerAfter = await producerFor();
    for (let i = 0; i < 2; i++) await producerAfter.send(new ons.Message(topic, 'TagA', Buffer.from(`after-${i}`)));
    const late: OnsMessage[] = [];
    await consumerFor(group, topic, '*', {}, late);
    await waitFor(() => late.length >= 2, { timeoutMs: 20_000, what: 'messages after the restart' });
    await new Promise((r) => setTimeout(r, 300));
    expect(late.map((m) => m.body.toString()).sort()).toEqual(['after-0', 'after-1']);
  });
});
