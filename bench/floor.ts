/**
 * The floor under the headline workload on this machine (not a test, not FerryMQ):
 * `npm run bench:floor -- [--runs 3] [--messages 200000] [--only batch|pipelined|latency] [--flush sync|async]`.
 *
 * Three bare Node processes do what any broker of this shape must do and nothing more: a producer
 * sends 1 KiB messages over loopback TCP, a relay appends them to a file (SYNC: durable before the
 * acknowledgement, by the faster of two ways per workload, see `relay`) and forwards the same bytes to a
 * consumer, which reads each message's send stamp. No headers, no CRC, no index, no offsets.
 * Batch style: frames of 256 messages, at most 4 unacknowledged. Pipelined style: one frame per
 * message, at most 256 unacknowledged, one acknowledgement each. Latency style: one frame per
 * message at a fixed 5,000 msg/s for 10 s after 2 s at that rate that are not timed (as in the headline);
 * the consumer reports receive time minus send stamp. The CPU each process spends per
 * message here is what no broker written in Node can go below on this box; FerryMQ's own CPU per
 * message, less this, is what its broker and SDK logic cost (docs/benchmarks.md, *The floor*).
 *
 * Wire: a frame is [u32 length of the rest][u32 message count] then, per message, [u32 size][bytes].
 * Acknowledgements are [u32 4][u32 message count]. Prints one JSON line per run and a summary.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, constants, fdatasync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync, writevSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { parseInteger } from '../cli/args.js';
import { runScript } from '../cli/run.js';
import { benchDataRoot } from './disk-probe.js';
import { spread } from './report.js';
import { quantile, type LatencySummary as WorkloadLatencySummary } from './workload.js';

type Style = 'batch' | 'pipelined' | 'latency';
type Flush = 'sync' | 'async';

interface Job {
  style: Style;
  flush: Flush;
  messages: number;
  /** Latency style: the first this many messages are not timed. */
  warmUpMessages: number;
  bodySize: number;
  dir: string;
  /** The relay's two listening ports, known once it is up (it listens on port 0). */
  producerPort?: number;
  consumerPort?: number;
}

interface RoleResult {
  role: 'producer' | 'relay' | 'consumer';
  /** Producer only: its first send, on the monotonic clock the processes of one machine share (ms). */
  startMs?: number;
  /** Last acknowledgement (producer), last message (consumer), last byte relayed (relay). */
  endMs: number;
  cpuUs: number;
  /** Consumer, latency style: receive time minus send stamp. */
  latencyMs?: LatencySummary;
}

/** The headline's latency figures, without its CDF (the floor prints no chart). */
export type LatencySummary = Omit<WorkloadLatencySummary, 'cdf'>;

const FLOOR_ENTRY = fileURLToPath(import.meta.url);
const BATCH = 256;
const BATCH_WINDOW = 4;
const PIPELINE = 256;
/** The latency style: the headline's fixed rate, duration and warm-up. */
const LATENCY_RATE = 5_000;
const LATENCY_SECONDS = 10;
const LATENCY_WARM_UP_SECONDS = 2;

/** Splits a byte stream into frames; each frame is handed over as a view (copied only when it spans reads). */
class FrameSplitter {
  private pending: Buffer | undefined;

  constructor(private readonly onFrame: (frame: Buffer) => void) {}

  push(chunk: Buffer): void {
    const data = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = undefined;
    let at = 0;
    while (data.length - at >= 4) {
      const size = data.readUInt32BE(at);
      if (data.length - at - 4 < size) break;
      this.onFrame(data.subarray(at + 4, at + 4 + size));
      at += 4 + size;
    }
    if (at < data.length) this.pending = Buffer.from(data.subarray(at));
  }
}

function ack(count: number): Buffer {
  const out = Buffer.allocUnsafe(8);
  out.writeUInt32BE(4, 0);
  out.writeUInt32BE(count, 4);
  return out;
}

function cpuUs(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return used.user + used.system;
}

async function producer(job: Job): Promise<RoleResult> {
  const socket = net.connect(job.producerPort!, '127.0.0.1');
  socket.setNoDelay(true);
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  const template = Buffer.alloc(job.bodySize, 0x61);
  const perFrame = job.style === 'batch' ? BATCH : 1;
  const window = job.style === 'batch' ? BATCH_WINDOW * BATCH : job.style === 'pipelined' ? PIPELINE : Infinity;
  let sent = 0;
  let acked = 0;
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  // Like a client library: each message is its own body, copied into the frame it goes out in.
  const sendFrame = (count: number): void => {
    const frame = Buffer.allocUnsafe(8 + count * (4 + job.bodySize));
    frame.writeUInt32BE(frame.length - 4, 0);
    frame.writeUInt32BE(count, 4);
    let at = 8;
    for (let i = 0; i < count; i++) {
      const body = Buffer.allocUnsafe(job.bodySize);
      template.copy(body, 8);
      body.writeBigUInt64BE(process.hrtime.bigint(), 0);
      at = frame.writeUInt32BE(job.bodySize, at);
      at += body.copy(frame, at);
    }
    socket.write(frame);
    sent += count;
  };
  const sendWindow = (): void => {
    while (sent < job.messages && sent - acked < window) sendFrame(Math.min(perFrame, job.messages - sent));
  };
  // Latency style: a 1 ms tick sends what the fixed rate says is due by now, as the headline's producer does.
  const sendDue = (): void => {
    const due = Math.min(job.messages, Math.floor((Number(process.hrtime.bigint() - started) / 1e9) * LATENCY_RATE) + 1);
    socket.cork();
    while (sent < due) sendFrame(1);
    socket.uncork();
    if (sent < job.messages) setTimeout(sendDue, 1);
  };
  const done = new Promise<void>((resolve) => {
    const splitter = new FrameSplitter((frame) => {
      acked += frame.readUInt32BE(0);
      if (acked === job.messages) resolve();
      else if (job.style !== 'latency') sendWindow();
    });
    // The sends one read of acknowledgements allows leave in one write.
    socket.on('data', (chunk: Buffer) => {
      socket.cork();
      splitter.push(chunk);
      socket.uncork();
    });
    if (job.style === 'latency') sendDue();
    else {
      socket.cork();
      sendWindow();
      socket.uncork();
    }
  });
  await done;
  const endMs = Number(process.hrtime.bigint()) / 1e6;
  const used = cpuUs(cpu);
  socket.end();
  return { role: 'producer', startMs: Number(started) / 1e6, endMs, cpuUs: used };
}

async function consumer(job: Job): Promise<RoleResult> {
  const socket = net.connect(job.consumerPort!, '127.0.0.1');
  socket.setNoDelay(true);
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  process.send?.({ ready: true });
  let received = 0;
  let stampSum = 0n;
  const warmUp = job.warmUpMessages;
  const latencies = job.style === 'latency' ? new Float64Array(job.messages - warmUp) : undefined;
  let cpu: NodeJS.CpuUsage | undefined;
  await new Promise<void>((resolve) => {
    const splitter = new FrameSplitter((frame) => {
      cpu ??= process.cpuUsage();
      const count = frame.readUInt32BE(0);
      let at = 4;
      for (let i = 0; i < count; i++) {
        const size = frame.readUInt32BE(at);
        const stamp = frame.readBigUInt64BE(at + 4);
        stampSum += stamp;
        if (latencies && received + i >= warmUp) latencies[received + i - warmUp] = Number(process.hrtime.bigint() - stamp) / 1e6;
        at += 4 + size;
      }
      received += count;
      if (received >= job.messages) resolve();
    });
    socket.on('data', (chunk: Buffer) => splitter.push(chunk));
  });
  const endMs = Number(process.hrtime.bigint()) / 1e6;
  const used = cpuUs(cpu!);
  socket.end();
  if (received !== job.messages) throw new Error(`received ${received} messages, ${job.messages} were sent`);
  if (stampSum === 0n) throw new Error('no send stamps read');
  return { role: 'consumer', endMs, cpuUs: used, latencyMs: latencies && summarizeLatency(latencies) };
}

function summarizeLatency(values: Float64Array): LatencySummary {
  const sorted = values.slice().sort();
  return { count: sorted.length, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), p999: quantile(sorted, 0.999), max: sorted[sorted.length - 1] };
}

/** Writes `bytes` zeros to a new file at `path` and makes them durable. */
function zeroFill(path: string, bytes: number): void {
  const fd = openSync(path, 'w');
  const zeros = Buffer.alloc(1 << 20);
  for (let at = 0; at < bytes; at += zeros.length) writeSync(fd, zeros, 0, zeros.length, at);
  fsyncSync(fd);
  closeSync(fd);
}

async function relay(job: Job): Promise<RoleResult> {
  const path = join(job.dir, 'log');
  // SYNC at a fixed rate: each read's frames are written with O_DSYNC, inline, into zero-filled
  // space (no threadpool hop, no size change to commit): p50 0.47-0.53 ms here against 0.70-0.72
  // with the group commit below. Under load the group commit is as fast or faster (batch) and
  // lets the next frames be read while a sync runs (pipelined: 98-106k against 83-94k msg/s).
  const inlineSync = job.flush === 'sync' && job.style === 'latency';
  if (inlineSync) zeroFill(path, job.messages * (8 + job.bodySize) + (1 << 20));
  const fd = inlineSync ? openSync(path, constants.O_WRONLY | constants.O_DSYNC) : openSync(path, 'w');
  let position = 0;
  let consumerSocket: net.Socket | undefined;
  let producerSocket: net.Socket | undefined;
  let cpu: NodeJS.CpuUsage | undefined;
  let relayed = 0;
  let finish: () => void = () => undefined;
  // SYNC: frames written since the running fdatasync began wait for the next one.
  let syncing = false;
  let waiting: Buffer[] = [];
  /** Acknowledges and forwards stored frames, given as they were written: [length prefix, frame, ...]. */
  const release = (stored: Buffer[]): void => {
    producerSocket!.cork();
    consumerSocket!.cork();
    for (let i = 0; i < stored.length; i += 2) {
      const count = stored[i + 1].readUInt32BE(0);
      producerSocket!.write(ack(count));
      consumerSocket!.write(stored[i]);
      consumerSocket!.write(stored[i + 1]);
      relayed += count;
    }
    producerSocket!.uncork();
    consumerSocket!.uncork();
    // Done once the last message has left the consumer socket's buffer.
    if (relayed >= job.messages) consumerSocket!.end(finish);
  };
  const sync = (): void => {
    if (syncing || waiting.length === 0) return;
    syncing = true;
    const group = waiting;
    waiting = [];
    fdatasync(fd, (err) => {
      if (err) throw err;
      syncing = false;
      release(group);
      sync();
    });
  };
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
    const consumerServer = net.createServer((socket) => {
      socket.setNoDelay(true);
      consumerSocket = socket;
      consumerServer.close();
    });
    const listening = (server: net.Server) => new Promise<number>((up) => server.listen(0, '127.0.0.1', () => up((server.address() as net.AddressInfo).port)));
    const producerServer = net.createServer((socket) => {
      socket.setNoDelay(true);
      producerSocket = socket;
      producerServer.close();
      cpu = process.cpuUsage();
      // A read's frames are written to the file in one call and answered in one write per socket.
      let frames: Buffer[] = [];
      const splitter = new FrameSplitter((frame) => {
        // The one thing a broker must do per message: find where it ends.
        const count = frame.readUInt32BE(0);
        let at = 4;
        for (let i = 0; i < count; i++) at += 4 + frame.readUInt32BE(at);
        const head = Buffer.allocUnsafe(4);
        head.writeUInt32BE(frame.length, 0);
        frames.push(head, frame);
      });
      socket.on('data', (chunk: Buffer) => {
        splitter.push(chunk);
        if (frames.length === 0) return;
        position += writevSync(fd, frames, position);
        const stored = frames;
        frames = [];
        if (job.flush === 'async' || inlineSync) release(stored);
        else {
          waiting.push(...stored);
          sync();
        }
      });
    });
    void Promise.all([listening(producerServer), listening(consumerServer)]).then(([producerPort, consumerPort]) =>
      process.send?.({ ready: true, ports: { producerPort, consumerPort } }),
    );
  });
  await finished;
  const used = cpuUs(cpu!);
  closeSync(fd);
  const endMs = Number(process.hrtime.bigint()) / 1e6;
  return { role: 'relay', endMs, cpuUs: used };
}

type Ports = Pick<Job, 'producerPort' | 'consumerPort'>;

/** Forks one role; `ready` and `result` both fail if it exits without giving them. */
function start(role: string, job: Job): { child: ChildProcess; ready: Promise<Ports>; result: Promise<RoleResult> } {
  const child = fork(FLOOR_ENTRY, [role, JSON.stringify(job)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = new Promise<Ports>((resolve, reject) => {
    child.on('message', (message: { ready?: boolean; ports?: Ports }) => message.ready && resolve(message.ports ?? {}));
    child.on('exit', (code) => reject(new Error(`floor ${role} exited with code ${code} before it was ready`)));
  });
  const result = new Promise<RoleResult>((resolve, reject) => {
    child.on('message', (message: { result?: RoleResult }) => message.result && resolve(message.result));
    child.on('exit', (code) => reject(new Error(`floor ${role} exited with code ${code} before its result`)));
  });
  // The producer never says it is ready; nobody waits for it.
  ready.catch(() => undefined);
  return { child, ready, result };
}

export interface FloorRun {
  type: 'floor';
  style: Style;
  flush: Flush;
  messages: number;
  produceRate: number;
  e2eRate: number;
  cpuUsPerMessage: { relay: number; producer: number; consumer: number; total: number };
  /** Latency style only. */
  latencyMs?: LatencySummary;
}

/**
 * `warmUpMessages` (latency style): sent first, at the same rate, and not timed; `messages` counts
 * them. The relay's file goes in a fresh directory under `dataRoot`.
 */
export async function runFloor(style: Style, flush: Flush, messages: number, warmUpMessages = 0, dataRoot = tmpdir()): Promise<FloorRun> {
  if (warmUpMessages >= messages) throw new RangeError(`warm-up of ${warmUpMessages} messages leaves none of ${messages} to time`);
  const dir = mkdtempSync(join(dataRoot, 'ferrymq-floor-'));
  let job: Job = { style, flush, messages, warmUpMessages: style === 'latency' ? warmUpMessages : 0, bodySize: 1024, dir };
  const children: ChildProcess[] = [];
  const launch = (role: string) => {
    const started = start(role, job);
    children.push(started.child);
    return started;
  };
  try {
    const relayed = launch('relay');
    job = { ...job, ...(await relayed.ready) };
    const consumed = launch('consumer');
    await consumed.ready;
    const produced = launch('producer');
    const [p, r, c] = await Promise.all([produced.result, relayed.result, consumed.result]);
    return {
      type: 'floor',
      style,
      flush,
      messages,
      produceRate: (messages * 1000) / (p.endMs - p.startMs!),
      e2eRate: (messages * 1000) / (Math.max(p.endMs, c.endMs) - p.startMs!),
      cpuUsPerMessage: {
        relay: r.cpuUs / messages,
        producer: p.cpuUs / messages,
        consumer: c.cpuUs / messages,
        total: (r.cpuUs + p.cpuUs + c.cpuUs) / messages,
      },
      ...(c.latencyMs && { latencyMs: c.latencyMs }),
    };
  } finally {
    // After a failure the others would wait forever.
    for (const child of children) if (child.exitCode === null) child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface FloorArgs {
  runs: number;
  messages: number;
  only?: Style;
  flush?: Flush;
  data?: string;
}

async function measure(args: FloorArgs): Promise<void> {
  const runs = parseInteger('--runs', args.runs, 1);
  const messages = parseInteger('--messages', args.messages, BATCH);
  const styles: Style[] = args.only ? [args.only] : ['batch', 'pipelined', 'latency'];
  const flushes: Flush[] = args.flush ? [args.flush] : ['sync', 'async'];
  const { root: dataRoot, warning } = benchDataRoot(args.data);
  const summary: string[] = warning ? [warning] : [];
  for (const flush of flushes) {
    for (const style of styles) {
      const results: FloorRun[] = [];
      for (let i = 0; i < runs; i++) {
        const run =
          style === 'latency'
            ? await runFloor(style, flush, LATENCY_RATE * (LATENCY_WARM_UP_SECONDS + LATENCY_SECONDS), LATENCY_RATE * LATENCY_WARM_UP_SECONDS, dataRoot)
            : await runFloor(style, flush, messages, 0, dataRoot);
        console.log(JSON.stringify(run));
        results.push(run);
      }
      const m = (pick: (r: FloorRun) => number) => spread(results.map(pick)).median;
      const rate = (value: number) => Math.round(value).toLocaleString('en-US').padStart(9);
      const cpu = `CPU µs/msg relay ${m((r) => r.cpuUsPerMessage.relay).toFixed(1)}, producer ${m((r) => r.cpuUsPerMessage.producer).toFixed(1)}, consumer ${m((r) => r.cpuUsPerMessage.consumer).toFixed(1)}, total ${m((r) => r.cpuUsPerMessage.total).toFixed(1)}`;
      if (style === 'latency') {
        const ms = (pick: (l: LatencySummary) => number) => m((r) => pick(r.latencyMs!)).toFixed(2);
        summary.push(`${flush.toUpperCase().padEnd(5)} ${LATENCY_RATE} msg/s latency p50 ${ms((l) => l.p50)} ms, p99 ${ms((l) => l.p99)}, p99.9 ${ms((l) => l.p999)}, max ${ms((l) => l.max)}; ${cpu}`);
        continue;
      }
      summary.push(
        `${flush.toUpperCase().padEnd(5)} ${style.padEnd(9)} produce ${rate(m((r) => r.produceRate))} msg/s, end-to-end ${rate(m((r) => r.e2eRate))} msg/s; ${cpu}`,
      );
    }
  }
  console.log(`\nFloor: bare Node relay over loopback, 1 KiB messages, medians of ${runs} run(s)`);
  for (const line of summary) console.log(`  ${line}`);
}

async function main(argv: string[]): Promise<void> {
  await runScript(
    yargs(argv)
      .scriptName('bench:floor')
      .command({
        command: '$0',
        describe: 'The floor under the headline workload: three bare Node processes moving 1 KiB messages',
        builder: (y) =>
          y
            .option('runs', { type: 'number', default: 3, describe: 'runs per case (the summary gives medians)' })
            .option('messages', { type: 'number', default: 200_000, describe: 'messages per run' })
            .option('only', { choices: ['batch', 'pipelined', 'latency'] as const, describe: 'one workload (latency: 5,000 msg/s for 10 s after a 2 s warm-up)' })
            .option('flush', { choices: ['sync', 'async'] as const, describe: 'one flush mode' })
            .option('data', { type: 'string', describe: "directory for the relay's file, a fresh subdirectory per run (default: the system temp dir)" }),
        handler: async (args) => measure(args as unknown as FloorArgs),
      }),
  );
}

if (process.argv[1] === FLOOR_ENTRY) {
  const role = process.argv[2];
  if (role === 'producer' || role === 'relay' || role === 'consumer') {
    const job = JSON.parse(process.argv[3]) as Job;
    const run = role === 'producer' ? producer : role === 'relay' ? relay : consumer;
    run(job).then(
      (result) => process.send?.({ result }, () => process.exit(0)),
      (err: unknown) => {
        process.stderr.write(`floor ${role}: ${(err as Error).stack ?? String(err)}\n`);
        process.exit(1);
      },
    );
  } else {
    main(hideBin(process.argv)).catch((err: unknown) => {
      process.stderr.write(`floor: ${(err as Error).message}\n`);
      process.exit(1);
    });
  }
}
