/**
 * The npm client ali-ons (unmodified, CommonJS), typed just enough for the reference run. It is a
 * devDependency: loaded only when the ali-ons scenario runs, so `ferrymq bench` (and the rest of the
 * CLI, which loads this module) works in an install without it.
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

const require = createRequire(import.meta.url);

/** Whether ali-ons can be loaded here (`runBench` checks before the scenario starts). */
export function aliOnsInstalled(): boolean {
  try {
    require.resolve('ali-ons');
    return true;
  } catch {
    return false;
  }
}

let loaded: AliOns | undefined;

export function aliOns(): AliOns {
  return (loaded ??= require('ali-ons') as AliOns);
}

const silentLogger = { info() {}, warn() {}, error() {}, debug() {} };
// ali-ons asserts an HTTP client even when nameSrv is given; it only uses it for Aliyun address lookups.
const httpclient = { request: async () => ({ status: 404, data: '' }) };

export function aliOptions(nameServer: string): object {
  return { nameSrv: nameServer, httpclient, logger: silentLogger, instanceName: `bench-${process.pid}` };
}
