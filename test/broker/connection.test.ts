import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
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
  setTimeout(): void {}
  pause(): void {
    this.calls.push('pause');
  }
  resume(): void {
    this.calls.push('resume');
  }
  destroy(): void {}
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
});
