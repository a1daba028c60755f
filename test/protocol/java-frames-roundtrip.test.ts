/**
 * Frames encoded by the Apache RocketMQ 4.9.8 Java client (test/fixtures/java-frames, see its
 * README): our encoder must give back Java's exact bytes for binary headers, and the same command
 * for JSON headers (fastjson orders keys differently and adds serializeTypeCurrentRPC).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_FRAME_SIZE, FrameDecoder, encodeFrame } from '../../protocol/frame-codec.js';
import { fromV2 } from '../../protocol/send-header.js';
import { parseRocketMQJson, type HeartbeatData } from '../../protocol/bodies.js';
import { javaStringHashCode } from '../../protocol/tag-filter.js';

const frame = (name: string) => readFileSync(new URL(`../fixtures/java-frames/${name}.bin`, import.meta.url));
const decode = (bytes: Buffer) => {
  const out = new FrameDecoder({ maxFrameSize: DEFAULT_MAX_FRAME_SIZE }).push(bytes);
  expect(out).toHaveLength(1);
  return out[0];
};

describe('Java client frames', () => {
  it.each(['send-v2-rocketmq', 'pull-rocketmq', 'heartbeat-rocketmq'])('%s re-encodes byte for byte', (name) => {
    const bytes = frame(name);
    const cmd = decode(bytes);
    expect(cmd.serializeType).toBe(1);
    expect(Buffer.concat(encodeFrame(cmd)).equals(bytes)).toBe(true);
  });

  it.each([
    ['send-v2-json', 'send-v2-rocketmq'],
    ['pull-json', 'pull-rocketmq'],
    ['heartbeat-json', 'heartbeat-rocketmq'],
  ])('%s decodes to the same command as its binary twin, and survives our JSON round trip', (json, binary) => {
    const fromJson = decode(frame(json));
    const fromBinary = decode(frame(binary));
    expect({ ...fromJson, serializeType: 1 }).toEqual(fromBinary);
    expect(decode(Buffer.concat(encodeFrame(fromJson)))).toEqual(fromJson);
  });

  it('send header and heartbeat body decode to typed values', () => {
    const send = decode(frame('send-v2-json'));
    const header = fromV2(send.extFields);
    expect(header.defaultTopic).toBe('TBW102');
    expect(header.batch).toBe(false);
    const heartbeat = parseRocketMQJson<HeartbeatData>(decode(frame('heartbeat-json')).body!);
    const sub = heartbeat.consumerDataSet[0].subscriptionDataSet.find((s) => s.tagsSet.length > 0)!;
    expect(sub.codeSet).toEqual(sub.tagsSet.map(javaStringHashCode));
  });
});
