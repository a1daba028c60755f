/**
 * The delay queue across kill -9, with the broker as a child process (`ferrymq start`): messages
 * waiting in the delay queue are still delivered after a restart, and a crash between a delivery's
 * append and its progress write (crash point `delay-enqueue`) duplicates, never loses.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SCHEDULE_TOPIC } from '../../broker/delay/delay-queue.js';
import { decodeRecords, type DecodedRecord } from '../../protocol/message-codec.js';
import { encodeProperties } from '../../protocol/properties.js';
import { RequestCode } from '../../protocol/request-code.js';
import { ResponseCode } from '../../protocol/response-code.js';
import { MessageStore } from '../../storage/message-store.js';
import { BrokerProcess, freePort } from '../crash/broker-process.js';
import { tempDir, uniqueName, waitFor } from '../helpers/common.js';
import { RawClient } from '../helpers/broker.js';

const LEVELS = '1500ms 2500ms';
const LEVEL_DELAYS = [0, 1500, 2500];
const QUEUES = 4;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startChild(crashPoint?: string) {
  const dir = await tempDir('ferrymq-delay-crash-');
  const port = await freePort();
  const proc = new BrokerProcess({ dataDir: dir.path, flush: 'sync', port, extraArgs: ['--message-delay-level', LEVELS, '--log-level', 'info'] });
  cleanups.push(dir.cleanup, () => proc.kill());
  proc.spawn(crashPoint);
  expect(await proc.waitReady()).toBe('ready');
  return { proc, dataDir: dir.path, port };
}

async function connect(port: number): Promise<RawClient> {
  const client = await RawClient.connect(port);
  cleanups.push(async () => client.close());
  return client;
}

async function sendDelayed(client: RawClient, topic: string, bodies: string[], level: (i: number) => number) {
  const responses = await Promise.all(
    bodies.map((body, i) => {
      const fields = { a: 'PG_crash', b: topic, c: 'TBW102', d: QUEUES, e: i % QUEUES, f: 0, g: Date.now(), h: 0, i: encodeProperties({ DELAY: String(level(i)), KEYS: body }), j: 0, k: false };
      return client.request(RequestCode.SEND_MESSAGE_V2, fields, Buffer.from(body));
    }),
  );
  for (const response of responses) expect(response.code, response.remark).toBe(ResponseCode.SUCCESS);
}

/** Waits until `topic` holds `count` messages; on timeout the error carries the broker's output. */
async function waitForDeliveries(proc: BrokerProcess, client: RawClient, topic: string, count: number): Promise<void> {
  try {
    await waitFor(async () => (await deliveredCount(client, topic)) >= count, { what: `${count} deliveries`, timeoutMs: 15_000, intervalMs: 50 });
  } catch (err) {
    throw new Error(`${(err as Error).message}\nbroker running: ${proc.running}\nbroker output:\n${proc.output}`);
  }
}

async function deliveredCount(client: RawClient, topic: string): Promise<number> {
  let total = 0;
  for (let queueId = 0; queueId < QUEUES; queueId++) {
    const response = await client.request(RequestCode.GET_MAX_OFFSET, { topic, queueId });
    total += Number(response.extFields.offset);
  }
  return total;
}

/** Every record of `topic` and of the schedule topic, read from the data dir of a stopped broker. */
async function readStored(dataDir: string, topic: string): Promise<{ delivered: DecodedRecord[]; parked: DecodedRecord[] }> {
  const store = await MessageStore.open({ dataDir });
  try {
    const readQueue = async (t: string, q: number) => {
      const result = await store.read(t, q, 0, 10_000, 64 * 1024 * 1024);
      return result.buffers.flatMap((b) => decodeRecords(b));
    };
    const delivered: DecodedRecord[] = [];
    for (let q = 0; q < QUEUES; q++) delivered.push(...(await readQueue(topic, q)));
    const parked = [...(await readQueue(SCHEDULE_TOPIC, 0)), ...(await readQueue(SCHEDULE_TOPIC, 1))].filter(
      (r) => r.propertyMap.REAL_TOPIC === topic,
    );
    return { delivered, parked };
  } finally {
    await store.close();
  }
}

describe('delay queue and kill -9', () => {
  it('delivers every message that was waiting in the delay queue when the broker was killed', async () => {
    const { proc, dataDir, port } = await startChild();
    const topic = uniqueName('T');
    const bodies = Array.from({ length: 40 }, (_, i) => `wait-${i}`);
    let client = await connect(port);
    await sendDelayed(client, topic, bodies, (i) => 1 + (i % 2));
    expect(await deliveredCount(client, topic)).toBe(0);
    await proc.kill();

    proc.spawn();
    expect(await proc.waitReady()).toBe('ready');
    client = await connect(port);
    await waitForDeliveries(proc, client, topic, bodies.length);
    await proc.stop();

    const { delivered, parked } = await readStored(dataDir, topic);
    expect(delivered.map((r) => r.body.toString()).sort()).toEqual([...bodies].sort());
    const parkedAt = new Map(parked.map((r) => [r.body.toString(), r] as const));
    for (const record of delivered) {
      const source = parkedAt.get(record.body.toString())!;
      // Never early, even across the restart.
      expect(record.storeTimestamp).toBeGreaterThanOrEqual(source.storeTimestamp + LEVEL_DELAYS[Number(source.propertyMap.DELAY)]);
    }
  }, 60_000);

  it('a crash between a delivery and its progress write duplicates the batch, never loses a message', async () => {
    const { proc, dataDir, port } = await startChild('delay-enqueue');
    const topic = uniqueName('T');
    const bodies = Array.from({ length: 20 }, (_, i) => `dup-${i}`);
    const client = await connect(port);
    await sendDelayed(client, topic, bodies, () => 1);
    // The first delivery batch fires the crash point: appended, progress not written.
    const exit = await proc.waitExit(15_000);
    expect(exit).toMatchObject({ signal: 'SIGKILL' });

    proc.spawn();
    expect(await proc.waitReady()).toBe('ready');
    const after = await connect(port);
    await waitForDeliveries(proc, after, topic, bodies.length);
    // Let the redelivered batch settle before stopping.
    await new Promise((r) => setTimeout(r, 300));
    await proc.stop();

    const { delivered } = await readStored(dataDir, topic);
    const copies = new Map<string, number>();
    for (const record of delivered) copies.set(record.body.toString(), (copies.get(record.body.toString()) ?? 0) + 1);
    expect([...copies.keys()].sort()).toEqual([...bodies].sort());
    const duplicates = delivered.length - bodies.length;
    expect(duplicates).toBeGreaterThan(0);
    expect([...copies.values()].every((n) => n <= 2)).toBe(true);
  }, 60_000);
});
