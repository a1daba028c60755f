/**
 * The producer's send path, pinned so that the fast path stays what it was: the V2 header fields
 * (and their order in JSON headers), the properties string, and the retry rules (another queue, same
 * queue with a selector, no retry of a refused message, the configured backoff).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Producer, type ProducerOptions } from '../../client/index.js';
import { BrokerApi } from '../../client/broker-api.js';
import type { RemotingClient } from '../../client/remoting-client.js';
import { decodeBatchBody } from '../../protocol/batch-codec.js';
import { BrokerResponseError, InvalidArgumentError } from '../../protocol/errors.js';
import { decodeBinaryHeader, encodeBinaryHeader } from '../../protocol/header-codec.js';
import { createResponse, SerializeType, type RemotingCommand } from '../../protocol/remoting-command.js';
import { RequestCode } from '../../protocol/request-code.js';
import { ResponseCode } from '../../protocol/response-code.js';
import { toV2, type SendMessageRequestHeader } from '../../protocol/send-header.js';
import { createTopic, startBroker, type TestBroker } from '../helpers/broker.js';
import { uniqueName } from '../helpers/common.js';
import { FAST } from './sdk-suite.js';

describe('BrokerApi.send header', () => {
  const sent: RemotingCommand[] = [];
  const remoting = {
    invoke: async (_address: string, request: RemotingCommand) => {
      sent.push(request);
      return createResponse(request, ResponseCode.SUCCESS, { msgId: 'ID', queueId: 2, queueOffset: 7 });
    },
  } as unknown as RemotingClient;
  const api = new BrokerApi(remoting, 1_000);
  const jsonApi = new BrokerApi(remoting, 1_000, 'JSON');
  const base: SendMessageRequestHeader = { producerGroup: 'pg', topic: 't', defaultTopic: 'TBW102', defaultTopicQueueNums: 4, queueId: 2, sysFlag: 1, bornTimestamp: 1_700_000_000_123, flag: 5 };

  it.each([
    ['required fields only', base],
    ['as the producer sends it', { ...base, properties: 'TAGS\u0001a\u0002', reconsumeTimes: 0, unitMode: false, batch: false }],
    ['every field', { ...base, properties: '', reconsumeTimes: 3, unitMode: true, maxReconsumeTimes: 16, batch: true, brokerName: 'broker-a' }],
  ])('has the fields of toV2 (and their order in JSON): %s', async (_name, header) => {
    sent.length = 0;
    const response = await api.send('127.0.0.1:1', header, Buffer.from('b'), 1_000, header.batch);
    await jsonApi.send('127.0.0.1:1', header, Buffer.from('b'), 1_000, header.batch);
    expect(sent).toHaveLength(2);
    // Binary: queue, time and properties as fields, the rest as bytes encoded once per topic.
    expect(decodeBinaryHeader(encodeBinaryHeader(sent[0]!)).extFields).toEqual(toV2(header));
    expect(JSON.stringify(sent[1]!.extFields)).toBe(JSON.stringify(toV2(header)));
    expect(sent[0]!.code).toBe(header.batch ? RequestCode.SEND_BATCH_MESSAGE : RequestCode.SEND_MESSAGE_V2);
    expect(sent[0]!.body?.toString()).toBe('b');
    expect(response).toEqual({ code: ResponseCode.SUCCESS, msgId: 'ID', queueId: 2, queueOffset: 7 });
  });

  it('serializes request headers in RocketMQ binary by default, in JSON when asked', async () => {
    sent.length = 0;
    await api.send('127.0.0.1:1', base, Buffer.from('b'), 1_000);
    await new BrokerApi(remoting, 1_000, 'JSON').send('127.0.0.1:1', base, Buffer.from('b'), 1_000);
    await new BrokerApi(remoting, 1_000, 'JSON').heartbeat('127.0.0.1:1', { clientID: 'c', producerDataSet: [], consumerDataSet: [] });
    expect(sent.map((r) => r.serializeType)).toEqual([SerializeType.ROCKETMQ, SerializeType.JSON, SerializeType.JSON]);
  });
});

describe('Producer send path', () => {
  let broker: TestBroker;
  const cleanups: Array<() => unknown> = [];
  type SendFn = (address: string, header: SendMessageRequestHeader, body: Buffer, timeoutMs: number, batch: boolean) => Promise<unknown>;

  beforeAll(async () => {
    broker = await startBroker();
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(async () => {
    await broker?.stop();
  });

  /** A started producer whose broker sends go through `intercept` (which may call the real send). */
  async function producerWith(intercept: (real: SendFn, ...args: Parameters<SendFn>) => Promise<unknown>, options: Partial<ProducerOptions> = {}): Promise<Producer> {
    const p = new Producer({ nameServer: broker.nameSrv, group: uniqueName('PG'), instanceName: uniqueName('i'), ...FAST, ...options });
    await p.start();
    cleanups.push(() => p.shutdown());
    const api = (p as unknown as { instance: { api: { send: SendFn } } }).instance.api;
    const real = api.send.bind(api);
    api.send = (...args) => intercept(real, ...args);
    return p;
  }

  it('sends user properties first, then the SDK ones, in the established order', async () => {
    const topic = uniqueName('T');
    createTopic(broker, topic, 4);
    const headers: SendMessageRequestHeader[] = [];
    const p = await producerWith((real, ...args) => {
      headers.push(args[1]);
      return real(...args);
    });
    const result = await p.send({ topic, body: 'x', properties: { b: '2', a: '1' }, tags: 'tag', keys: ['k1', 'k2'], delayLevel: 3, shardingKey: 's', flag: 9 });
    const plain = await p.send({ topic, body: 'y' });
    const tagOnly = await p.send({ topic, body: 'z', tags: 'only' });
    const keysAndDelay = await p.send({ topic, body: 'w', keys: 'k', delayLevel: 1, shardingKey: '' });
    expect(headers.map((h) => h.properties)).toEqual([
      `b\u00012\u0002a\u00011\u0002TAGS\u0001tag\u0002KEYS\u0001k1 k2\u0002UNIQ_KEY\u0001${result.uniqKey}\u0002DELAY\u00013\u0002__SHARDING_KEY\u0001s\u0002WAIT\u0001true\u0002`,
      `UNIQ_KEY\u0001${plain.uniqKey}\u0002WAIT\u0001true\u0002`,
      `TAGS\u0001only\u0002UNIQ_KEY\u0001${tagOnly.uniqKey}\u0002WAIT\u0001true\u0002`,
      `KEYS\u0001k\u0002UNIQ_KEY\u0001${keysAndDelay.uniqKey}\u0002DELAY\u00011\u0002__SHARDING_KEY\u0001\u0002WAIT\u0001true\u0002`,
    ]);
    expect(headers[0]).toMatchObject({ topic, flag: 9, sysFlag: 0, reconsumeTimes: 0, unitMode: false, batch: false, defaultTopic: 'TBW102', defaultTopicQueueNums: 4 });
    expect(headers[0]!.maxReconsumeTimes).toBeUndefined();
  });

  it('refuses a separator in a user-given property value before sending anything', async () => {
    const topic = uniqueName('T');
    createTopic(broker, topic, 4);
    let calls = 0;
    const p = await producerWith((real, ...args) => {
      calls++;
      return real(...args);
    });
    await expect(p.send({ topic, body: 'x', tags: 'a\u0001b' })).rejects.toThrow(InvalidArgumentError);
    await expect(p.send({ topic, body: 'x', keys: ['a', 'b\u0002'] })).rejects.toThrow(InvalidArgumentError);
    await expect(p.send({ topic, body: 'x', shardingKey: 'a\u0002b' })).rejects.toThrow(InvalidArgumentError);
    await expect(p.send({ topic, body: 'x', properties: { p: 'a\u0001b' } })).rejects.toThrow(InvalidArgumentError);
    await expect(p.sendBatch([{ topic, body: 'x', tags: 'a\u0001b' }])).rejects.toThrow(InvalidArgumentError);
    expect(calls).toBe(0);
  });

  it('does not retry a message the broker refused as illegal', async () => {
    const topic = uniqueName('T');
    createTopic(broker, topic, 4);
    let calls = 0;
    const p = await producerWith(async () => {
      calls++;
      throw new BrokerResponseError(ResponseCode.MESSAGE_ILLEGAL, 'MESSAGE_ILLEGAL', 'too big', RequestCode.SEND_MESSAGE_V2);
    });
    await expect(p.send({ topic, body: 'x' })).rejects.toThrow(BrokerResponseError);
    expect(calls).toBe(1);
  });

  it('retries a send with a sharding key on the same queue, after the configured backoff', async () => {
    const topic = uniqueName('T');
    createTopic(broker, topic, 8);
    const queues: number[] = [];
    const times: number[] = [];
    const p = await producerWith(
      (real, ...args) => {
        queues.push(args[1].queueId);
        times.push(Date.now());
        if (queues.length < 3) return Promise.reject(new Error('injected failure'));
        return real(...args);
      },
      { retryBackoff: { initialDelayMs: 60, factor: 1, jitter: 0 } },
    );
    const result = await p.send({ topic, body: 'x', shardingKey: 'order-42' });
    expect(queues).toHaveLength(3);
    expect(new Set(queues).size).toBe(1);
    expect(result.queue.queueId).toBe(queues[0]);
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(50);
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(50);
  });

  it('moves a batch to another queue when its first attempt fails, and keeps all of it', async () => {
    const topic = uniqueName('T');
    createTopic(broker, topic, 4);
    const queues: number[] = [];
    const p = await producerWith((real, ...args) => {
      queues.push(args[1].queueId);
      if (queues.length === 1) return Promise.reject(new Error('injected failure'));
      return real(...args);
    });
    const result = await p.sendBatch([{ topic, body: 'a' }, { topic, body: 'b' }]);
    expect(queues).toHaveLength(2);
    expect(queues[1]).not.toBe(queues[0]);
    expect(result.queue.queueId).toBe(queues[1]);
    expect(result.uniqKey.split(',')).toHaveLength(2);
  });

  it('encodes a batch into the buffer of one answered at its first attempt, never into one that was retried', async () => {
    const topic = uniqueName('T');
    createTopic(broker, topic, 4);
    const bodies: Buffer[] = [];
    let failNext = false;
    const p = await producerWith((real, ...args) => {
      bodies.push(args[2]);
      if (failNext) {
        failNext = false;
        return Promise.reject(new Error('injected failure'));
      }
      return real(...args);
    });
    const batch = (text: string) => [{ topic, body: `${text}-1` }, { topic, body: `${text}-2` }];
    await p.sendBatch(batch('a'));
    await p.sendBatch(batch('b'));
    expect(bodies[1]!.buffer).toBe(bodies[0]!.buffer);
    expect(bodies[1]!.byteOffset).toBe(bodies[0]!.byteOffset);
    failNext = true;
    await p.sendBatch(batch('c'));
    expect(bodies[3]).toBe(bodies[2]);
    await p.sendBatch(batch('d'));
    expect(bodies[4]!.buffer === bodies[2]!.buffer && bodies[4]!.byteOffset === bodies[2]!.byteOffset).toBe(false);
    expect(decodeBatchBody(bodies[2]!).map((e) => e.body.toString())).toEqual(['c-1', 'c-2']);
  });
});
