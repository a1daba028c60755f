/**
 * RocketMQ's own admin tool (`mqadmin`, rocketmq-tools 4.9.8, through the Java kit) against a
 * FerryMQ broker: updateTopic, topicList, topicStatus, consumerProgress and resetOffsetByTime.
 * Skipped when java or mvn is missing. Each mqadmin run starts a JVM, so the steps share one topic.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../client/admin.js';
import { Producer, PushConsumer, type ReceivedMessage } from '../../client/index.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { uniqueName, waitFor } from '../helpers/common.js';
import { javaToolchainMissing, mqadmin } from '../helpers/rocketmq.js';

const missing = javaToolchainMissing();
const MQADMIN_TIMEOUT_MS = 180_000;

describe.skipIf(missing !== null)('mqadmin 4.9.8 against FerryMQ', () => {
  let broker: TestBroker;
  let admin: AdminClient;
  let producer: Producer;
  let consumer: PushConsumer | undefined;
  const topic = uniqueName('MqT');
  const group = uniqueName('MqG');
  const got: ReceivedMessage[] = [];
  const msgIds: string[] = [];

  async function run(...args: string[]): Promise<string> {
    const result = await mqadmin([...args, '-n', broker.nameSrv], { timeoutMs: MQADMIN_TIMEOUT_MS });
    // mqadmin exits 0 even when a command fails; the stack trace goes to stderr.
    expect(result.stderr, `mqadmin ${args.join(' ')}`).not.toMatch(/Exception/);
    return result.stdout;
  }

  beforeAll(async () => {
    broker = await startBroker();
    admin = new AdminClient({ address: broker.address });
    producer = new Producer({ nameServer: broker.nameSrv, group: uniqueName('P') });
    await producer.start();
  });
  afterAll(async () => {
    await consumer?.shutdown();
    await producer?.shutdown();
    admin?.close();
    await broker?.stop();
  });

  it('updateTopic -c creates the topic through the cluster info (106) and UPDATE_AND_CREATE_TOPIC', { timeout: MQADMIN_TIMEOUT_MS }, async () => {
    const out = await run('updateTopic', '-c', 'DefaultCluster', '-t', topic, '-r', '2', '-w', '2');
    expect(out).toContain(`create topic to ${broker.address} success`);
    expect((await admin.topicConfigs()).find((t) => t.topicName === topic)).toMatchObject({ readQueueNums: 2, writeQueueNums: 2, perm: 6 });
  });

  it('topicList lists it (206)', { timeout: MQADMIN_TIMEOUT_MS }, async () => {
    expect((await run('topicList')).split('\n').map((l) => l.trim())).toContain(topic);
  });

  it('clusterList reads the broker runtime info (106, 28)', { timeout: MQADMIN_TIMEOUT_MS }, async () => {
    const line = (await run('clusterList')).split('\n').find((l) => l.startsWith('DefaultCluster'));
    expect(line).toMatch(/broker-a\s+0\s+127\.0\.0\.1:\d+\s+FerryMQ/);
  });

  it('topicStatus shows per-queue offsets (202)', { timeout: MQADMIN_TIMEOUT_MS }, async () => {
    for (let i = 0; i < 6; i++) msgIds.push((await producer.send({ topic, body: `m${i}` })).msgId);
    const rows = (await run('topicStatus', '-t', topic))
      .split('\n')
      .filter((l) => l.startsWith('broker-a'))
      .map((l) => l.trim().split(/\s+/));
    expect(rows.map((r) => Number(r[1]))).toEqual([0, 1]);
    expect(rows.reduce((sum, r) => sum + Number(r[3]), 0)).toBe(6);
  });

  it('consumerProgress shows the group caught up (105 for %RETRY%, 208)', { timeout: MQADMIN_TIMEOUT_MS }, async () => {
    consumer = new PushConsumer({ nameServer: broker.nameSrv, group, consumeFromWhere: 'FIRST_OFFSET', persistOffsetIntervalMs: 200 });
    await consumer.subscribe(topic, '*').start(async (msgs) => void got.push(...msgs));
    await waitFor(() => got.length === 6, { what: 'six messages consumed' });
    await waitFor(async () => (await admin.consumeStats(group, topic)).offsetTable.every((e) => e.value.consumerOffset === e.value.brokerOffset), { what: 'offsets committed' });
    const out = await run('consumerProgress', '-g', group);
    const rows = out.split('\n').filter((l) => l.startsWith(topic)).map((l) => l.trim().split(/\s+/));
    expect(rows).toHaveLength(2);
    // #Topic #Broker Name #QID #Broker Offset #Consumer Offset #Diff #LastTime
    expect(rows.reduce((sum, r) => sum + Number(r[3]), 0)).toBe(6);
    expect(rows.every((r) => r[3] === r[4] && r[5] === '0')).toBe(true);
    expect(out).toMatch(/Diff Total: 0/);
  });

  it('resetOffsetByTime moves the running group back (222, 220 to the consumer)', { timeout: MQADMIN_TIMEOUT_MS }, async () => {
    const times = await Promise.all(msgIds.map(async (id) => (await admin.viewMessage(id))!.storeTimestamp));
    const pivot = times[3]!;
    const expectedAgain = times.filter((t) => t >= pivot).length;
    const before = got.length;
    const out = await run('resetOffsetByTime', '-g', group, '-t', topic, '-s', String(pivot));
    expect(out).toMatch(/rollback consumer offset by specified group/);
    await waitFor(() => got.length >= before + expectedAgain, { what: 're-delivery after the reset', timeoutMs: 20_000 });
    expect(got.slice(before).map((m) => m.msgId).sort()).toEqual(msgIds.filter((_, i) => times[i]! >= pivot).sort());
  });
});
