import { describe, expect, it } from 'vitest';
import { FrameDecoder, encodeFrame } from '../../protocol/frame-codec.js';
import { decodeBinaryHeader } from '../../protocol/header-codec.js';
import { checkRecord, decodeRecord, encodeRecord, scanRecords } from '../../protocol/message-codec.js';
import { FrameError, InvalidArgumentError } from '../../protocol/errors.js';
import { createRequest } from '../../protocol/remoting-command.js';
import { parseRocketMQJson } from '../../protocol/bodies.js';

// Deterministic PRNG so a failure reproduces.
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function mutate(rand: () => number, src: Buffer): Buffer {
  const out = Buffer.from(src);
  const edits = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < edits; i++) out[Math.floor(rand() * out.length)] = Math.floor(rand() * 256);
  return out;
}

/** Runs fn and fails the test on any exception other than the expected typed ones. */
function onlyTypedErrors(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof FrameError) && !(err instanceof InvalidArgumentError)) throw err;
  }
}

describe('decoders on mutated input throw only typed errors', () => {
  const rand = prng(7);

  it('FrameDecoder', () => {
    const good = Buffer.concat([
      ...encodeFrame(createRequest(310, { a: 'g', b: 't', e: 1 }, Buffer.from('body'), { opaque: 1 })),
      ...encodeFrame(createRequest(11, { topic: 't' }, undefined, { opaque: 2, serializeType: 1, remark: 'x' })),
    ]);
    for (let i = 0; i < 3000; i++) {
      const dec = new FrameDecoder({ maxFrameSize: 4096 });
      const bad = mutate(rand, good);
      onlyTypedErrors(() => {
        for (let at = 0; at < bad.length; at += 7) dec.push(bad.subarray(at, at + 7));
      });
    }
  });

  it('binary header', () => {
    const good = encodeFrame(createRequest(11, { topic: 't', q: '1' }, undefined, { serializeType: 1, remark: 'r' }))[0].subarray(8);
    for (let i = 0; i < 3000; i++) onlyTypedErrors(() => decodeBinaryHeader(mutate(rand, good)));
  });

  it('records: checkRecord never throws; whatever it accepts decodes', () => {
    const good = encodeRecord({
      queueId: 1,
      flag: 0,
      queueOffset: 5,
      physicalOffset: 77,
      sysFlag: 0,
      bornTimestamp: 1,
      bornHost: { ip: '1.2.3.4', port: 5 },
      storeTimestamp: 2,
      storeHost: { ip: '5.6.7.8', port: 9 },
      reconsumeTimes: 0,
      body: Buffer.from('payload'),
      topic: 'T',
      properties: 'TAGS\u0001a\u0002',
    });
    for (let i = 0; i < 5000; i++) {
      const bad = mutate(rand, good);
      const check = checkRecord(bad);
      if (check.ok) expect(() => decodeRecord(bad.subarray(0, check.size))).not.toThrow();
      onlyTypedErrors(() => decodeRecord(bad));
      expect(() => scanRecords(bad)).not.toThrow();
    }
  });

  it('lenient JSON', () => {
    const good = Buffer.from('{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:10911"},"brokerName":"b"}],"x":[1,2.5,true,null,"s\\n"]}');
    for (let i = 0; i < 3000; i++) onlyTypedErrors(() => parseRocketMQJson(mutate(rand, good)));
  });
});
