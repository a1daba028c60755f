/**
 * The benchmark consumer (runs in its own process, see child.ts): subscribes, prints `ready`, then records every delivery (sequence
 * number, receive-minus-send latency, timeline) until it has seen every sequence number (when the
 * job says so), `finish` arrives on stdin, or nothing arrived for `idleTimeoutMs`. It commits, then
 * prints one `result` line and exits.
 *
 * The FerryMQ SDK side uses the PullConsumer: it commits every `commitIntervalMs` and once more
 * after the last message, so "handled and committed" has an exact time. ali-ons commits on its own
 * schedule, so its committed time is the last handled time.
 */
import { PullConsumer } from '../client/index.js';
import { aliOns, aliOptions } from './ali-ons.js';
import {
  cpuSecondsSince,
  emit,
  LatencyRecorder,
  nowNs,
  onStdinLine,
  PauseMonitor,
  readStamp,
  SequenceTracker,
  TimelineRecorder,
  type ConsumerJob,
  type ConsumerResult,
} from './workload.js';

const PROGRESS_INTERVAL_MS = 100;
/** Before the first message, wait this long at most (the producer may still be starting). */
const FIRST_MESSAGE_TIMEOUT_MS = 120_000;

class Recorder {
  readonly tracker: SequenceTracker;
  readonly latency: LatencyRecorder | undefined;
  readonly warmUpLatency: LatencyRecorder | undefined;
  readonly timeline: TimelineRecorder;
  firstReceiveNs = 0;
  lastHandledNs = 0;
  lastNewNs = nowNs();
  private readonly cpuStart = process.cpuUsage();
  private readonly pauses = new PauseMonitor();

  constructor(private readonly job: ConsumerJob) {
    this.tracker = new SequenceTracker(job.sequenceSpace);
    this.latency = job.recordLatency ? new LatencyRecorder() : undefined;
    this.warmUpLatency = job.recordLatency && job.warmUpRanges.length > 0 ? new LatencyRecorder() : undefined;
    this.timeline = new TimelineRecorder(nowNs(), job.binMs);
  }

  record(bodies: readonly Buffer[]): void {
    const at = nowNs();
    if (this.firstReceiveNs === 0) this.firstReceiveNs = at;
    for (const body of bodies) {
      const { sentNs, seq } = readStamp(body);
      if (this.tracker.add(seq)) this.lastNewNs = at;
      (this.isWarmUp(seq) ? this.warmUpLatency : this.latency)?.add((at - sentNs) / 1e6);
    }
    this.timeline.add(at, bodies.length);
    this.lastHandledNs = at;
  }

  private isWarmUp(seq: number): boolean {
    for (const [start, end] of this.job.warmUpRanges) if (seq >= start && seq < end) return true;
    return false;
  }

  /** Why to stop now, if at all. */
  shouldStop(finishRequested: boolean): boolean {
    if (finishRequested) return true;
    if (this.job.finishWhenComplete && this.tracker.complete) return true;
    const idleMs = (nowNs() - this.lastNewNs) / 1e6;
    return idleMs > (this.firstReceiveNs === 0 ? FIRST_MESSAGE_TIMEOUT_MS : this.job.idleTimeoutMs);
  }

  result(committedNs: number): ConsumerResult {
    const t = this.tracker;
    return {
      type: 'result',
      deliveries: t.deliveries,
      unique: t.unique,
      duplicates: t.duplicates,
      seenBits: t.toBase64(),
      firstReceiveNs: this.firstReceiveNs,
      lastHandledNs: this.lastHandledNs,
      committedNs,
      timeline: this.timeline.snapshot(),
      cpuSeconds: cpuSecondsSince(this.cpuStart),
      latency: this.latency?.summary(),
      warmUpLatency: this.warmUpLatency?.summary(),
      pauses: this.pauses.stop(),
    };
  }
}

/**
 * Messages asked for per pull, as many as the producer sends per batch: with the SDK's default 32,
 * delivery (4 queues x 32 per pull round trip) fell behind the producer and set the end-to-end
 * figure (32k against 48k msg/s in alternating runs, SYNC). Apache RocketMQ answers at most 32 per
 * pull whatever is asked, so the client settings stay the same for both brokers.
 */
const PULL_BATCH_SIZE = 256;

async function runFerryMQ(job: ConsumerJob, recorder: Recorder, finishRequested: () => boolean): Promise<number> {
  const consumer = new PullConsumer({ nameServer: job.nameServer, group: job.group, consumeFromWhere: 'FIRST_OFFSET', autoCommit: false, pullSuspendMs: 1_000, pullBatchSize: PULL_BATCH_SIZE });
  await consumer.start();
  await consumer.subscribe(job.topic);
  emit({ type: 'ready' });
  let lastCommitNs = nowNs();
  // A periodic commit runs beside the polls: awaiting its round trip (and the broker's SQLite write)
  // here would leave the messages arriving meanwhile unpolled, and add that wait to their latency.
  let committing: Promise<void> | undefined;
  let commitError: unknown;
  while (!recorder.shouldStop(finishRequested())) {
    const msgs = await consumer.poll(100);
    if (msgs.length > 0) recorder.record(msgs.map((m) => m.body));
    if (commitError) throw commitError;
    if (!committing && (nowNs() - lastCommitNs) / 1e6 >= job.commitIntervalMs) {
      committing = consumer.commit().then(
        () => {
          committing = undefined;
        },
        (err: unknown) => {
          commitError = err;
        },
      );
      lastCommitNs = nowNs();
    }
  }
  await committing;
  if (commitError) throw commitError;
  await consumer.commit();
  const committedNs = nowNs();
  await consumer.shutdown();
  return committedNs;
}

async function runAliOns(job: ConsumerJob, recorder: Recorder, finishRequested: () => boolean): Promise<number> {
  const consumer = new (aliOns().Consumer)({ ...aliOptions(job.nameServer), consumerGroup: job.group, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
  consumer.on('error', () => undefined);
  consumer.subscribe(job.topic, '*', async (msg) => recorder.record([msg.body]));
  await consumer.ready();
  emit({ type: 'ready' });
  while (!recorder.shouldStop(finishRequested())) await new Promise((resolve) => setTimeout(resolve, 5));
  const committedNs = recorder.lastHandledNs;
  await consumer.close();
  return committedNs;
}

export async function runConsumer(job: ConsumerJob): Promise<void> {
  const recorder = new Recorder(job);
  let finish = false;
  onStdinLine((line) => {
    if (line === 'finish') finish = true;
  });
  const progress = setInterval(() => {
    const t = recorder.tracker;
    emit({ type: 'progress', deliveries: t.deliveries, unique: t.unique, seenBits: job.reportSeen ? t.toBase64() : undefined });
  }, PROGRESS_INTERVAL_MS);
  const committedNs = job.client === 'ali-ons' ? await runAliOns(job, recorder, () => finish) : await runFerryMQ(job, recorder, () => finish);
  clearInterval(progress);
  emit(recorder.result(committedNs));
}
