/**
 * One client socket: a push-parser decoder in, a write path out. Limits enforced here:
 * - a malformed or oversize frame closes this connection only (the decoder checks the length
 *   prefix before allocating);
 * - a frame left half-sent for `halfFrameTimeoutMs` closes it;
 * - no inbound bytes for `idleTimeoutMs` closes it (checked `IDLE_CHECKS` times per timeout, so
 *   100-112.5 % of it after the last read: the socket's own timeout re-files a timer on every read
 *   and write);
 * - responses the peer does not read: when the socket buffer is full, reading pauses (no new
 *   requests are taken) until it drains, and past `maxPendingWriteBytes` unsent bytes the
 *   connection is closed, so a stalled consumer cannot grow the broker's memory.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { FrameDecoder, queuedFrameBytes, writeFrame } from '../protocol/frame-codec.js';
import type { RemotingCommand } from '../protocol/remoting-command.js';
import type { ClientChannel } from './client-registry.js';

export interface ConnectionOptions {
  maxFrameSize: number;
  halfFrameTimeoutMs: number;
  idleTimeoutMs: number;
  maxPendingWriteBytes: number;
  logger: Logger;
  onCommand: (connection: Connection, command: RemotingCommand) => void;
  onClose: (connection: Connection) => void;
}

let nextConnectionId = 1;

/**
 * Request bytes one connection may hand in per event-loop turn; past it the socket is paused until
 * the next turn. libuv reads a busy socket up to 32 times per turn, so a producer with several large
 * batches queued (each stored and answered in the same turn when writes are inline) could hold the
 * loop for tens of ms while other clients' requests waited.
 */
const READ_BYTES_PER_TURN = 512 * 1024;
/**
 * The count is reset at the next turn only once it passes this: most reads are a small request or
 * two, and an Immediate per read would be a timer per request. Bytes of earlier turns may thus count
 * toward this turn's budget, which then ends after 448-512 KiB of its own.
 */
const TURN_RESET_BYTES = 64 * 1024;

/** Idle checks per `idleTimeoutMs`; that many in a row without a read close the connection. */
const IDLE_CHECKS = 8;

export class Connection implements ClientChannel {
  readonly id = nextConnectionId++;
  readonly remoteAddress: string;
  private readonly decoder: FrameDecoder;
  private halfFrameTimer: NodeJS.Timeout | undefined;
  private readonly idleTimer: NodeJS.Timeout;
  /** Whether bytes came in since the last idle check, and how many checks in a row found none. */
  private readSinceCheck = true;
  private idleChecks = 0;
  private closing = false;
  private pausedForWrites = false;
  /** Bytes taken since the last reset, and whether reading waits for the next turn (see READ_BYTES_PER_TURN). */
  private turnBytes = 0;
  private pausedForTurn = false;

  constructor(
    private readonly socket: Socket,
    private readonly options: ConnectionOptions,
  ) {
    this.remoteAddress = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    this.decoder = new FrameDecoder({ maxFrameSize: options.maxFrameSize });
    socket.setNoDelay(true);
    this.idleTimer = setInterval(this.checkIdle, options.idleTimeoutMs / IDLE_CHECKS);
    this.idleTimer.unref();
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => {
      if (this.pausedForWrites && !this.closing) {
        this.pausedForWrites = false;
        if (!this.pausedForTurn) socket.resume();
      }
    });
    socket.on('error', (err) => options.logger.debug({ remote: this.remoteAddress, err }, 'socket error'));
    socket.on('close', () => {
      this.closing = true;
      this.clearTimers();
      options.onClose(this);
    });
  }

  get closed(): boolean {
    return this.closing;
  }

  /** Bytes written but not yet sent (queued for this tick's write, or in the socket's buffer). */
  get pendingWriteBytes(): number {
    return this.socket.writableLength + queuedFrameBytes(this.socket);
  }

  /** Writes one command; false when the connection is closed or was closed for exceeding the write cap. */
  send(command: RemotingCommand): boolean {
    if (this.closing) return false;
    const ok = writeFrame(this.socket, command);
    if (this.pendingWriteBytes > this.options.maxPendingWriteBytes) {
      this.close(`more than ${this.options.maxPendingWriteBytes} unsent response bytes (peer not reading)`);
      return false;
    }
    if (!ok && !this.pausedForWrites) {
      // Stop taking requests until the peer reads what it asked for.
      this.pausedForWrites = true;
      this.socket.pause();
    }
    return true;
  }

  close(reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.options.logger.info({ remote: this.remoteAddress, reason }, 'closing connection');
    this.clearTimers();
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    this.readSinceCheck = true;
    const before = this.turnBytes;
    this.turnBytes += chunk.length;
    if (before < TURN_RESET_BYTES && this.turnBytes >= TURN_RESET_BYTES) setImmediate(this.endTurn);
    if (this.turnBytes >= READ_BYTES_PER_TURN && !this.pausedForTurn) {
      this.pausedForTurn = true;
      this.socket.pause();
    }
    let commands: RemotingCommand[];
    try {
      commands = this.decoder.push(chunk);
    } catch (err) {
      this.options.logger.warn({ remote: this.remoteAddress, err: (err as Error).message }, 'malformed frame; closing connection');
      this.close(`malformed frame: ${(err as Error).message}`);
      return;
    }
    for (const command of commands) {
      if (this.closing) return;
      this.options.onCommand(this, command);
    }
    if (this.decoder.pendingBytes() > 0) {
      this.halfFrameTimer ??= setTimeout(
        () => this.close(`frame not completed within ${this.options.halfFrameTimeoutMs} ms`),
        this.options.halfFrameTimeoutMs,
      );
    } else {
      this.clearHalfFrameTimer();
    }
  }

  private readonly endTurn = (): void => {
    this.turnBytes = 0;
    if (!this.pausedForTurn) return;
    this.pausedForTurn = false;
    if (!this.closing && !this.pausedForWrites) this.socket.resume();
  };

  private readonly checkIdle = (): void => {
    if (this.readSinceCheck) {
      this.readSinceCheck = false;
      this.idleChecks = 0;
    } else if (++this.idleChecks >= IDLE_CHECKS) {
      this.close('idle timeout');
    }
  };

  private clearTimers(): void {
    clearInterval(this.idleTimer);
    this.clearHalfFrameTimer();
  }

  private clearHalfFrameTimer(): void {
    if (this.halfFrameTimer !== undefined) clearTimeout(this.halfFrameTimer);
    this.halfFrameTimer = undefined;
  }
}
