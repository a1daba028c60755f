/**
 * The npm client ali-ons (unmodified, CommonJS), typed just enough for the reference run.
 */
import { createRequire } from 'node:module';

export interface AliProducer {
  ready(): Promise<void>;
  send(message: object): Promise<{ sendStatus: string }>;
  close(): Promise<void>;
  on(event: 'error', listener: (err: Error) => void): void;
}

export interface AliConsumer {
  ready(): Promise<void>;
  subscribe(topic: string, expression: string, handler: (msg: { body: Buffer }) => Promise<void>): void;
  close(): Promise<void>;
  on(event: 'error', listener: (err: Error) => void): void;
}

interface AliOns {
  Producer: new (options: object) => AliProducer;
  Consumer: new (options: object) => AliConsumer;
  Message: new (topic: string, tags: string, body: Buffer) => object;
}

export const aliOns = createRequire(import.meta.url)('ali-ons') as AliOns;

const silentLogger = { info() {}, warn() {}, error() {}, debug() {} };
// ali-ons asserts an HTTP client even when nameSrv is given; it only uses it for Aliyun address lookups.
const httpclient = { request: async () => ({ status: 404, data: '' }) };

export function aliOptions(nameServer: string): object {
  return { nameSrv: nameServer, httpclient, logger: silentLogger, instanceName: `bench-${process.pid}` };
}
