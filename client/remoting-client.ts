import { connect, type Socket } from 'node:net';
import { ConnectionClosedError, InvalidArgumentError, RequestTimeoutError } from '../protocol/errors.js';
import { FrameDecoder, writeFrame } from '../protocol/frame-codec.js';
import { createResponse, isResponse, isOneway, type RemotingCommand } from '../protocol/remoting-command.js';
import { ResponseCode } from '../protocol/response-code.js';
import { requestCodeName } from '../protocol/request-code.js';
import { defaultLogger, type Logger } from './logger.js';
import { retry, type BackoffOptions } from './retry.js';

/**
 * One long-lived TCP connection per broker or name-server address, shared by every producer and
 * consumer of a client instance. Requests are matched to responses by opaque; each request has its
 * own deadline, and a timeout fails only that request (the connection and the other calls on it
 * live on). Broker-initiated requests go to the handler registered for their code; unknown ones are
 * answered with REQUEST_CODE_NOT_SUPPORTED.
 */

export interface RemotingClientOptions {
  /** Default per-request timeout. */
  requestTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Connection attempts after the first one, each after an exponential, jittered backoff. */
  connectRetries?: number;
  backoff?: Partial<BackoffOptions>;
  maxFrameSize?: number;
  logger?: Logger;
}

/** Handles a broker-initiated request; the returned command (if any) is the response. */
export type RequestHandler = (request: RemotingCommand, address: string) => Promise<RemotingCommand | undefined> | RemotingCommand | undefined;

interface Pending {
  resolve(cmd: RemotingCommand): void;
  reject(error: Error): void;
  /** `performance.now()` time after which the request fails with a timeout. */
  deadline: number;
  code: number;
  timeoutMs: number;
}

/**
 * One connection's requests in flight. A single timer is armed for the earliest deadline, not one
 * per request: a request answered in time costs no timer work. When it fires, every request past
 * its deadline fails and the timer is re-armed for the earliest one left.
 */
class PendingRequests {
  private readonly byOpaque = new Map<number, Pending>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;

  constructor(private readonly address: string) {}

  add(opaque: number, pending: Pending): void {
    this.byOpaque.set(opaque, pending);
    if (pending.deadline < this.timerAt) this.arm(pending.deadline);
  }

  /** Removes and returns the request with this opaque, if it is still waiting. */
  take(opaque: number): Pending | undefined {
    const pending = this.byOpaque.get(opaque);
    if (pending) this.byOpaque.delete(opaque);
    return pending;
  }

  /** Fails every waiting request with `error` and stops the timer. */
  failAll(error: () => Error): void {
    this.disarm();
    const all = [...this.byOpaque.values()];
    this.byOpaque.clear();
    for (const pending of all) pending.reject(error());
  }

  private arm(at: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.expire(), Math.max(1, Math.ceil(at - performance.now())));
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  private expire(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = performance.now();
    let next = Number.POSITIVE_INFINITY;
    for (const [opaque, pending] of this.byOpaque) {
      if (pending.deadline <= now) {
        this.byOpaque.delete(opaque);
        pending.reject(new RequestTimeoutError(opaque, pending.code, pending.timeoutMs, this.address));
      } else if (pending.deadline < next) next = pending.deadline;
    }
    if (next !== Number.POSITIVE_INFINITY) this.arm(next);
  }
}

class Connection {
  readonly pending: PendingRequests;
  closed = false;

  /** `decoder` is the one the socket reads into (`onread`); the connection reports each read with `received`. */
  constructor(
    readonly address: string,
    readonly socket: Socket,
    private readonly decoder: FrameDecoder,
    private readonly onCommand: (cmd: RemotingCommand, conn: Connection) => void,
    private readonly onClose: (conn: Connection, cause?: Error) => void,
  ) {
    this.pending = new PendingRequests(address);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    socket.on('error', (error) => this.destroy(error));
    socket.on('close', () => this.destroy());
  }

  received(n: number): void {
    if (this.closed) return;
    let commands: RemotingCommand[];
    try {
      commands = this.decoder.pushRead(n);
    } catch (error) {
      this.destroy(error as Error);
      return;
    }
    for (const cmd of commands) this.onCommand(cmd, this);
  }

  /** Frames written in one tick leave in one writev: many concurrent sends cost one syscall. */
  write(cmd: RemotingCommand): void {
    if (this.closed) throw new ConnectionClosedError(this.address);
    writeFrame(this.socket, cmd);
  }

  destroy(cause?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.pending.failAll(() => new ConnectionClosedError(this.address, { cause }));
    this.onClose(this, cause);
  }
}

export class RemotingClient {
  private readonly connections = new Map<string, Connection>();
  private readonly connecting = new Map<string, Promise<Connection>>();
  private readonly handlers = new Map<number, RequestHandler>();
  private readonly requestTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly connectRetries: number;
  private readonly backoff: Partial<BackoffOptions>;
  private readonly maxFrameSize: number;
  private readonly logger: Logger;
  private closed = false;

  constructor(options: RemotingClientOptions = {}) {
    this.requestTimeoutMs = options.requestTimeoutMs ?? 3_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 3_000;
    this.connectRetries = options.connectRetries ?? 2;
    this.backoff = { initialDelayMs: 100, maxDelayMs: 2_000, ...options.backoff };
    this.maxFrameSize = options.maxFrameSize ?? 16 * 1024 * 1024;
    this.logger = options.logger ?? defaultLogger();
  }

  /** Registers the handler for broker-initiated requests with this code. */
  onRequest(code: number, handler: RequestHandler): void {
    this.handlers.set(code, handler);
  }

  /** Sends a request and resolves with the response, whatever its code; the caller interprets it. */
  invoke(address: string, request: RemotingCommand, timeoutMs = this.requestTimeoutMs): Promise<RemotingCommand> {
    // An open connection is used at once: no extra promise and microtask per request.
    const open = this.closed ? undefined : this.connections.get(address);
    if (open && !open.closed) return this.exchange(open, address, request, timeoutMs);
    return this.connection(address).then((conn) => this.exchange(conn, address, request, timeoutMs));
  }

  private exchange(conn: Connection, address: string, request: RemotingCommand, timeoutMs: number): Promise<RemotingCommand> {
    return new Promise<RemotingCommand>((resolve, reject) => {
      conn.pending.add(request.opaque, { resolve, reject, deadline: performance.now() + timeoutMs, code: request.code, timeoutMs });
      try {
        conn.write(request);
      } catch (error) {
        conn.pending.take(request.opaque);
        reject(error as Error);
      }
    });
  }

  /** Sends a request that expects no response (the oneway flag must already be set by the caller). */
  async invokeOneway(address: string, request: RemotingCommand): Promise<void> {
    const conn = await this.connection(address);
    conn.write(request);
  }

  close(): void {
    this.closed = true;
    for (const conn of [...this.connections.values()]) conn.destroy();
  }

  private async connection(address: string): Promise<Connection> {
    if (this.closed) throw new ConnectionClosedError(address, { message: `client closed; cannot reach ${address}` });
    const open = this.connections.get(address);
    if (open && !open.closed) return open;
    let attempt = this.connecting.get(address);
    if (!attempt) {
      attempt = retry(() => this.connectOnce(address), {
        retries: this.connectRetries,
        ...this.backoff,
        shouldRetry: () => !this.closed,
        onRetry: (error, n, delayMs) => this.logger.debug({ address, attempt: n, delayMs, err: error }, 'reconnecting'),
      }).finally(() => this.connecting.delete(address));
      this.connecting.set(address, attempt);
    }
    return attempt;
  }

  private connectOnce(address: string): Promise<Connection> {
    const { host, port } = parseAddress(address);
    return new Promise<Connection>((resolve, reject) => {
      // Reads go straight into the decoder's buffers: a large pull answer lands in its own frame buffer, uncopied.
      const decoder = new FrameDecoder({ maxFrameSize: this.maxFrameSize });
      let conn: Connection | undefined;
      const onread = {
        buffer: () => decoder.readBuffer(),
        callback: (n: number) => {
          conn?.received(n);
          return true;
        },
      };
      const socket = connect({ host, port, onread });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ConnectionClosedError(address, { message: `connect to ${address} timed out after ${this.connectTimeoutMs} ms` }));
      }, this.connectTimeoutMs);
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(new ConnectionClosedError(address, { message: `cannot connect to ${address}: ${error.message}`, cause: error }));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        if (this.closed) {
          socket.destroy();
          reject(new ConnectionClosedError(address));
          return;
        }
        conn = new Connection(address, socket, decoder, (cmd, c) => this.dispatch(cmd, c), (c, cause) => this.closedConnection(c, cause));
        this.connections.set(address, conn);
        this.logger.debug({ address }, 'connected');
        resolve(conn);
      });
    });
  }

  private closedConnection(conn: Connection, cause?: Error): void {
    if (this.connections.get(conn.address) === conn) this.connections.delete(conn.address);
    this.logger.debug({ address: conn.address, err: cause }, 'connection closed');
  }

  private dispatch(cmd: RemotingCommand, conn: Connection): void {
    if (isResponse(cmd)) {
      const pending = conn.pending.take(cmd.opaque);
      if (!pending) {
        this.logger.debug({ address: conn.address, opaque: cmd.opaque }, 'response for no pending request (timed out?)');
        return;
      }
      pending.resolve(cmd);
      return;
    }
    void this.serveRequest(cmd, conn);
  }

  private async serveRequest(request: RemotingCommand, conn: Connection): Promise<void> {
    const handler = this.handlers.get(request.code);
    let response: RemotingCommand | undefined;
    if (!handler) {
      this.logger.debug({ address: conn.address, code: request.code }, 'unsupported broker request');
      response = createResponse(request, ResponseCode.REQUEST_CODE_NOT_SUPPORTED, undefined, `request code ${request.code} not supported by the FerryMQ client`);
    } else {
      try {
        response = await handler(request, conn.address);
      } catch (error) {
        this.logger.warn({ address: conn.address, code: requestCodeName(request.code), err: error }, 'broker request handler failed');
        response = createResponse(request, ResponseCode.SYSTEM_ERROR, undefined, error instanceof Error ? error.message : String(error));
      }
    }
    if (response && !isOneway(request) && !conn.closed) conn.write(response);
  }
}

export function parseAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  const port = Number(address.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) throw new InvalidArgumentError(`bad address "${address}": expected host:port`);
  return { host: address.slice(0, colon).replace(/^\[|\]$/g, ''), port };
}
