/** `ferrymq send`: produce one or many messages through the SDK's Producer. */
import { readFileSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { Producer, type SendResult } from '../client/index.js';
import { checkName, parseInteger, UsageError } from './args.js';
import { printJson, printTable, Progress } from './output.js';
import { brokerOf, runCommand, type GlobalArgs } from './run.js';
import { requireTopicExists } from './topic.js';
import { AdminClient } from '../client/admin.js';

type SendArgs = GlobalArgs & {
  topic: string;
  tag?: string;
  key?: string | string[];
  delayLevel?: number;
  count: number;
  size?: number;
  body?: string;
  group: string;
  json: boolean;
};

/** Sends in flight at once for --count. */
const SEND_WINDOW = 32;
/** Largest --size: the broker's default maxMessageSize. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

function bodyOf(argv: SendArgs): Buffer {
  if (argv.body !== undefined && argv.size !== undefined) throw new UsageError('give a body or --size, not both');
  // yargs hands a lone `-` positional over as ''.
  if (argv.body === '-' || (argv.body === '' && process.argv.includes('-'))) return readFileSync(0);
  if (argv.body !== undefined) return Buffer.from(argv.body, 'utf8');
  if (argv.size === undefined) throw new UsageError('give a body (text, or - for stdin) or --size <bytes>');
  const size = parseInteger('--size', argv.size, 0, MAX_BODY_BYTES);
  return Buffer.alloc(size, 'ferrymq ');
}

export const sendCommand: CommandModule<GlobalArgs, SendArgs> = {
  command: 'send [body]',
  describe: 'Send messages to a topic',
  builder: (y) =>
    y
      .positional('body', { type: 'string', describe: 'message body; - reads it from stdin' })
      .option('topic', { type: 'string', demandOption: true, describe: 'topic (must exist)' })
      .option('tag', { type: 'string', describe: 'tag consumers can filter on' })
      .option('key', { type: 'string', describe: 'business key, for `message query` (repeat for more)' })
      .option('delay-level', { type: 'number', describe: 'deliver later: level 1..18 (1s 5s 10s 30s 1m 2m … 2h)' })
      .option('count', { type: 'number', default: 1, describe: 'send the message this many times' })
      .option('size', { type: 'number', describe: 'instead of a body: a generated body of this many bytes' })
      .option('group', { type: 'string', default: 'ferrymq-cli', describe: 'producer group' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON' })
      .example('$0 send --topic T --tag A --key order-1 "hello"', 'one message')
      .example('$0 send --topic T --count 1000 --size 512', 'a thousand 512-byte messages') as unknown as Argv<SendArgs>,
  handler: (argv) =>
    runCommand(
      'send',
      async () => {
        const address = brokerOf(argv);
        const count = parseInteger('--count', argv.count, 1, 10_000_000);
        const delayLevel = argv.delayLevel === undefined ? undefined : parseInteger('--delay-level', argv.delayLevel, 1, 18);
        checkName('--topic', argv.topic);
        checkName('--group', argv.group);
        const body = bodyOf(argv);
        const keys = argv.key === undefined ? undefined : [argv.key].flat();
        const admin = new AdminClient({ address, requestTimeoutMs: argv.timeout });
        try {
          await requireTopicExists(admin, argv.topic);
        } finally {
          admin.close();
        }
        const producer = new Producer({ nameServer: address, group: argv.group, requestTimeoutMs: argv.timeout, sendTimeoutMs: argv.timeout });
        await producer.start();
        const results: SendResult[] = new Array<SendResult>(count);
        const progress = new Progress(count, 'sent');
        let next = 0;
        let done = 0;
        try {
          const worker = async () => {
            while (next < count) {
              const i = next++;
              results[i] = await producer.send({ topic: argv.topic, body, tags: argv.tag, keys: keys, delayLevel });
              progress.update(++done);
            }
          };
          await Promise.all(Array.from({ length: Math.min(SEND_WINDOW, count) }, worker));
        } finally {
          progress.finish();
          await producer.shutdown();
        }
        const rows = results.map((r) => ({ msgId: r.msgId, queueId: r.queue.queueId, queueOffset: r.queueOffset, status: r.status }));
        if (argv.json) printJson(rows);
        else if (count <= 5) printTable(rows, ['msgId', 'queueId', 'queueOffset', 'status']);
        else process.stdout.write(`${count} messages sent to ${argv.topic}\n`);
      },
      argv.broker,
    ),
};
