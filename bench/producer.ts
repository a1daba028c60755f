/**
 * The benchmark producer (runs in its own process, see child.ts): connects, fetches the route, prints `ready`, waits for `go` on
 * stdin, sends its messages in the job's style, then prints one `result` line and exits.
 */
import { Producer } from '../client/index.js';
import { aliOns, aliOptions } from './ali-ons.js';
import { cpuSecondsSince, emit, LatencyRecorder, nowNs, onStdinLine, PauseMonitor, runWindowed, SequenceTracker, stampBody, TimelineRecorder, type LatencySummary, type ProducerJob, type ProducerResult } from './workload.js';

interface Sender {
  /** Sends messages seq..seq+count-1 as one request (count > 1 only for batch-capable clients). */
  send(seq: number, count: number): Promise<unknown>;
  close(): Promise<void>;
}

async function ferrymqSender(job: ProducerJob): Promise<Sender> {
  const producer = new Producer({ nameServer: job.nameServer, group: `bench_pg_${process.pid}` });
  await producer.start();
  await producer.publishQueues(job.topic);
  return {
    // Not async: the SDK's promise is returned as it is, so the harness adds no promise of its own per send.
    send(seq, count) {
      if (count === 1) return producer.send({ topic: job.topic, body: stampBody(job.bodySize, seq) });
      const msgs = [];
      const sentNs = nowNs();
      for (let i = 0; i < count; i++) msgs.push({ topic: job.topic, body: stampBody(job.bodySize, seq + i, sentNs) });
      return producer.sendBatch(msgs);
    },
    close: () => producer.shutdown(),
  };
}

async function aliOnsSender(job: ProducerJob): Promise<Sender> {
  const { Producer, Message } = aliOns();
  const producer = new Producer({ ...aliOptions(job.nameServer), producerGroup: `bench_pg_${process.pid}` });
  producer.on('error', () => undefined);
  await producer.ready();
  return {
    async send(seq, count) {
      if (count !== 1) throw new Error('ali-ons has no batch send');
      const result = await producer.send(new Message(job.topic, 'bench', stampBody(job.bodySize, seq)));
      if (result.sendStatus !== 'SEND_OK') throw new Error(`ali-ons send status ${result.sendStatus}`);
    },
    close: () => producer.close(),
  };
}

export async function runProducer(job: ProducerJob): Promise<void> {
  const sender = job.client === 'ali-ons' ? await aliOnsSender(job) : await ferrymqSender(job);
  await new Promise<void>((resolve) => {
    onStdinLine((line) => line === 'go' && resolve());
    emit({ type: 'ready' });
  });

  const cpuStart = process.cpuUsage();
  const pauses = new PauseMonitor();
  const startNs = nowNs();
  const timeline = new TimelineRecorder(startNs, job.binMs);
  let sent = 0;
  let confirmed = 0;
  let failed = 0;
  let lastConfirmNs = startNs;
  let firstError: string | undefined;
  const confirmedSeqs = new SequenceTracker(job.sequenceSpace);
  const sendCounted = async (seq: number, count: number) => {
    sent += count;
    try {
      await sender.send(job.seqStart + seq, count);
      lastConfirmNs = nowNs();
      confirmed += count;
      for (let i = 0; i < count; i++) confirmedSeqs.add(job.seqStart + seq + i);
      timeline.add(lastConfirmNs, count);
    } catch (err) {
      failed += count;
      firstError ??= (err as Error).message;
    }
  };

  let ackLatency: LatencySummary | undefined;
  if (job.style === 'batch') {
    const batches = Math.ceil(job.messages / job.batchSize);
    await runWindowed(batches, job.window, (b) => sendCounted(b * job.batchSize, Math.min(job.batchSize, job.messages - b * job.batchSize)));
  } else if (job.style === 'pipelined') {
    await runWindowed(job.messages, job.window, (i) => sendCounted(i, 1));
  } else {
    const acks = new LatencyRecorder();
    await sendAtRate(job, startNs, async (seq, count) => {
      const at = nowNs();
      await sendCounted(seq, count);
      if (seq >= job.warmUpMessages) acks.add((nowNs() - at) / 1e6);
    });
    ackLatency = acks.summary();
  }

  const result: ProducerResult = { type: 'result', sent, confirmed, failed, firstSendNs: startNs, lastConfirmNs, timeline: timeline.snapshot(), confirmedBits: confirmedSeqs.toBase64(), cpuSeconds: cpuSecondsSince(cpuStart), ackLatency, pauses: pauses.stop(), firstError };
  emit(result);
  await sender.close().catch(() => undefined);
}

/** Per-message sends on a 1 ms tick, each tick sending what the fixed rate says is due by now. */
async function sendAtRate(job: ProducerJob, startNs: number, send: (seq: number, count: number) => Promise<void>): Promise<void> {
  const inFlight = new Set<Promise<void>>();
  let next = 0;
  while (next < job.messages) {
    const due = Math.min(job.messages, Math.floor(((nowNs() - startNs) / 1e9) * job.ratePerSec) + 1);
    while (next < due) {
      const p = send(next++, 1).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(inFlight);
}
