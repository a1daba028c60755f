/**
 * `ferrymq bench`: the benchmarks of bench/ (issue #10). Starts its own brokers (FerryMQ, and
 * Apache RocketMQ through the Java test kit when `--brokers` names it), producer and consumer
 * processes; prints JSON lines on stdout and a summary on stderr, and writes the JSON lines and an
 * SVG chart into `--out`. `npm run bench` runs the same command.
 */
import type { Argv, CommandModule } from 'yargs';
import { hideClientOptions, parseInteger } from './args.js';
import { BenchSetupError, DEFAULT_BENCH_OPTIONS, HEADLINE_PHASES, runBench, summarizeResultsFile, type BenchOptions, type HeadlinePhase } from '../bench/run.js';
import { OTHER_SCENARIOS } from '../bench/scenarios.js';
import type { BrokerKind, FlushMode } from '../bench/targets.js';
import { ExitCode } from './run.js';

export interface BenchArgs {
  brokers: string[];
  flush: string[];
  runs: number;
  messages: number;
  'body-size': number;
  queues: number;
  'batch-size': number;
  'batch-window': number;
  pipeline: number;
  'latency-rate': number;
  'latency-seconds': number;
  'latency-warmup-seconds': number;
  scenarios: string[];
  phases: string[];
  scale: number;
  'rocketmq-heap'?: string;
  data?: string;
  'broker-config'?: string;
  profile: boolean;
  'from-source': boolean;
  out: string;
  summarize?: string;
}

const SCENARIO_NAMES = ['headline', ...Object.keys(OTHER_SCENARIOS)];
const d = DEFAULT_BENCH_OPTIONS;

/** Command-line arguments to bench options; throws on a bad value. */
export function benchOptionsOf(argv: BenchArgs): BenchOptions {
  const flush = argv.flush.map((f): FlushMode => {
    if (f === 'sync') return 'SYNC_FLUSH';
    if (f === 'async') return 'ASYNC_FLUSH';
    throw new Error(`--flush takes sync and/or async, got ${f}`);
  });
  const brokers = argv.brokers.map((b): BrokerKind => {
    if (b === 'ferrymq' || b === 'rocketmq') return b;
    throw new Error(`--brokers takes ferrymq and/or rocketmq, got ${b}`);
  });
  const scenarios = argv.scenarios.includes('all') ? SCENARIO_NAMES : argv.scenarios;
  for (const s of scenarios) if (!SCENARIO_NAMES.includes(s)) throw new Error(`unknown scenario ${s} (known: ${SCENARIO_NAMES.join(', ')}, all)`);
  const phases = argv.phases.map((p): HeadlinePhase => {
    if ((HEADLINE_PHASES as readonly string[]).includes(p)) return p as HeadlinePhase;
    throw new Error(`--phases takes ${HEADLINE_PHASES.join(', ')}, got ${p}`);
  });
  if (!(argv.scale > 0)) throw new Error(`--scale must be > 0, got ${argv.scale}`);
  if (argv['body-size'] < 12) throw new Error(`--body-size must be at least 12 (send time and sequence number), got ${argv['body-size']}`);
  return {
    brokers,
    flush,
    runs: parseInteger('--runs', argv.runs, 1),
    messages: parseInteger('--messages', argv.messages, 1),
    bodySize: parseInteger('--body-size', argv['body-size'], 1),
    queues: parseInteger('--queues', argv.queues, 1),
    batchSize: parseInteger('--batch-size', argv['batch-size'], 1),
    batchWindow: parseInteger('--batch-window', argv['batch-window'], 1),
    pipeline: parseInteger('--pipeline', argv.pipeline, 1),
    latencyRate: parseInteger('--latency-rate', argv['latency-rate'], 1),
    latencySeconds: parseInteger('--latency-seconds', argv['latency-seconds'], 1),
    latencyWarmUpSeconds: parseInteger('--latency-warmup-seconds', argv['latency-warmup-seconds'], 0),
    scenarios,
    phases,
    scale: argv.scale,
    rocketmqHeap: argv['rocketmq-heap'],
    dataDir: argv.data,
    brokerConfig: argv['broker-config'],
    profile: argv.profile,
    fromSource: argv['from-source'],
    out: argv.out,
    binMs: d.binMs,
  };
}

export const benchCommand: CommandModule<object, BenchArgs> = {
  command: 'bench',
  describe: 'Benchmark FerryMQ (and Apache RocketMQ side by side): throughput, latency, RSS; JSON lines + SVG chart',
  builder: (yargs: Argv<object>) =>
    hideClientOptions(yargs)
      .option('brokers', { type: 'array', string: true, default: d.brokers, describe: 'brokers to run: ferrymq, rocketmq (needs java and mvn)' })
      .option('flush', { type: 'array', string: true, default: ['sync', 'async'], describe: 'flush modes: sync, async' })
      .option('runs', { type: 'number', default: d.runs, describe: 'headline runs per broker and flush mode (medians, min, max)' })
      .option('messages', { type: 'number', default: d.messages, describe: 'N for the throughput workloads' })
      .option('body-size', { type: 'number', default: d.bodySize, describe: 'message body bytes' })
      .option('queues', { type: 'number', default: d.queues, describe: 'queues of the headline topic' })
      .option('batch-size', { type: 'number', default: d.batchSize, describe: 'messages per batch send (code 320)' })
      .option('batch-window', { type: 'number', default: d.batchWindow, describe: 'unconfirmed batches at most' })
      .option('pipeline', { type: 'number', default: d.pipeline, describe: 'outstanding per-message sends' })
      .option('latency-rate', { type: 'number', default: d.latencyRate, describe: 'msg/s of the latency workload' })
      .option('latency-seconds', { type: 'number', default: d.latencySeconds, describe: 'duration of the latency workload' })
      .option('latency-warmup-seconds', { type: 'number', default: d.latencyWarmUpSeconds, describe: 'seconds at the latency rate sent first and not counted (0 = none)' })
      .option('scenarios', { type: 'array', string: true, default: d.scenarios, describe: `what to run: ${SCENARIO_NAMES.join(', ')}, or all` })
      .option('phases', { type: 'array', string: true, default: d.phases, describe: `headline workloads to run: ${HEADLINE_PHASES.join(', ')}` })
      .option('scale', { type: 'number', default: d.scale, describe: 'multiplies the message counts of the other scenarios' })
      .option('rocketmq-heap', { type: 'string', describe: 'RocketMQ broker -Xms/-Xmx (default 512m)' })
      .option('broker-config', { type: 'string', describe: "JSON config file for the FerryMQ brokers it starts (as ferrymq start --config); port, data dir and flush mode stay the bench's" })
      .option('data', { type: 'string', describe: 'directory the brokers keep their data in, a fresh subdirectory per start (default: the system temp dir); use the disk you deploy on' })
      .option('profile', { type: 'boolean', default: false, describe: 'profile FerryMQ (broker, producer, consumer) with --cpu-prof and print the top frames' })
      .option('from-source', { type: 'boolean', default: false, describe: 'run broker, producer and consumer through tsx instead of compiling them with tsc first' })
      .option('summarize', { type: 'string', describe: 'only print the summary (and markdown) of an earlier .jsonl results file' })
      .option('out', { type: 'string', default: d.out, describe: 'directory for the .jsonl results and the .svg chart' }) as unknown as Argv<BenchArgs>,
  handler: async (argv) => {
    if (argv.summarize) {
      const { text, markdown } = summarizeResultsFile(argv.summarize);
      process.stdout.write(`${text}\n${markdown}\n`);
      return;
    }
    let options: BenchOptions;
    try {
      options = benchOptionsOf(argv);
    } catch (err) {
      process.stderr.write(`ferrymq bench: ${(err as Error).message}\n`);
      process.exitCode = ExitCode.BAD_ARGUMENT;
      return;
    }
    try {
      await runBench(options);
    } catch (err) {
      // A missing tool is the user's to fix, not a bug: its message is enough.
      const text = err instanceof BenchSetupError ? err.message : ((err as Error).stack ?? String(err));
      process.stderr.write(`ferrymq bench: ${text}\n`);
      process.exitCode = ExitCode.FAILURE;
    }
  },
};
