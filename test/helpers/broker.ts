/**
 * A real broker in-process on port 0 with a temp data dir, plus a raw remoting client for request
 * codes the SDKs never send. `stop()` shuts the broker down and removes the data dir; `restart()`
 * shuts it down and starts it again on the same port and data dir.
 */
import { connect, type Socket } from 'node:net';
import { pino } from 'pino';
import { BrokerServer } from '../../broker/broker-server.js';
import { resolveBrokerConfig, type BrokerConfig } from '../../broker/config.js';
import { newTopicConfig, PERM_READ, PERM_WRITE } from '../../broker/topic-config-manager.js';
import { FrameDecoder, encodeFrame } from '../../protocol/frame-codec.js';
import { decodeRecords, type DecodedRecord } from '../../protocol/message-codec.js';
import { createRequest, isResponse, type ExtFieldsInput, type RemotingCommand } from '../../protocol/remoting-command.js';
import { toV2, type SendMessageRequestHeader } from '../../protocol/send-header.js';
import type { StoreConfig } from '../../storage/config.js';
import { tempDir, uniqueName } from './common.js';

export type BrokerOverrides = Partial<Omit<BrokerConfig, 'store'>> & { store?: Partial<StoreConfig> };

export interface TestBroker {
  port: number;
  address: string;
  /** What a client passes as its name server. */
  nameSrv: string;
  dataDir: string;
  broker: BrokerServer;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

/** Small files and quiet logs: tests stay fast and their output clean. */
const TEST_DEFAULTS: BrokerOverrides = {
  port: 0,
  logLevel: 'silent',
  store: { segmentSize: 256 * 1024, cleanupIntervalMs: 60_000 },
};

export async function startBroker(overrides: BrokerOverrides = {}): Promise<TestBroker> {
  const dir = overrides.dataDir ? undefined : await tempDir('ferrymq-broker-');
  const dataDir = overrides.dataDir ?? dir!.path;
  const config = resolveBrokerConfig({
    ...TEST_DEFAULTS,
    ...overrides,
    dataDir,
    store: { ...TEST_DEFAULTS.store, ...overrides.store },
  });
  const logger = pino({ level: config.logLevel });
  const handle: TestBroker = {
    port: 0,
    address: '',
    nameSrv: '',
    dataDir,
    broker: await BrokerServer.start(config, { logger }),
    async stop() {
      await handle.broker.shutdown();
      await dir?.cleanup();
    },
    async restart() {
      await handle.broker.shutdown();
      handle.broker = await BrokerServer.start({ ...config, port: handle.port }, { logger });
    },
  };
  handle.port = handle.broker.address().port;
  handle.address = `127.0.0.1:${handle.port}`;
  handle.nameSrv = handle.address;
  return handle;
}

/** Creates (or updates) a read-write topic directly in the broker's metadata. */
export function createTopic(target: TestBroker | BrokerServer, name: string, queueNums: number): void {
  const broker = target instanceof BrokerServer ? target : target.broker;
  broker.context.topics.put(newTopicConfig(name, queueNums, PERM_READ | PERM_WRITE));
}

/** Creates a read-write topic with a fresh name, and returns the name. */
export function newTopic(target: TestBroker, queueNums = 1, prefix = 'T'): string {
  const topic = uniqueName(prefix);
  createTopic(target, topic, queueNums);
  return topic;
}

/** Up to 1000 records of a queue from `fromOffset` on, read straight from the broker's store. */
export async function storedRecords(target: TestBroker, topic: string, queueId = 0, fromOffset = 0): Promise<DecodedRecord[]> {
  const result = await target.broker.context.store.read(topic, queueId, fromOffset, 1000, 64 * 1024 * 1024);
  return result.buffers.flatMap((b) => decodeRecords(b));
}

/** The SEND_MESSAGE_V2 (310) header of a plain send to queue 0 by group `PG`, with `fields` overriding. */
export function sendHeaderV2(topic: string, fields: Partial<SendMessageRequestHeader> = {}): Record<string, string> {
  return toV2({
    producerGroup: 'PG',
    topic,
    defaultTopic: 'TBW102',
    defaultTopicQueueNums: 4,
    queueId: 0,
    sysFlag: 0,
    bornTimestamp: Date.now(),
    flag: 0,
    properties: '',
    ...fields,
  });
}

/** A minimal remoting client: one socket, responses matched by opaque, server requests recorded. */
export class RawClient {
  readonly serverRequests: RemotingCommand[] = [];
  private readonly pending = new Map<number, (response: RemotingCommand) => void>();
  private readonly decoder = new FrameDecoder({ maxFrameSize: 64 * 1024 * 1024 });
  private closedResolve!: () => void;
  /** Resolves when the broker (or we) closed the socket. */
  readonly closed = new Promise<void>((resolve) => (this.closedResolve = resolve));

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const command of this.decoder.push(chunk)) {
        if (!isResponse(command)) {
          this.serverRequests.push(command);
          continue;
        }
        this.pending.get(command.opaque)?.(command);
        this.pending.delete(command.opaque);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => this.closedResolve());
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port }, () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Sends a request and waits for its response (rejects after `timeoutMs`). */
  request(code: number, extFields?: ExtFieldsInput, body?: Buffer, timeoutMs = 5000): Promise<RemotingCommand> {
    return this.send(createRequest(code, extFields, body), timeoutMs);
  }

  send(command: RemotingCommand, timeoutMs = 5000): Promise<RemotingCommand> {
    const response = this.expectResponse(command.opaque, timeoutMs);
    this.write(Buffer.concat(encodeFrame(command)));
    return response;
  }

  /** Waits for the response with this opaque (for requests written by hand with `write`). */
  expectResponse(opaque: number, timeoutMs = 5000): Promise<RemotingCommand> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(opaque);
        reject(new Error(`no response to opaque ${opaque} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(opaque, (response) => {
        clearTimeout(timer);
        resolve(response);
      });
    });
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  close(): void {
    this.socket.destroy();
  }
}
