/**
 * CONSUMER_SEND_MSG_BACK (36) and the delay queue over TCP against a real broker, with raw requests
 * so every header field is under the test's control. Short delay levels (100..440 ms).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCHEDULE_TOPIC } from '../../broker/delay/delay-queue.js';
import { TEST_DELAY_LEVELS, parseDelaySchedule } from '../../broker/delay/delay-schedule.js';
import type { DecodedRecord } from '../../protocol/message-codec.js';
import { decodeOffsetMsgId } from '../../protocol/message-id.js';
import { encodeProperties, type PropertyMap } from '../../protocol/properties.js';
import { RequestCode } from '../../protocol/request-code.js';
import { ResponseCode } from '../../protocol/response-code.js';
import { uniqueName, waitFor } from '../helpers/common.js';
import { RawClient, newTopic, startBroker, storedRecords, type TestBroker } from '../helpers/broker.js';

const schedule = parseDelaySchedule(TEST_DELAY_LEVELS);
let broker: TestBroker;
let client: RawClient;

beforeAll(async () => {
  broker = await startBroker({ messageDelayLevel: TEST_DELAY_LEVELS });
  client = await RawClient.connect(broker.port);
});

afterAll(async () => {
  client?.close();
  await broker?.stop();
});

interface Send {
  topic: string;
  properties: PropertyMap;
  body?: string;
  queueId?: number;
  reconsumeTimes?: number;
  maxReconsumeTimes?: number;
  version?: number;
}

async function send(s: Send) {
  const fields = {
    a: 'PG_test',
    b: s.topic,
    c: 'TBW102',
    d: 4,
    e: s.queueId ?? 0,
    f: 0,
    g: Date.now(),
    h: 0,
    i: encodeProperties(s.properties),
    j: s.reconsumeTimes ?? 0,
    k: false,
    l: s.maxReconsumeTimes,
  };
  const response = await client.request(RequestCode.SEND_MESSAGE_V2, fields, Buffer.from(s.body ?? 'payload'));
  expect(response.code, response.remark).toBe(ResponseCode.SUCCESS);
  return { msgId: response.extFields.msgId, sentAt: Date.now() };
}

function sendBack(offset: number, group: string, fields: Record<string, string | number | boolean> = {}) {
  return client.request(RequestCode.CONSUMER_SEND_MSG_BACK, {
    offset,
    group,
    delayLevel: 0,
    originMsgId: 'unused',
    originTopic: 'unused',
    unitMode: false,
    maxReconsumeTimes: 16,
    ...fields,
  });
}

/** Waits until `topic` holds at least `count` records, and returns them. */
async function waitForRecords(topic: string, count = 1, queueId = 0): Promise<DecodedRecord[]> {
  let found: DecodedRecord[] = [];
  await waitFor(async () => (found = await storedRecords(broker, topic, queueId)).length >= count, { what: `${count} records on ${topic}`, intervalMs: 5 });
  return found;
}

describe('CONSUMER_SEND_MSG_BACK', () => {
  it('puts a retry copy on %RETRY%<group> after level 3 + reconsumeTimes, with the retry properties', async () => {
    const topic = newTopic(broker);
    const group = uniqueName('G');
    const { msgId } = await send({ topic, properties: { TAGS: 'TagA', KEYS: 'order-1' }, body: 'first' });
    const sentBackAt = Date.now();
    const response = await sendBack(decodeOffsetMsgId(msgId).physicalOffset, group);
    expect(response.code, response.remark).toBe(ResponseCode.SUCCESS);

    const retryTopic = `%RETRY%${group}`;
    expect(await storedRecords(broker, retryTopic)).toHaveLength(0);
    const [retry] = await waitForRecords(retryTopic);
    expect(Date.now() - sentBackAt).toBeGreaterThanOrEqual(schedule.delayMs(3) - 5);
    expect(retry.body.toString()).toBe('first');
    expect(retry.reconsumeTimes).toBe(1);
    expect(retry.propertyMap).toMatchObject({ RETRY_TOPIC: topic, ORIGIN_MESSAGE_ID: msgId, TAGS: 'TagA', KEYS: 'order-1', WAIT: 'false' });
    expect(retry.propertyMap.DELAY).toBeUndefined();
    expect(broker.broker.context.topics.get(retryTopic)).toMatchObject({ writeQueueNums: 1, readQueueNums: 1 });
  });

  it('keeps RETRY_TOPIC and ORIGIN_MESSAGE_ID along the chain and ends in %DLQ%<group> at maxReconsumeTimes', async () => {
    const topic = newTopic(broker);
    const group = uniqueName('G');
    const retryTopic = `%RETRY%${group}`;
    const dlqTopic = `%DLQ%${group}`;
    const { msgId } = await send({ topic, properties: { TAGS: 'x' } });
    let offset = decodeOffsetMsgId(msgId).physicalOffset;
    for (let attempt = 1; attempt <= 2; attempt++) {
      expect((await sendBack(offset, group, { maxReconsumeTimes: 2 })).code).toBe(ResponseCode.SUCCESS);
      const found = await waitForRecords(retryTopic, attempt);
      const latest = found[attempt - 1];
      expect(latest.reconsumeTimes).toBe(attempt);
      expect(latest.propertyMap).toMatchObject({ RETRY_TOPIC: topic, ORIGIN_MESSAGE_ID: msgId });
      offset = latest.physicalOffset;
    }
    // reconsumeTimes 2 >= max 2: straight to the DLQ, no delay.
    expect((await sendBack(offset, group, { maxReconsumeTimes: 2 })).code).toBe(ResponseCode.SUCCESS);
    const [dead] = await storedRecords(broker, dlqTopic);
    expect(dead.reconsumeTimes).toBe(3);
    expect(dead.propertyMap).toMatchObject({ RETRY_TOPIC: topic, ORIGIN_MESSAGE_ID: msgId });
    expect(broker.broker.context.topics.get(dlqTopic)).toMatchObject({ writeQueueNums: 1, readQueueNums: 1, perm: 6 });
    expect(await storedRecords(broker, retryTopic)).toHaveLength(2);
  });

  it('sends to the DLQ at once for a negative delay level', async () => {
    const topic = newTopic(broker);
    const group = uniqueName('G');
    const { msgId } = await send({ topic, properties: {} });
    expect((await sendBack(decodeOffsetMsgId(msgId).physicalOffset, group, { delayLevel: -1 })).code).toBe(ResponseCode.SUCCESS);
    expect(await storedRecords(broker, `%DLQ%${group}`)).toHaveLength(1);
  });

  it('uses the requested delay level when it is not 0', async () => {
    const topic = newTopic(broker);
    const group = uniqueName('G');
    const { msgId } = await send({ topic, properties: {} });
    const before = await storedRecords(broker, SCHEDULE_TOPIC, 0);
    expect((await sendBack(decodeOffsetMsgId(msgId).physicalOffset, group, { delayLevel: 1 })).code).toBe(ResponseCode.SUCCESS);
    const parked = (await storedRecords(broker, SCHEDULE_TOPIC, 0)).slice(before.length);
    expect(parked.map((r) => r.propertyMap.REAL_TOPIC)).toContain(`%RETRY%${group}`);
  });

  it('ignores the request max for clients older than 3.4.9 and uses the group retryMaxTimes', async () => {
    const topic = newTopic(broker);
    const group = uniqueName('G');
    const { msgId } = await send({ topic, properties: {} });
    const request = {
      offset: decodeOffsetMsgId(msgId).physicalOffset,
      group,
      delayLevel: 0,
      maxReconsumeTimes: 0,
    };
    const { createRequest } = await import('../../protocol/remoting-command.js');
    const response = await client.send(createRequest(RequestCode.CONSUMER_SEND_MSG_BACK, request, undefined, { version: 120 }));
    expect(response.code).toBe(ResponseCode.SUCCESS);
    expect(await storedRecords(broker, `%DLQ%${group}`)).toHaveLength(0);
    expect(await waitForRecords(`%RETRY%${group}`)).toHaveLength(1);
  });

  it('answers SYSTEM_ERROR for an offset that holds no message', async () => {
    const response = await sendBack(987_654_321, uniqueName('G'));
    expect(response.code).toBe(ResponseCode.SYSTEM_ERROR);
    expect(response.remark).toContain('look message by offset failed');
  });

  it('answers SUBSCRIPTION_GROUP_NOT_EXIST for an unknown group when groups are not auto-created', async () => {
    const strict = await startBroker({ messageDelayLevel: TEST_DELAY_LEVELS, autoCreateSubscriptionGroup: false });
    const strictClient = await RawClient.connect(strict.port);
    try {
      const response = await strictClient.request(RequestCode.CONSUMER_SEND_MSG_BACK, { offset: 0, group: uniqueName('G'), delayLevel: 0 });
      expect(response.code).toBe(ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST);
    } finally {
      strictClient.close();
      await strict.stop();
    }
  });

  it('drops the message (and answers SUCCESS) for a group configured without retry queues', async () => {
    const topic = newTopic(broker);
    const group = uniqueName('G');
    const config = broker.broker.context.topics.ensureGroup(group)!;
    broker.broker.context.topics.putGroup({ ...config, retryQueueNums: 0 });
    const { msgId } = await send({ topic, properties: {} });
    expect((await sendBack(decodeOffsetMsgId(msgId).physicalOffset, group)).code).toBe(ResponseCode.SUCCESS);
    expect(broker.broker.context.topics.get(`%RETRY%${group}`)).toBeUndefined();
    expect(broker.broker.context.topics.get(`%DLQ%${group}`)).toBeUndefined();
  });

  it('refuses a group name that cannot name its retry topic, creating nothing', async () => {
    for (const group of ['../etc', 'a/b', 'x'.repeat(121)]) {
      const response = await sendBack(0, group);
      expect(response.code).toBe(ResponseCode.SYSTEM_ERROR);
      expect(response.remark).toContain('bad group');
      expect(broker.broker.context.store.meta.getGroup(group)).toBeUndefined();
    }
  });

  it('refuses a request without the group field', async () => {
    const response = await client.request(RequestCode.CONSUMER_SEND_MSG_BACK, { offset: 1, delayLevel: 0 });
    expect(response.code).toBe(ResponseCode.SYSTEM_ERROR);
    expect(response.remark).toContain('group');
  });
});

describe('send path', () => {
  it('refuses a client send to the schedule topic', async () => {
    const fields = { a: 'PG_test', b: SCHEDULE_TOPIC, c: 'TBW102', d: 4, e: 0, f: 0, g: Date.now(), h: 0, i: '', j: 0, k: false };
    const response = await client.request(RequestCode.SEND_MESSAGE_V2, fields, Buffer.from('sneaky'));
    expect(response.code).toBe(ResponseCode.NO_PERMISSION);
  });

  it('redirects a direct send to %RETRY%<group> with reconsumeTimes >= max to %DLQ%<group>', async () => {
    const group = uniqueName('G');
    broker.broker.context.topics.ensureGroup(group);
    await send({ topic: `%RETRY%${group}`, properties: {}, body: 'still-retrying', reconsumeTimes: 2, maxReconsumeTimes: 3 });
    await send({ topic: `%RETRY%${group}`, properties: {}, body: 'dead', reconsumeTimes: 3, maxReconsumeTimes: 3 });
    expect((await storedRecords(broker, `%RETRY%${group}`)).map((r) => r.body.toString())).toEqual(['still-retrying']);
    expect((await storedRecords(broker, `%DLQ%${group}`)).map((r) => r.body.toString())).toEqual(['dead']);
  });

  it('parks a DELAY message until its level is due, then delivers it to its queue', async () => {
    const topic = newTopic(broker);
    const level = 10;
    const { sentAt } = await send({ topic, properties: { DELAY: String(level), TAGS: 'later' }, body: 'delayed' });
    expect(await storedRecords(broker, topic)).toHaveLength(0);
    const [delivered] = await waitForRecords(topic);
    const waited = Date.now() - sentAt;
    expect(waited).toBeGreaterThanOrEqual(schedule.delayMs(level) - 20);
    expect(waited).toBeLessThan(schedule.delayMs(level) + 1000);
    expect(delivered.body.toString()).toBe('delayed');
    expect(delivered.propertyMap).toMatchObject({ REAL_TOPIC: topic, REAL_QID: '0', TAGS: 'later', WAIT: 'false' });
    expect(delivered.propertyMap.DELAY).toBeUndefined();
  });
});
