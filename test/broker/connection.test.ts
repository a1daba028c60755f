import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { Connection } from '../../broker/connection.js';
import { encodeFrame } from '../../protocol/frame-codec.js';
import { createRequest, type RemotingCommand } from '../../protocol/remoting-command.js';

/** The parts of a socket a Connection uses, recording pause/resume. */
class FakeSocket extends EventEmitter {
  remoteAddress = '127.0.0.1';
  remotePort = 40000;
  writableLength = 0;
  calls: string[] = [];
  setNoDelay(): void {}
  pause(): void {
    this.calls.push('pause');
  }
  resume(): void {
    this.calls.push('resume');
  }
  destroy(): void {
    this.calls.push('destroy');
  }
}

const immediate = () => new Promise((resolve) => setImmediate(resolve));

describe('Connection', () => {
  it('takes at most about 512 KiB of requests per event-loop turn from one client, then reads on in the next turn', async () => {
    const socket = new FakeSocket();
    const handled: RemotingCommand[] = [];
    new Connection(socket as unknown as Socket, {
      maxFrameSize: 16 * 1024 * 1024,
      halfFrameTimeoutMs: 60_000,
      idleTimeoutMs: 60_000,
      maxPendingWriteBytes: 1 << 30,
      logger: pino({ level: 'silent' }),
      onCommand: (_connection, command) => handled.push(command),
      onClose: () => undefined,
    });
    const frame = Buffer.concat(encodeFrame(createRequest(310, { topic: 'T' }, Buffer.alloc(100 * 1024, 1))));
    // Five frames (~500 KiB) stay under the budget; the sixth passes it and pauses the socket.
    for (let i = 0; i < 5; i++) socket.emit('data', frame);
    expect(socket.calls).toEqual([]);
    socket.emit('data', frame);
    expect(socket.calls).toEqual(['pause']);
    // Data already read is still handled; reading resumes at the next turn, with a fresh budget.
    expect(handled).toHaveLength(6);
    await immediate();
    expect(socket.calls).toEqual(['pause', 'resume']);
    for (let i = 0; i < 5; i++) socket.emit('data', frame);
    expect(socket.calls).toEqual(['pause', 'resume']);
    await immediate();
    expect(handled).toHaveLength(11);
  });

  it('closes a connection 100-112.5 % of the idle timeout after its last read, whatever it was sent', () => {
    vi.useFakeTimers();
    try {
      const socket = new FakeSocket();
      const connection = new Connection(socket as unknown as Socket, {
        maxFrameSize: 16 * 1024 * 1024,
        halfFrameTimeoutMs: 60_000,
        idleTimeoutMs: 800,
        maxPendingWriteBytes: 1 << 30,
        logger: pino({ level: 'silent' }),
        onCommand: () => undefined,
        onClose: () => undefined,
      });
      const frame = Buffer.concat(encodeFrame(createRequest(310, { topic: 'T' })));
      vi.advanceTimersByTime(750);
      socket.emit('data', frame);
      vi.advanceTimersByTime(799);
      expect(connection.closed).toBe(false);
      vi.advanceTimersByTime(100);
      expect(connection.closed).toBe(true);
      expect(socket.calls).toEqual(['destroy']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('schedules nothing per read while the bytes taken stay small, and counts them toward the budget', async () => {
    const socket = new FakeSocket();
    let handled = 0;
    new Connection(socket as unknown as Socket, {
      maxFrameSize: 16 * 1024 * 1024,
      halfFrameTimeoutMs: 60_000,
      idleTimeoutMs: 60_000,
      maxPendingWriteBytes: 1 << 30,
      logger: pino({ level: 'silent' }),
      onCommand: () => (handled += 1),
      onClose: () => undefined,
    });
    const small = Buffer.concat(encodeFrame(createRequest(310, { topic: 'T' }, Buffer.alloc(1000, 1))));
    const realSetImmediate = globalThis.setImmediate;
    let scheduled = 0;
    globalThis.setImmediate = ((fn: () => void) => {
      scheduled += 1;
      return realSetImmediate(fn);
    }) as typeof setImmediate;
    try {
      for (let i = 0; i < 50; i++) socket.emit('data', small); // ~55 KiB: many turns' worth of reads
      expect(scheduled).toBe(0);
      const big = Buffer.concat(encodeFrame(createRequest(310, { topic: 'T' }, Buffer.alloc(100 * 1024, 1))));
      socket.emit('data', big); // passes 64 KiB: the count is reset at the next turn
      expect(scheduled).toBe(1);
      for (let i = 0; i < 3; i++) socket.emit('data', big);
      expect(socket.calls).toEqual([]);
      socket.emit('data', big); // five 100 KiB frames in this turn plus ~55 KiB before it
      expect(socket.calls).toEqual(['pause']);
    } finally {
      globalThis.setImmediate = realSetImmediate;
    }
    await immediate();
    expect(socket.calls).toEqual(['pause', 'resume']);
    expect(handled).toBe(55);
  });
});
