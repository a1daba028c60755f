import { describe, expect, it } from 'vitest';
import {
  decodeConsumeStats,
  decodeResetOffsetBody,
  decodeTopicStatsTable,
  encodeFastjson,
  encodeMessageQueueTable,
  parseFastjson,
} from '../../protocol/admin-bodies.js';

describe('fastjson bodies', () => {
  it('writes a message-queue map with object keys, as fastjson does, in MessageQueue order', () => {
    const table = encodeMessageQueueTable([
      { queue: { topic: 'T', brokerName: 'b', queueId: 1 }, value: 7 },
      { queue: { topic: 'T', brokerName: 'b', queueId: 0 }, value: 5 },
    ]);
    expect(encodeFastjson({ offsetTable: table })).toBe(
      '{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:5,{"brokerName":"b","queueId":1,"topic":"T"}:7}}',
    );
  });

  it('reads what a Java broker writes (202, 208, 222 bodies)', () => {
    const stats = '{"offsetTable":{{"brokerName":"broker-a","queueId":1,"topic":"T"}:{"lastUpdateTimestamp":1700000000000,"maxOffset":9,"minOffset":2},{"brokerName":"broker-a","queueId":0,"topic":"T"}:{"lastUpdateTimestamp":0,"maxOffset":0,"minOffset":0}}}';
    expect(decodeTopicStatsTable(Buffer.from(stats))).toEqual([
      { queue: { topic: 'T', brokerName: 'broker-a', queueId: 0 }, value: { minOffset: 0, maxOffset: 0, lastUpdateTimestamp: 0 } },
      { queue: { topic: 'T', brokerName: 'broker-a', queueId: 1 }, value: { minOffset: 2, maxOffset: 9, lastUpdateTimestamp: 1700000000000 } },
    ]);
    const consume = '{"consumeTps":1.5,"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"brokerOffset":10,"consumerOffset":4,"lastTimestamp":123}}}';
    expect(decodeConsumeStats(Buffer.from(consume))).toEqual({
      consumeTps: 1.5,
      offsetTable: [{ queue: { topic: 'T', brokerName: 'b', queueId: 0 }, value: { brokerOffset: 10, consumerOffset: 4, lastTimestamp: 123 } }],
    });
    expect(decodeResetOffsetBody(Buffer.from('{"offsetTable":{{"brokerName":"b","queueId":3,"topic":"T"}:42}}'))).toEqual([
      { queue: { topic: 'T', brokerName: 'b', queueId: 3 }, value: 42 },
    ]);
    // An empty Java map is `{}`.
    expect(decodeResetOffsetBody(Buffer.from('{"offsetTable":{}}'))).toEqual([]);
  });

  it('reads unquoted numeric keys and standard JSON as plain objects', () => {
    expect(parseFastjson('{"brokerAddrs":{0:"127.0.0.1:9876"},"a":[1,-2.5e3,true,null,"x\\"y"]}')).toEqual({
      brokerAddrs: { '0': '127.0.0.1:9876' },
      a: [1, -2500, true, null, 'x"y'],
    });
  });

  it('round-trips maps with object keys', () => {
    const value = { t: new Map([[{ a: 1 }, { b: [1, 2] }]]) };
    const parsed = parseFastjson(encodeFastjson(value)) as { t: Map<unknown, unknown> };
    expect([...parsed.t.entries()]).toEqual([[{ a: 1 }, { b: [1, 2] }]]);
  });

  it('rejects garbage with a message naming the position, and deep nesting without overflowing', () => {
    expect(() => parseFastjson('{"a":')).toThrow(/malformed JSON body at character 5/);
    expect(() => parseFastjson('{"a":1} x')).toThrow(/unexpected text/);
    expect(() => parseFastjson('[1,]')).toThrow(/malformed JSON body/);
    expect(() => parseFastjson('"abc')).toThrow(/unterminated string/);
    expect(() => parseFastjson('['.repeat(100_000))).toThrow(/nesting deeper than 64/);
    expect(() => decodeTopicStatsTable(Buffer.from('{"offsetTable":{{"topic":"T"}:{}}}'))).toThrow(/lacks topic, brokerName or queueId/);
  });
});
