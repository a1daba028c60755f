import { describe, expect, it } from 'vitest';
import { decodeSendHeader, fromV2, SendHeaderV2Cache, toV1, toV2, type SendMessageRequestHeader } from '../../protocol/send-header.js';
import { InvalidArgumentError } from '../../protocol/errors.js';
import { decodeBinaryHeader, decodeJsonHeader, encodeBinaryHeader } from '../../protocol/header-codec.js';

const header: SendMessageRequestHeader = {
  producerGroup: 'PID_A',
  topic: 'TopicTest',
  defaultTopic: 'TBW102',
  defaultTopicQueueNums: 4,
  queueId: 2,
  sysFlag: 1,
  bornTimestamp: 1700000000123,
  flag: 0,
  properties: 'TAGS\u0001TagA\u0002',
  reconsumeTimes: 0,
  unitMode: false,
  maxReconsumeTimes: 16,
};

describe('send header', () => {
  it('maps to V2 letters', () => {
    expect(toV2(header)).toEqual({
      a: 'PID_A',
      b: 'TopicTest',
      c: 'TBW102',
      d: '4',
      e: '2',
      f: '1',
      g: '1700000000123',
      h: '0',
      i: 'TAGS\u0001TagA\u0002',
      j: '0',
      k: 'false',
      l: '16',
    });
  });

  it('sends the fields toV2 gives, unchanging ones encoded once per topic and re-encoded when they change', () => {
    const cache = new SendHeaderV2Cache();
    const wire = (h: SendMessageRequestHeader) => {
      const request = { code: 310, language: 'JAVA', version: 409, opaque: 1, flag: 0, extFields: {} as Record<string, string>, extBytes: undefined as Buffer | undefined };
      cache.apply(request, h);
      return { fields: decodeBinaryHeader(encodeBinaryHeader(request)).extFields, extBytes: request.extBytes };
    };
    const first = wire(header);
    expect(first.fields).toEqual(toV2(header));
    // Queue, time and properties change per send; the cached bytes stay.
    const next = { ...header, queueId: 3, bornTimestamp: header.bornTimestamp + 1, properties: 'KEYS\u0001k\u0002' };
    expect(wire(next)).toEqual({ fields: toV2(next), extBytes: first.extBytes });
    const noProperties = { ...header, properties: undefined };
    expect(wire(noProperties).fields).toEqual(toV2(noProperties));
    for (const changed of [{ sysFlag: 4 }, { reconsumeTimes: 2 }, { maxReconsumeTimes: undefined }, { batch: true }, { flag: 9 }, { producerGroup: 'PID_B' }, { brokerName: 'b1' }]) {
      const h = { ...header, ...changed };
      expect(wire(h).fields).toEqual(toV2(h));
    }
    const other = { ...header, topic: 'Other' };
    expect(wire(other).fields).toEqual(toV2(other));
    expect(wire(header).fields).toEqual(toV2(header));
    // Single sends and batches to one topic keep an encoding each.
    const single = wire(header).extBytes;
    const batch = { ...header, batch: true };
    expect(wire(batch).fields).toEqual(toV2(batch));
    expect(wire(header).extBytes).toBe(single);
  });

  it('round-trips V2 and V1, filling protocol defaults', () => {
    const expected = { ...header, batch: false };
    expect(fromV2(toV2(header))).toEqual(expected);
    expect(decodeSendHeader(310, toV2(header))).toEqual(expected);
    expect(decodeSendHeader(10, toV1(header))).toEqual(expected);
    expect(decodeSendHeader(320, toV2(header)).batch).toBe(true);
    const withBroker = { ...header, batch: true, brokerName: 'b1' };
    expect(fromV2(toV2(withBroker))).toEqual(withBroker);
  });

  it('decodes what ali-ons sends: numbers and booleans as JSON values, no i/l', () => {
    const ext = decodeJsonHeader(
      Buffer.from('{"code":310,"extFields":{"a":"PID","b":"T","c":"TBW102","d":4,"e":0,"f":0,"g":1700000000000,"h":0,"j":0,"k":false}}'),
    ).extFields;
    expect(decodeSendHeader(310, ext)).toEqual({
      producerGroup: 'PID',
      topic: 'T',
      defaultTopic: 'TBW102',
      defaultTopicQueueNums: 4,
      queueId: 0,
      sysFlag: 0,
      bornTimestamp: 1700000000000,
      flag: 0,
      properties: '',
      reconsumeTimes: 0,
      unitMode: false,
      batch: false,
    });
  });

  it("reads booleans as Java's Boolean.parseBoolean: true in any case, anything else false", () => {
    const v2 = toV2(header);
    for (const [text, value] of [['true', true], ['TRUE', true], ['True', true], ['false', false], ['yes', false], ['', false]] as const) {
      expect(fromV2({ ...v2, k: text, m: text })).toMatchObject({ unitMode: value, batch: value });
    }
  });

  it('refuses missing or malformed fields with a clear error', () => {
    const v2 = toV2(header);
    const { e: _e, ...noQueue } = v2;
    expect(() => fromV2(noQueue)).toThrow(/missing queueId \(e\)/);
    expect(() => fromV2({ ...v2, e: 'x' })).toThrow(InvalidArgumentError);
    expect(() => fromV2({ ...v2, e: '' })).toThrow(InvalidArgumentError);
    expect(() => fromV2({ ...v2, e: '1.5' })).toThrow(InvalidArgumentError);
    expect(() => fromV2({ ...v2, g: '99999999999999999999' })).toThrow(/out of range/);
    expect(fromV2({ ...v2, e: '-1' }).queueId).toBe(-1);
    expect(() => decodeSendHeader(11, v2)).toThrow(InvalidArgumentError);
  });

  it('reads integers as Long.parseLong within the safe range: sign, leading zeros, up to 2^53 - 1', () => {
    const v2 = toV2(header);
    for (const text of ['0', '+5', '-2147483648', '007', '9007199254740991', '-9007199254740991', '1764071234567']) {
      expect(fromV2({ ...v2, g: text }).bornTimestamp, text).toBe(Number(text));
    }
    expect(() => fromV2({ ...v2, g: '9007199254740992' })).toThrow(/out of range/);
    expect(() => fromV2({ ...v2, g: '-' })).toThrow(/not an integer/);
  });
});
