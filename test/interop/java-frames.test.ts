/**
 * Golden frames: requests encoded by the Apache RocketMQ 4.9.8 Java client itself
 * (test/fixtures/java-frames, written by GoldenFrames.java) decode to what Java put in them.
 * Runs without Java.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodeBatchBody } from '../../protocol/batch-codec.js';
import { DEFAULT_MAX_FRAME_SIZE, FrameDecoder } from '../../protocol/frame-codec.js';
import { decodeProperties } from '../../protocol/properties.js';
import type { RemotingCommand } from '../../protocol/remoting-command.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/java-frames');

interface Expected {
  code: number;
  language: string;
  version: number;
  opaque: number;
  flag: number;
  serializeType: 0 | 1;
  extFields: Record<string, string>;
  bodyHex: string;
  frameLength: number;
}

const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Record<string, Expected>;

function frame(name: string): Buffer {
  return readFileSync(join(dir, `${name}.bin`));
}

function decodeWhole(bytes: Buffer): RemotingCommand {
  const commands = new FrameDecoder({ maxFrameSize: DEFAULT_MAX_FRAME_SIZE }).push(bytes);
  expect(commands).toHaveLength(1);
  return commands[0]!;
}

describe('golden frames from the Java client', () => {
  it('covers send v2, pull and heartbeat in both serializations, and a batch send', () => {
    expect(Object.keys(expected).sort()).toEqual([
      'heartbeat-json',
      'heartbeat-rocketmq',
      'pull-json',
      'pull-rocketmq',
      'send-batch-json',
      'send-v2-json',
      'send-v2-rocketmq',
    ]);
  });

  for (const [name, want] of Object.entries(expected)) {
    it(`${name}: decodes to the fields Java encoded`, () => {
      const bytes = frame(name);
      expect(bytes.length).toBe(want.frameLength);
      expect(bytes.readUInt32BE(4) >>> 24).toBe(want.serializeType);
      const cmd = decodeWhole(bytes);
      expect(cmd.code).toBe(want.code);
      expect(cmd.language).toBe(want.language);
      expect(cmd.version).toBe(want.version);
      expect(cmd.opaque).toBe(want.opaque);
      expect(cmd.flag).toBe(want.flag);
      expect(cmd.serializeType).toBe(want.serializeType);
      expect({ ...cmd.extFields }).toEqual(want.extFields);
      expect((cmd.body ?? Buffer.alloc(0)).toString('hex')).toBe(want.bodyHex);
    });

    it(`${name}: decodes the same when fed one byte at a time`, () => {
      const bytes = frame(name);
      const decoder = new FrameDecoder({ maxFrameSize: DEFAULT_MAX_FRAME_SIZE });
      const out: RemotingCommand[] = [];
      for (let i = 0; i < bytes.length; i++) {
        const got = decoder.push(bytes.subarray(i, i + 1));
        if (i < bytes.length - 1) expect(got).toEqual([]);
        out.push(...got);
      }
      expect(out).toEqual([decodeWhole(bytes)]);
      expect(decoder.pendingBytes()).toBe(0);
    });
  }

  it('decodes all frames back to back in one chunk', () => {
    const names = Object.keys(expected);
    const commands = new FrameDecoder({ maxFrameSize: DEFAULT_MAX_FRAME_SIZE }).push(Buffer.concat(names.map(frame)));
    expect(commands.map((c) => c.opaque)).toEqual(names.map((n) => expected[n]!.opaque));
  });

  it('send v2: the single-letter header fields carry the message (JSON escapes \\u0001/\\u0002)', () => {
    for (const name of ['send-v2-json', 'send-v2-rocketmq']) {
      const cmd = decodeWhole(frame(name));
      expect(cmd.code).toBe(310);
      expect(cmd.extFields.b).toBe('TopicGolden');
      expect(cmd.extFields.e).toBe('3');
      expect(cmd.extFields.g).toBe('1700000000123');
      const props = decodeProperties(cmd.extFields.i!);
      expect(props.TAGS).toBe('TagA');
      expect(props.KEYS).toBe('key-1 key-2');
      expect(props.UNIQ_KEY).toBe('7F00000100002A9F0000000000000001');
      expect(props.unicode).toBe('日本語 ✓');
      expect(props.WAIT).toBe('true');
      expect([...cmd.body!]).toEqual(Array.from({ length: 32 }, (_, i) => i * 8));
    }
  });

  it('pull: 64-bit offsets survive as strings', () => {
    for (const name of ['pull-json', 'pull-rocketmq']) {
      const cmd = decodeWhole(frame(name));
      expect(cmd.code).toBe(11);
      expect(cmd.extFields.queueOffset).toBe('1234567890123');
      expect(cmd.extFields.commitOffset).toBe('1234567890000');
      expect(cmd.extFields.sysFlag).toBe('7');
      expect(cmd.extFields.subscription).toBe('TagA || TagB');
    }
  });

  it('heartbeat: the body is HeartbeatData JSON, the same in both serializations', () => {
    const json = decodeWhole(frame('heartbeat-json'));
    const binary = decodeWhole(frame('heartbeat-rocketmq'));
    expect(binary.body).toEqual(json.body);
    const data = JSON.parse(json.body!.toString('utf8'));
    expect(data.clientID).toBe('127.0.0.1@golden');
    expect(data.producerDataSet).toEqual([{ groupName: 'PG_golden' }]);
    const consumer = data.consumerDataSet[0];
    expect(consumer).toMatchObject({
      groupName: 'GID_golden',
      consumeType: 'CONSUME_PASSIVELY',
      messageModel: 'CLUSTERING',
      consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
      unitMode: false,
    });
    expect(consumer.subscriptionDataSet[0]).toMatchObject({
      topic: 'TopicGolden',
      subString: 'TagA || TagB',
      tagsSet: ['TagA', 'TagB'],
      codeSet: [2598919, 2598920],
      subVersion: 1700000000123,
    });
  });

  it('batch send (320): header m=true and a MessageBatch body of 3 entries', () => {
    const cmd = decodeWhole(frame('send-batch-json'));
    expect(cmd.code).toBe(320);
    expect(cmd.extFields.m).toBe('true');
    const entries = decodeBatchBody(cmd.body!);
    expect(entries.map((e) => e.body.toString('utf8'))).toEqual(['batch body 0', 'batch body 1', 'batch body 2']);
    entries.forEach((entry, i) => {
      const props = decodeProperties(entry.properties);
      expect(props.KEYS).toBe(`batch-key-${i}`);
      expect(props.TAGS).toBe('TagB');
      expect(props.UNIQ_KEY).toBe(`7F00000100002A9F000000000000001${i}`);
    });
  });
});
