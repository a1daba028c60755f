/**
 * What the benchmark processes share: the body layout, the jobs the orchestrator hands to its
 * producer and consumer children, and the line protocol between them.
 *
 * Body layout (every benchmark message, big-endian):
 *   0..8    int64   send time, process.hrtime.bigint() in ns. On Linux that is CLOCK_MONOTONIC, one
 *                   clock for every process on the machine, so the consumer can subtract it.
 *   8..12   uint32  sequence number within the run, 0..N-1 (loss and duplicate accounting)
 *   12..    filler  up to the body size
 *
 * Child protocol: the job is argv[2] as JSON. A child writes JSON lines on stdout
 * (`ready`, `progress`, `result`) and reads command lines on stdin (`go` for producers, `finish`
 * for consumers).
 */

import { constants as perfConstants, monitorEventLoopDelay, PerformanceObserver, type IntervalHistogram } from 'node:perf_hooks';
import { putInt32, putInt64 } from '../protocol/int-codec.js';
import { readInt64 } from '../protocol/message-id.js';

export const BODY_HEADER_BYTES = 12;

export type ClientKind = 'ferrymq' | 'ali-ons';
/** `batch`: code-320 requests of `batchSize`; `pipelined`: per-message sends, `window` outstanding; `rate`: per-message sends at a fixed rate. */
export type SendStyle = 'batch' | 'pipelined' | 'rate';

export interface ProducerJob {
  client: ClientKind;
  nameServer: string;
  topic: string;
  style: SendStyle;
  messages: number;
  bodySize: number;
  /** First sequence number (several producers split one sequence space). */
  seqStart: number;
  /** Size of the whole sequence space (all producers), for the bit set of confirmed numbers. */
  sequenceSpace: number;
  batchSize: number;
  /** Outstanding batches (batch) or outstanding sends (pipelined). */
  window: number;
  /** Messages per second for the `rate` style. */
  ratePerSec: number;
  /** `rate` style: the first this many of `messages` warm the processes up; their acknowledgements are not timed. */
  warmUpMessages: number;
  /** Throughput timeline bin. */
  binMs: number;
}

export interface ConsumerJob {
  client: ClientKind;
  nameServer: string;
  topic: string;
  group: string;
  /** Size of the sequence space (all producers). */
  sequenceSpace: number;
  /** Finish by itself once every sequence number was seen (single-consumer runs). */
  finishWhenComplete: boolean;
  /** Put the seen bit set in every progress line (several consumers: the orchestrator merges them). */
  reportSeen: boolean;
  /** Keep every receive-minus-send latency. */
  recordLatency: boolean;
  /** Sequence ranges [start, end) sent to warm up: their latencies are kept apart (`warmUpLatency`). */
  warmUpRanges: [number, number][];
  /** Give up after this long without a new message once the first arrived. */
  idleTimeoutMs: number;
  /** Offsets are committed this often while consuming, and once at the end. */
  commitIntervalMs: number;
  binMs: number;
}

export interface Timeline {
  /** hrtime ns of bin 0's start. */
  startNs: number;
  binMs: number;
  counts: number[];
}

export interface ProducerResult {
  type: 'result';
  sent: number;
  confirmed: number;
  failed: number;
  firstSendNs: number;
  lastConfirmNs: number;
  timeline: Timeline;
  /** Bit set of the sequence numbers the broker confirmed (base64). */
  confirmedBits: string;
  /** CPU time of this process from `go` to the last confirm, in seconds. */
  cpuSeconds: number;
  /** `rate` style: send to broker confirmation per message, warm-up excluded (the store path; the rest of the end-to-end latency is delivery). */
  ackLatency?: LatencySummary;
  pauses: PauseSummary;
  firstError?: string;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  /** [latency ms, cumulative fraction] points for the CDF chart. */
  cdf: [number, number][];
}

export interface ConsumerResult {
  type: 'result';
  deliveries: number;
  unique: number;
  duplicates: number;
  /** Bit i set = sequence number i was received (base64), merged by the orchestrator over consumers. */
  seenBits: string;
  firstReceiveNs: number;
  lastHandledNs: number;
  /** When the commit covering the last handled message was acknowledged. */
  committedNs: number;
  timeline: Timeline;
  /** CPU time of this process from `ready` to the final commit, in seconds. */
  cpuSeconds: number;
  latency?: LatencySummary;
  /** Latencies of the warm-up messages, not counted in `latency`. */
  warmUpLatency?: LatencySummary;
  pauses: PauseSummary;
}

export interface ProgressLine {
  type: 'progress';
  deliveries: number;
  unique: number;
  seenBits?: string;
}

export type ChildLine = { type: 'ready' } | ProgressLine | ProducerResult | ConsumerResult;

/** Where a client process stood still: its GC pauses and how late its event loop ran a timer. */
export interface PauseSummary {
  gcCount: number;
  gcTotalMs: number;
  gcMaxMs: number;
  /** Full (mark-compact) collections among them, and the longest of those. */
  gcMajorCount: number;
  gcMajorMaxMs: number;
  /** How late a 10 ms timer ran: stalls of this process (GC, long callbacks, or waiting for a core). */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

const LOOP_RESOLUTION_MS = 10;

/** Watches this process's GC pauses and event-loop delay from construction until `stop()`. */
export class PauseMonitor {
  private readonly loop: IntervalHistogram = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  private readonly gc: PerformanceObserver;
  private gcCount = 0;
  private gcTotalMs = 0;
  private gcMaxMs = 0;
  private gcMajorCount = 0;
  private gcMajorMaxMs = 0;

  constructor() {
    this.loop.enable();
    this.gc = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        this.gcCount += 1;
        this.gcTotalMs += entry.duration;
        this.gcMaxMs = Math.max(this.gcMaxMs, entry.duration);
        if ((entry as unknown as { detail?: { kind?: number } }).detail?.kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) {
          this.gcMajorCount += 1;
          this.gcMajorMaxMs = Math.max(this.gcMajorMaxMs, entry.duration);
        }
      }
    });
    this.gc.observe({ entryTypes: ['gc'] });
  }

  stop(): PauseSummary {
    this.loop.disable();
    this.gc.disconnect();
    // The histogram holds whole timer intervals (an idle loop reads 10.1 ms): keep the lateness.
    const late = (ns: number) => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS);
    return {
      gcCount: this.gcCount,
      gcTotalMs: this.gcTotalMs,
      gcMaxMs: this.gcMaxMs,
      gcMajorCount: this.gcMajorCount,
      gcMajorMaxMs: this.gcMajorMaxMs,
      loopDelayP99Ms: late(this.loop.percentile(99)),
      loopDelayMaxMs: late(this.loop.max),
    };
  }
}

/** CPU time (user + system) this process used since `since` (a process.cpuUsage() value), in seconds. */
export function cpuSecondsSince(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

/** The monotonic clock shared by all processes of the machine (CLOCK_MONOTONIC on Linux). */
export function nowNs(): number {
  return Number(process.hrtime.bigint());
}

let filler = Buffer.alloc(0);

/**
 * A body of `size` bytes (at least the 12-byte header) stamped with `seq` and `sentNs` (default now;
 * a batch passes one time for all its bodies, as they are sent together).
 */
export function stampBody(size: number, seq: number, sentNs = nowNs()): Buffer {
  const length = Math.max(size, BODY_HEADER_BYTES);
  if (filler.length < length) filler = Buffer.alloc(length, 0x61);
  // allocUnsafe takes small bodies from Node's pool; every byte is then overwritten.
  const body = Buffer.allocUnsafe(length);
  filler.copy(body, BODY_HEADER_BYTES, BODY_HEADER_BYTES, length);
  // Plain number stores: writeBigInt64BE's BigInt arithmetic cost more than the rest of the stamp.
  putInt64(body, 0, sentNs);
  putInt32(body, 8, seq);
  return body;
}

export function readStamp(body: Buffer): { sentNs: number; seq: number } {
  if (body.length < BODY_HEADER_BYTES) throw new Error(`benchmark body too short (${body.length} bytes)`);
  return { sentNs: readInt64(body, 0), seq: body.readUInt32BE(8) };
}

/** Counts events per fixed-width time bin. */
export class TimelineRecorder {
  private readonly counts: number[] = [];
  private readonly binNs: number;

  constructor(
    private readonly startNs: number,
    private readonly binMs: number,
  ) {
    this.binNs = binMs * 1e6;
  }

  add(atNs: number, n = 1): void {
    const bin = Math.max(0, Math.floor((atNs - this.startNs) / this.binNs));
    while (this.counts.length <= bin) this.counts.push(0);
    this.counts[bin]! += n;
  }

  snapshot(): Timeline {
    return { startNs: this.startNs, binMs: this.binMs, counts: [...this.counts] };
  }
}

/** Which sequence numbers arrived: unique count, duplicates, and a bit set to merge over consumers. */
export class SequenceTracker {
  private readonly bits: Uint8Array;
  unique = 0;
  duplicates = 0;
  deliveries = 0;

  constructor(readonly space: number) {
    this.bits = new Uint8Array(Math.ceil(space / 8));
  }

  /** Records a delivery; returns false for a duplicate or an out-of-range number. */
  add(seq: number): boolean {
    this.deliveries++;
    if (seq >= this.space) {
      this.duplicates++;
      return false;
    }
    const mask = 1 << (seq & 7);
    const byte = seq >>> 3;
    if (this.bits[byte]! & mask) {
      this.duplicates++;
      return false;
    }
    this.bits[byte]! |= mask;
    this.unique++;
    return true;
  }

  get complete(): boolean {
    return this.unique === this.space;
  }

  toBase64(): string {
    return Buffer.from(this.bits).toString('base64');
  }

  /** Unique sequence numbers over several consumers' bit sets. */
  static unionCount(space: number, encoded: readonly string[]): number {
    const union = SequenceTracker.union(space, encoded);
    let count = 0;
    for (let i = 0; i < space; i++) if (union[i >>> 3]! & (1 << (i & 7))) count++;
    return count;
  }

  /** Numbers set in some of `encoded` and in none of `minus` (acknowledged but never delivered). */
  static differenceCount(space: number, encoded: readonly string[], minus: readonly string[]): number {
    const a = SequenceTracker.union(space, encoded);
    const b = SequenceTracker.union(space, minus);
    let count = 0;
    for (let i = 0; i < space; i++) {
      const mask = 1 << (i & 7);
      if (a[i >>> 3]! & mask && !(b[i >>> 3]! & mask)) count++;
    }
    return count;
  }

  private static union(space: number, encoded: readonly string[]): Uint8Array {
    const union = new Uint8Array(Math.ceil(space / 8));
    for (const text of encoded) {
      const bits = Buffer.from(text, 'base64');
      for (let i = 0; i < union.length && i < bits.length; i++) union[i]! |= bits[i]!;
    }
    return union;
  }
}

/** Latencies in ms, kept in a growable Float64Array (10 s at 5k/s is 50,000 values). */
export class LatencyRecorder {
  private values = new Float64Array(65_536);
  private length = 0;

  add(ms: number): void {
    if (this.length === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = ms;
  }

  summary(): LatencySummary {
    const sorted = this.values.slice(0, this.length).sort();
    return { count: sorted.length, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), p999: quantile(sorted, 0.999), max: sorted.length ? sorted[sorted.length - 1]! : 0, cdf: cdfPoints(sorted) };
  }
}

/** Nearest-rank quantile of ascending values (0 for none). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1]!;
}

/** About 120 CDF points, denser in the tail (fractions 1 - 10^-k), always ending at the max. */
export function cdfPoints(sorted: ArrayLike<number>): [number, number][] {
  if (sorted.length === 0) return [];
  const fractions: number[] = [];
  for (let i = 1; i <= 90; i++) fractions.push(i / 100);
  for (const f of [0.91, 0.92, 0.93, 0.94, 0.95, 0.96, 0.97, 0.98, 0.99, 0.995, 0.999, 0.9995, 0.9999]) fractions.push(f);
  fractions.push(1);
  return fractions.map((f) => [quantile(sorted, f), f]);
}

/** Runs `task(i)` for i in [0, count) with at most `window` running at once, in order of start. */
export async function runWindowed(count: number, window: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(window, count) }, lane));
}

/** Reads newline-separated commands from stdin. */
export function onStdinLine(handler: (line: string) => void): void {
  let pending = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      handler(pending.slice(0, nl).trim());
      pending = pending.slice(nl + 1);
    }
  });
}

export function emit(line: ChildLine): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/**
 * Exits once everything written to stdout is out: a pipe takes writes asynchronously, and
 * `process.exit` drops what is still queued (a 10M-message result line, with its bitmap of
 * confirmed sequences, is over 1 MiB and was cut short that way). An empty write's callback runs
 * after every earlier write has been handed to the pipe.
 */
export function exitWhenFlushed(code: number): void {
  process.stdout.write('', () => process.exit(code));
}
