import { Writable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { FrameDecoder, decodeFrame, encodeFrame, queuedFrameBytes, writeFrame } from '../../protocol/frame-codec.js';
import { FrameError } from '../../protocol/errors.js';
import { createRequest, createResponse, type RemotingCommand } from '../../protocol/remoting-command.js';

const MAX = 16 * 1024 * 1024;

function frameBytes(cmd: RemotingCommand): Buffer {
  return Buffer.concat(encodeFrame(cmd));
}

function sampleCommands(): RemotingCommand[] {
  return [
    createRequest(310, { a: 'PID', b: 'TopicTest', e: 0 }, Buffer.from('hello'), { opaque: 1 }),
    createRequest(34, {}, undefined, { opaque: 2 }),
    createRequest(11, { topic: 'Tōpic', queueId: 1 }, undefined, { opaque: 3, serializeType: 1, remark: 'r' }),
    createResponse(createRequest(11, {}, undefined, { opaque: 4 }), 19, { nextBeginOffset: 5 }, undefined, Buffer.alloc(300, 7)),
    createRequest(35, { clientID: 'x@1' }, Buffer.alloc(0), { opaque: 5 }),
  ];
}

/** What a decoded command should look like: an empty body is indistinguishable from none on the wire. */
function normalised(cmd: RemotingCommand): RemotingCommand {
  const copy = { ...cmd };
  if (copy.body !== undefined && copy.body.length === 0) delete copy.body;
  return copy;
}

// Deterministic PRNG so failures reproduce.
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('encodeFrame', () => {
  it('writes golden bytes for a JSON request and passes the body through uncopied', () => {
    const body = Buffer.from('xyz');
    const cmd = createRequest(10, { a: 'b' }, body, { opaque: 1 });
    const parts = encodeFrame(cmd);
    expect(parts).toHaveLength(2);
    expect(parts[1]).toBe(body);
    const header = '{"code":10,"language":"JAVA","version":409,"opaque":1,"flag":0,"extFields":{"a":"b"}}';
    // length = 4 + 85 + 3 = 92 = 0x5c; header word = type 0, length 85 = 0x55
    expect(parts[0].subarray(0, 8).toString('hex')).toBe('0000005c00000055');
    expect(parts[0].subarray(8).toString('utf8')).toBe(header);
  });

  it('marks binary headers with serialize type 1 in the high byte', () => {
    const [head] = encodeFrame(createRequest(10, {}, undefined, { opaque: 1, serializeType: 1 }));
    expect(head[4]).toBe(1);
    expect(head.readUInt32BE(4) & 0xffffff).toBe(head.length - 8);
  });

  it('answers in the request serialize type', () => {
    const req = createRequest(10, {}, undefined, { opaque: 9, serializeType: 1 });
    const [head] = encodeFrame(createResponse(req, 0));
    expect(head[4]).toBe(1);
    expect(decodeFrame(head).opaque).toBe(9);
  });
});

describe('FrameDecoder', () => {
  const cmds = sampleCommands();
  const stream = Buffer.concat(cmds.map(frameBytes));
  const expected = cmds.map(normalised);

  it('decodes a whole stream pushed at once', () => {
    const dec = new FrameDecoder({ maxFrameSize: MAX });
    expect(dec.push(stream)).toEqual(expected);
    expect(dec.pendingBytes()).toBe(0);
  });

  it('decodes the stream fed one byte at a time', () => {
    const dec = new FrameDecoder({ maxFrameSize: MAX });
    const out: RemotingCommand[] = [];
    for (let i = 0; i < stream.length; i++) {
      out.push(...dec.push(stream.subarray(i, i + 1)));
    }
    expect(out).toEqual(expected);
    expect(dec.pendingBytes()).toBe(0);
  });

  it('decodes the same commands under random chunkings', () => {
    const rand = prng(42);
    for (let round = 0; round < 200; round++) {
      const dec = new FrameDecoder({ maxFrameSize: MAX });
      const out: RemotingCommand[] = [];
      let pos = 0;
      while (pos < stream.length) {
        const size = 1 + Math.floor(rand() * (rand() < 0.5 ? 16 : 400));
        out.push(...dec.push(Buffer.from(stream.subarray(pos, pos + size))));
        pos += size;
      }
      expect(out).toEqual(expected);
    }
  });

  /** Feeds `bytes` through readBuffer/pushRead as a socket would, each read at most `readSize()` bytes. */
  function readThrough(dec: FrameDecoder, bytes: Buffer, readSize: () => number): { out: RemotingCommand[]; targets: Buffer[] } {
    const out: RemotingCommand[] = [];
    const targets: Buffer[] = [];
    let pos = 0;
    while (pos < bytes.length) {
      const target = dec.readBuffer();
      targets.push(target);
      const n = bytes.copy(target, 0, pos, pos + Math.min(readSize(), target.length));
      pos += n;
      out.push(...dec.pushRead(n));
    }
    return { out, targets };
  }

  it('decodes the same commands read through readBuffer/pushRead, small and large frames mixed', () => {
    const large = createResponse(createRequest(11, {}, undefined, { opaque: 6 }), 0, { nextBeginOffset: 9 }, undefined, Buffer.alloc(100_000, 3));
    const mixed = [...cmds, large, ...cmds];
    const bytes = Buffer.concat(mixed.map(frameBytes));
    const rand = prng(7);
    for (const readSize of [() => 1 + Math.floor(rand() * 100_000), () => 65_536, () => 1 + Math.floor(rand() * 2_000)]) {
      const dec = new FrameDecoder({ maxFrameSize: MAX });
      expect(readThrough(dec, bytes, readSize).out).toEqual(mixed.map(normalised));
      expect(dec.pendingBytes()).toBe(0);
    }
  });

  it('reads the rest of a large frame straight into the buffer its body is a view of', () => {
    const body = Buffer.alloc(100_000, 5);
    const bytes = frameBytes(createResponse(createRequest(11, {}, undefined, { opaque: 1 }), 0, {}, undefined, body));
    const dec = new FrameDecoder({ maxFrameSize: MAX });
    const { out, targets } = readThrough(dec, bytes, () => 65_536);
    expect(out).toHaveLength(1);
    expect(out[0]!.body).toEqual(body);
    // The first read lands in a shared chunk; every later one in the frame's own buffer.
    expect(targets.slice(1).every((t) => t.buffer === out[0]!.body!.buffer)).toBe(true);
    expect(targets[0]!.buffer).not.toBe(out[0]!.body!.buffer);
    expect(targets[0]!.length).toBe(64 * 1024);
    // After a frame read in place, the next read stops at 4 KiB: little of another large frame is copied.
    const next = readThrough(dec, Buffer.concat([bytes, frameBytes(cmds[0]!)]), () => 65_536);
    expect(next.targets[0]!.length).toBe(4096);
    expect(next.out).toHaveLength(2);
  });

  it('refuses input after a bad frame read through readBuffer', () => {
    const dec = new FrameDecoder({ maxFrameSize: MAX });
    const bad = Buffer.alloc(8);
    bad.writeUInt32BE(3, 0);
    const target = dec.readBuffer();
    bad.copy(target);
    expect(() => dec.pushRead(8)).toThrow(/less than 4/);
    expect(() => dec.pushRead(1)).toThrow(FrameError);
  });

  it('reports pending bytes of a half-sent frame', () => {
    const dec = new FrameDecoder({ maxFrameSize: MAX });
    const one = frameBytes(cmds[0]);
    expect(dec.push(one.subarray(0, 10))).toEqual([]);
    expect(dec.pendingBytes()).toBe(10);
    expect(dec.push(one.subarray(10))).toHaveLength(1);
    expect(dec.pendingBytes()).toBe(0);
  });

  function frameWith(length: number, word: number, rest: Buffer = Buffer.alloc(0)): Buffer {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(length, 0);
    head.writeUInt32BE(word >>> 0, 4);
    return Buffer.concat([head, rest]);
  }

  it('rejects a length below 4', () => {
    const dec = new FrameDecoder({ maxFrameSize: MAX });
    expect(() => dec.push(Buffer.from([0, 0, 0, 3]))).toThrow(/less than 4/);
  });

  it('rejects an oversize frame from its length field alone, before buffering or allocating', () => {
    const dec = new FrameDecoder({ maxFrameSize: MAX });
    const prefix = Buffer.from([0x7f, 0xff, 0xff, 0xff]);
    const allocUnsafe = vi.spyOn(Buffer, 'allocUnsafe');
    const alloc = vi.spyOn(Buffer, 'alloc');
    try {
      expect(() => dec.push(prefix)).toThrow(/exceeds maxFrameSize/);
      expect(allocUnsafe).not.toHaveBeenCalled();
      expect(alloc).not.toHaveBeenCalled();
    } finally {
      allocUnsafe.mockRestore();
      alloc.mockRestore();
    }
    expect(dec.pendingBytes()).toBe(0);
    const dec2 = new FrameDecoder({ maxFrameSize: 1024 });
    expect(() => dec2.push(frameWith(1021, 0))).toThrow(/exceeds maxFrameSize 1024/);
  });

  it('rejects a header longer than the frame', () => {
    const dec = new FrameDecoder({ maxFrameSize: MAX });
    expect(() => dec.push(frameWith(10, 7, Buffer.alloc(6)))).toThrow(/header length 7 exceeds frame length 10/);
  });

  it('rejects an unknown serialize type', () => {
    const dec = new FrameDecoder({ maxFrameSize: MAX });
    const header = Buffer.from('{"code":1}');
    expect(() => dec.push(frameWith(4 + header.length, (2 << 24) | header.length, header))).toThrow(/unknown serialize type 2/);
  });

  it('rejects a header that does not parse, and stays failed', () => {
    const dec = new FrameDecoder({ maxFrameSize: MAX });
    const header = Buffer.from('{"code":');
    expect(() => dec.push(frameWith(4 + header.length, header.length, header))).toThrow(/header does not parse/);
    expect(() => dec.push(frameBytes(cmds[1]))).toThrow(FrameError);
    const bin = Buffer.from([0, 1, 0]);
    const dec2 = new FrameDecoder({ maxFrameSize: MAX });
    expect(() => dec2.push(frameWith(4 + bin.length, (1 << 24) | bin.length, bin))).toThrow(FrameError);
  });

  it('accepts a frame exactly at the limit', () => {
    const cmd = createRequest(10, {}, Buffer.alloc(1000), { opaque: 1 });
    const bytes = frameBytes(cmd);
    const dec = new FrameDecoder({ maxFrameSize: bytes.length });
    expect(dec.push(bytes)).toHaveLength(1);
  });
});

describe('writeFrame', () => {
  function recordingSink(): { sink: Writable; writes: Buffer[][] } {
    const writes: Buffer[][] = [];
    const sink = new Writable({
      writev(chunks, callback) {
        writes.push(chunks.map((c) => c.chunk as Buffer));
        callback();
      },
      write(chunk: Buffer, _encoding, callback) {
        writes.push([chunk]);
        callback();
      },
    });
    return { sink, writes };
  }

  it('gathers the frames of one turn into one write on the next tick', async () => {
    const { sink, writes } = recordingSink();
    const commands = sampleCommands();
    for (const cmd of commands.slice(0, 3)) expect(writeFrame(sink, cmd)).toBe(true);
    expect(writes).toEqual([]);
    expect(queuedFrameBytes(sink)).toBe(commands.slice(0, 3).reduce((n, cmd) => n + Buffer.concat(encodeFrame(cmd)).length, 0));
    await new Promise((resolve) => process.nextTick(resolve));
    expect(writes).toEqual([[Buffer.concat(commands.slice(0, 3).flatMap((cmd) => encodeFrame(cmd)))]]);
    expect(queuedFrameBytes(sink)).toBe(0);
    writeFrame(sink, commands[3]!);
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toHaveLength(2);
    expect(sink.writableCorked).toBe(0);
  });

  it('hands large bodies over as they are, in one writev with the gathered small parts', async () => {
    const { sink, writes } = recordingSink();
    const big = createRequest(11, { a: '1' }, Buffer.alloc(64 * 1024, 1));
    const small = createRequest(12, { b: '2' });
    const commands = [small, big, small, small];
    for (const cmd of commands) writeFrame(sink, cmd);
    await new Promise((resolve) => process.nextTick(resolve));
    expect(writes).toHaveLength(1);
    const [parts] = writes;
    expect(parts!.map((p) => p.length)).toEqual([
      encodeFrame(small)[0]!.length + encodeFrame(big)[0]!.length,
      64 * 1024,
      2 * encodeFrame(small)[0]!.length,
    ]);
    expect(parts![1]).toBe(big.body);
    expect(new FrameDecoder({ maxFrameSize: MAX }).push(Buffer.concat(parts!))).toEqual(commands);
  });

  it('reports a full sink, and drops the frames of a sink destroyed before the tick ends', async () => {
    const held: (() => void)[] = [];
    const slow = new Writable({ highWaterMark: 16, write: (_chunk, _encoding, callback) => held.push(callback) });
    const cmd = sampleCommands()[0]!;
    expect(writeFrame(slow, cmd)).toBe(true);
    await new Promise((resolve) => process.nextTick(resolve));
    expect(writeFrame(slow, cmd)).toBe(false);
    const { sink, writes } = recordingSink();
    writeFrame(sink, cmd);
    sink.destroy();
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toEqual([]);
    for (const callback of held) callback();
  });

  it('spreads a turn larger than one outbox chunk over several parts, and never rewrites bytes already handed over', async () => {
    const { sink, writes } = recordingSink();
    const turn = (n: number, seed: number) =>
      Array.from({ length: n }, (_, i) => createRequest(310, { a: 'PG', b: `T${seed}`, g: seed * 1000 + i }, Buffer.alloc(1024 + i, seed), { opaque: seed * 1000 + i, serializeType: (i % 2) as 0 | 1 }));
    const first = turn(100, 1);
    for (const cmd of first) writeFrame(sink, cmd);
    await new Promise((resolve) => process.nextTick(resolve));
    const firstWrite = writes[0]!;
    expect(firstWrite.length).toBeGreaterThan(1);
    const second = turn(3, 2);
    for (const cmd of second) writeFrame(sink, cmd);
    await new Promise((resolve) => process.nextTick(resolve));
    // The parts of the first turn are unchanged although the second turn was encoded after them.
    expect(new FrameDecoder({ maxFrameSize: MAX }).push(Buffer.concat(firstWrite))).toEqual(first);
    expect(new FrameDecoder({ maxFrameSize: MAX }).push(Buffer.concat(writes[1]!))).toEqual(second);
    expect(Buffer.concat(writes.flat()).equals(Buffer.concat([...first, ...second].map(frameBytes)))).toBe(true);
  });

  it('leaves the outbox as it was when a frame cannot be encoded', async () => {
    const { sink, writes } = recordingSink();
    const good = sampleCommands()[0]!;
    writeFrame(sink, good);
    const bad = createRequest(10, { ['k'.repeat(0x8000)]: 'v' }, undefined, { serializeType: 1 });
    expect(() => writeFrame(sink, bad)).toThrow(/int16/);
    expect(queuedFrameBytes(sink)).toBe(frameBytes(good).length);
    await new Promise((resolve) => process.nextTick(resolve));
    expect(writes).toEqual([[frameBytes(good)]]);
  });
});
