/**
 * The npm client ali-ons, unmodified, typed for the tests, and the options every test gives it.
 */
import { createRequire } from 'node:module';
import { uniqueName } from './common.js';

export interface OnsMessage {
  topic: string;
  tags?: string;
  keys?: string[];
  body: Buffer;
  msgId: string;
  originMessageId?: string;
  reconsumeTimes: number;
  delayTimeLevel?: number;
}
export interface OnsProducer {
  ready(): Promise<void>;
  send(msg: OnsMessage): Promise<{ msgId: string; sendStatus: string; queueOffset: number }>;
  close(): Promise<void>;
  on(event: 'error', listener: (err: Error) => void): void;
}
export interface OnsConsumer {
  ready(): Promise<void>;
  subscribe(topic: string, expression: string, handler: (msg: OnsMessage) => Promise<unknown>): void;
  on(event: 'error', listener: (err: Error) => void): void;
  close(): Promise<void>;
}

export const ons = createRequire(import.meta.url)('ali-ons') as {
  Consumer: new (options: Record<string, unknown>) => OnsConsumer;
  Producer: new (options: Record<string, unknown>) => OnsProducer;
  Message: new (topic: string, tags: string, body: Buffer) => OnsMessage;
};

const silentLogger = { info() {}, warn() {}, error() {}, debug() {} };
// ali-ons asserts an HTTP client even when nameSrv is given; it is only used for Aliyun address lookup.
const noHttp = { request: async () => Promise.reject(new Error('no HTTP in tests')) };

/** Name server, a silent logger, no HTTP and a fresh instance name (so clients do not share one). */
export function onsClientOptions(nameSrv: string): Record<string, unknown> {
  return { nameSrv, httpclient: noHttp, logger: silentLogger, instanceName: uniqueName('i') };
}
