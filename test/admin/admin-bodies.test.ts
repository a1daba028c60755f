import { describe, expect, it } from 'vitest';
import {
  decodeConsumeStats,
  decodeResetOffsetBody,
  decodeTopicStatsTable,
  encodeMessageQueueTable,
} from '../../protocol/admin-bodies.js';
import { encodeJsonBody } from '../../protocol/bodies.js';
import { InvalidArgumentError } from '../../protocol/errors.js';

// The fastjson reading and writing itself is tested with the parser, in test/protocol/bodies.test.ts.
describe('admin bodies', () => {
  it('writes a message-queue map with object keys, as fastjson does, in MessageQueue order', () => {
    const table = encodeMessageQueueTable([
      { queue: { topic: 'T', brokerName: 'b', queueId: 1 }, value: 7 },
      { queue: { topic: 'T', brokerName: 'b', queueId: 0 }, value: 5 },
    ]);
    expect(encodeJsonBody({ offsetTable: table }).toString()).toBe(
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

  it('round-trips a message-queue table through encodeJsonBody and the decoder', () => {
    const entries = [
      { queue: { topic: 'T2', brokerName: 'b', queueId: 0 }, value: 1 },
      { queue: { topic: 'T1', brokerName: 'b', queueId: 2 }, value: 3 },
    ];
    const body = encodeJsonBody({ offsetTable: encodeMessageQueueTable(entries) });
    expect(decodeResetOffsetBody(body)).toEqual([entries[1], entries[0]]);
  });

  it('refuses bodies that are not a table keyed by message queue', () => {
    expect(() => decodeTopicStatsTable(Buffer.from('{"offsetTable":{{"topic":"T"}:{}}}'))).toThrow(/lacks topic, brokerName or queueId/);
    expect(() => decodeResetOffsetBody(Buffer.from('{"offsetTable":{"a":1}}'))).toThrow(/expected a table keyed by message queue/);
    for (const body of ['null', '[]', '5', '{{"a":1}:2}']) {
      expect(() => decodeConsumeStats(Buffer.from(body))).toThrow(InvalidArgumentError);
      expect(() => decodeConsumeStats(Buffer.from(body))).toThrow(/expected a JSON object body/);
    }
    expect(() => decodeResetOffsetBody(Buffer.from('{"offsetTable":'))).toThrow(/invalid JSON body at position 15/);
  });
});
