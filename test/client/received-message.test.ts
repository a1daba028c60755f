import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { receivedFromPull } from '../../client/message.js';
import { bodyCrc, encodeRecord, MessageSysFlag, type RecordFields } from '../../protocol/message-codec.js';
import { createOffsetMsgId } from '../../protocol/message-id.js';
import { parseTagExpression } from '../../protocol/tag-filter.js';

function record(overrides: Partial<RecordFields> = {}): Buffer {
  return encodeRecord({
    queueId: 3,
    flag: 7,
    queueOffset: 41,
    physicalOffset: 123_456,
    sysFlag: 0,
    bornTimestamp: 1_700_000_000_000,
    bornHost: { ip: '10.0.0.2', port: 50_000 },
    storeTimestamp: 1_700_000_000_050,
    storeHost: { ip: '10.0.0.3', port: 10_911 },
    reconsumeTimes: 0,
    body: Buffer.from('hello'),
    topic: 'Orders',
    properties: 'TAGS\u0001Created\u0002KEYS\u0001k1 k2\u0002UNIQ_KEY\u0001ABC\u0002',
    ...overrides,
  });
}

const mq = { topic: 'Orders', brokerName: 'broker-a', queueId: 3 };
const all = parseTagExpression('*');

describe('receivedFromPull', () => {
  it('gives every field of the record, the lazily read ones included', () => {
    const [msg] = receivedFromPull(record(), mq, all, undefined, false);
    expect(JSON.parse(JSON.stringify(msg))).toEqual({
      topic: 'Orders',
      tags: 'Created',
      keys: ['k1', 'k2'],
      body: { type: 'Buffer', data: [...Buffer.from('hello')] },
      properties: { TAGS: 'Created', KEYS: 'k1 k2', UNIQ_KEY: 'ABC' },
      msgId: createOffsetMsgId('10.0.0.3', 10_911, 123_456),
      uniqKey: 'ABC',
      queue: mq,
      queueOffset: 41,
      commitLogOffset: 123_456,
      reconsumeTimes: 0,
      bornTimestamp: 1_700_000_000_000,
      storeTimestamp: 1_700_000_000_050,
      flag: 7,
      sysFlag: 0,
    });
    expect(msg!.originMessageId).toBeUndefined();
  });

  it('keeps assigned values, as a plain object would', () => {
    const [msg] = receivedFromPull(record(), mq, all, undefined, false);
    msg!.uniqKey = undefined;
    msg!.tags = 'Paid';
    msg!.topic = 'Other';
    msg!.properties.extra = 'x';
    msg!.commitLogOffset = 5;
    msg!.storeTimestamp = 6;
    expect([msg!.uniqKey, msg!.tags, msg!.topic, msg!.properties.extra, msg!.commitLogOffset, msg!.storeTimestamp, msg!.bornTimestamp]).toEqual([
      undefined,
      'Paid',
      'Other',
      'x',
      5,
      6,
      1_700_000_000_000,
    ]);
  });

  it('filters by tag, restores a retry topic, inflates a compressed body and adds the pull offsets to properties', () => {
    const retryTopic = '%RETRY%billing';
    const body = Buffer.concat([
      record({ topic: retryTopic, properties: 'TAGS\u0001Other\u0002RETRY_TOPIC\u0001Orders\u0002', sysFlag: MessageSysFlag.COMPRESSED, body: deflateSync('zipped') }),
      record({ topic: retryTopic, queueOffset: 42, properties: '' }),
    ]);
    const retryQueue = { ...mq, topic: retryTopic };
    const msgs = receivedFromPull(body, retryQueue, parseTagExpression('Created'), retryTopic, false, { minOffset: '0', maxOffset: '43' });
    expect(msgs.map((m) => [m.topic, m.body.toString(), m.queue.topic])).toEqual([['Orders', 'zipped', retryTopic], [retryTopic, 'hello', retryTopic]]);
    expect(msgs[0]!.properties).toEqual({ TAGS: 'Other', RETRY_TOPIC: 'Orders', MIN_OFFSET: '0', MAX_OFFSET: '43' });
    const plain = receivedFromPull(Buffer.concat([record(), record({ properties: 'TAGS\u0001Paid\u0002' })]), mq, parseTagExpression('Paid'), undefined, false);
    expect(plain.map((m) => m.tags)).toEqual(['Paid']);
  });

  it('with checkBodyCrc, stops at a body that does not match its CRC; without, delivers it', () => {
    const corrupt = record({ queueOffset: 42, body: Buffer.from('hellO'), bodyCrc: bodyCrc(Buffer.from('hello')) });
    const body = Buffer.concat([record(), corrupt, record({ queueOffset: 43 })]);
    expect(receivedFromPull(body, mq, all, undefined, true).map((m) => m.queueOffset)).toEqual([41]);
    expect(receivedFromPull(body, mq, all, undefined, false).map((m) => [m.queueOffset, m.body.toString()])).toEqual([[41, 'hello'], [42, 'hellO'], [43, 'hello']]);
  });
});
