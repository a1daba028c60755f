/**
 * The runnable examples of examples/ (docs/sdk.md), each run as a user would (`tsx`), against a real
 * broker: the producer's messages reach every kind of consumer, and the long-running consumers stop
 * cleanly on SIGINT.
 */
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopic, startBroker, type TestBroker } from '../helpers/broker.js';
import { tempDir, uniqueName, waitFor } from '../helpers/common.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

let broker: TestBroker;
let home: { path: string; cleanup: () => Promise<void> };
const topic = uniqueName('ExampleTopic');

interface Example {
  stdout: () => string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  interrupt: () => void;
}

function runExample(name: string, args: string[] = []): Example {
  // HOME: the broadcasting example keeps its offsets under ~/.ferrymq.
  const env = { ...process.env, FERRYMQ_BROKER: broker.address, EXAMPLE_TOPIC: topic, HOME: home.path };
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'examples', `${name}.ts`), ...args], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolveExit) => child.on('exit', (code) => resolveExit(code)));
  return { stdout: () => out, exited, interrupt: () => child.kill('SIGINT') };
}

beforeAll(async () => {
  home = await tempDir('ferrymq-examples-home-');
  broker = await startBroker();
  createTopic(broker, topic, 4);
});

afterAll(async () => {
  await broker?.stop();
  await home?.cleanup();
});

describe('examples/', () => {
  it('producer.ts sends plain, tagged, ordered, delayed and batch messages', async () => {
    const producer = runExample('producer');
    expect(await producer.exited, producer.stdout()).toBe(0);
    expect(producer.stdout()).toMatch(/^sent [0-9A-F]{32} to queue \d at offset \d+$/m);
    expect(producer.stdout()).toMatch(/order-7 shipped → queue \d/);
    expect(producer.stdout()).toMatch(/batch of 3 stored from offset \d+ in queue \d/);
  }, 60_000);

  it('pull-consumer.ts reads the topic from the start and stops when it goes quiet', async () => {
    const consumer = runExample('pull-consumer');
    expect(await consumer.exited, consumer.stdout()).toBe(0);
    for (const body of ['hello FerryMQ', 'order-7 created', 'order-7 paid', 'order-7 shipped', 'batch message 3']) expect(consumer.stdout()).toContain(body);
  }, 60_000);

  it.each(['push-consumer', 'orderly-consumer'])('%s.ts receives the messages from the first offset and shuts down on SIGINT', async (name) => {
    const consumer = runExample(name);
    await waitFor(() => consumer.stdout().includes('order-7 shipped'), { timeoutMs: 30_000, what: `${name} to print order-7 shipped` });
    consumer.interrupt();
    expect(await consumer.exited, consumer.stdout()).toBe(0);
    if (name === 'orderly-consumer') {
      // One sharding key, one queue, consumed in send order.
      const order = ['created', 'paid', 'shipped'].map((step) => consumer.stdout().indexOf(`order-7 ${step}`));
      expect(order).toEqual([...order].sort((a, b) => a - b));
    }
  }, 60_000);

  it('broadcasting-consumer.ts gets the tagged messages sent after it started, and shuts down on SIGINT', async () => {
    const consumer = runExample('broadcasting-consumer', ['example-instance']);
    await waitFor(() => consumer.stdout().includes('consuming as'), { timeoutMs: 30_000, what: 'the broadcasting consumer to start' });
    const producer = runExample('producer');
    expect(await producer.exited, producer.stdout()).toBe(0);
    await waitFor(() => consumer.stdout().includes('[example-instance] TagA: {"orderId":42}'), { timeoutMs: 30_000, what: 'the tagged message' });
    consumer.interrupt();
    expect(await consumer.exited, consumer.stdout()).toBe(0);
    // Its filter is TagA || TagB: the untagged messages are not delivered.
    expect(consumer.stdout()).not.toContain('hello FerryMQ');
  }, 60_000);
});
