/**
 * `ferrymq consume`: a push consumer that prints what it receives, in clustering (the group shares
 * the queues, offsets on the broker) or broadcasting mode (every consumer gets everything, offsets
 * in a local file). Stops on Ctrl-C, after --max messages, or after --idle-ms without a message.
 */
import type { Argv, CommandModule } from 'yargs';
import { AdminClient } from '../client/admin.js';
import { ConsumeStatus, PushConsumer, type ConsumeFromWhere, type ReceivedMessage } from '../client/index.js';
import { parseTagExpression } from '../protocol/tag-filter.js';
import { checkName, parseInteger, requireTime, UsageError } from './args.js';
import { bodyText, formatTime } from './output.js';
import { brokerOf, runCommand, type GlobalArgs } from './run.js';
import { requireTopicExists } from './topic.js';

type ConsumeArgs = GlobalArgs & {
  topic: string;
  group: string;
  broadcast: boolean;
  tag: string;
  from: string;
  max?: number;
  idleMs?: number;
  offsetDir?: string;
  reject: boolean;
  maxReconsumeTimes?: number;
  json: boolean;
};

function startOf(from: string): { consumeFromWhere: ConsumeFromWhere; consumeTimestamp?: number } {
  if (from === 'first') return { consumeFromWhere: 'FIRST_OFFSET' };
  if (from === 'last') return { consumeFromWhere: 'LAST_OFFSET' };
  return { consumeFromWhere: 'TIMESTAMP', consumeTimestamp: requireTime('--from', from) };
}

function printMessage(msg: ReceivedMessage, json: boolean): void {
  if (json) {
    // Field by field: received messages compute some fields on first read, so a spread would miss them.
    const line = {
      topic: msg.topic,
      tags: msg.tags,
      keys: msg.keys,
      properties: msg.properties,
      msgId: msg.msgId,
      uniqKey: msg.uniqKey,
      originMessageId: msg.originMessageId,
      queueOffset: msg.queueOffset,
      commitLogOffset: msg.commitLogOffset,
      reconsumeTimes: msg.reconsumeTimes,
      bornTimestamp: msg.bornTimestamp,
      storeTimestamp: msg.storeTimestamp,
      flag: msg.flag,
      sysFlag: msg.sysFlag,
      queueId: msg.queue.queueId,
      queueTopic: msg.queue.topic,
      body: bodyText(msg.body),
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
    return;
  }
  const tags = msg.tags ? ` tags=${msg.tags}` : '';
  const keys = msg.keys.length > 0 ? ` keys=${msg.keys.join(',')}` : '';
  const retry = msg.reconsumeTimes > 0 ? ` reconsumeTimes=${msg.reconsumeTimes}` : '';
  // A redelivery comes from the group's %RETRY% queue; its original topic is shown beside it.
  const origin = msg.queue.topic === msg.topic ? '' : ` topic=${msg.topic}`;
  process.stdout.write(`${formatTime(msg.storeTimestamp)} ${msg.queue.topic}/${msg.queue.queueId}@${msg.queueOffset} ${msg.msgId}${origin}${tags}${keys}${retry} ${bodyText(msg.body, 200)}\n`);
}

export const consumeCommand: CommandModule<GlobalArgs, ConsumeArgs> = {
  command: 'consume',
  describe: 'Consume a topic as a group member and print each message',
  builder: (y) =>
    y
      .option('topic', { type: 'string', demandOption: true, describe: 'topic (must exist)' })
      .option('group', { type: 'string', demandOption: true, describe: 'consumer group' })
      .option('broadcast', { type: 'boolean', default: false, describe: 'broadcasting: every member gets every message (offsets in --offset-dir)' })
      .option('tag', { type: 'string', default: '*', describe: 'tag filter: *, TagA, or "TagA || TagB"' })
      .option('from', {
        type: 'string',
        default: 'last',
        describe: 'where a group with no committed offset starts: first | last | <time>',
      })
      .option('max', { type: 'number', describe: 'exit after this many messages' })
      .option('idle-ms', { type: 'number', describe: 'exit after this long without a message' })
      .option('reject', { type: 'boolean', default: false, describe: 'fail every message (it comes back as a retry, then goes to the dead-letter queue)' })
      .option('max-reconsume-times', { type: 'number', describe: 'failed deliveries before the dead-letter queue (default 16)' })
      .option('offset-dir', { type: 'string', describe: 'broadcasting: directory of the offset file (default ~/.ferrymq/offsets)' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON object per message' })
      .example('$0 consume --topic T --group G --from first --max 10', 'read ten messages as group G')
      .example('$0 consume --topic T --group G --broadcast --tag "A || B"', 'every A or B message, in broadcast mode') as unknown as Argv<ConsumeArgs>,
  handler: (argv) =>
    runCommand(
      'consume',
      async () => {
        const address = brokerOf(argv);
        const group = checkName('--group', argv.group);
        const max = argv.max === undefined ? undefined : parseInteger('--max', argv.max, 1);
        const idleMs = argv.idleMs === undefined ? undefined : parseInteger('--idle-ms', argv.idleMs, 1);
        const start = startOf(argv.from);
        const maxReconsumeTimes = argv.maxReconsumeTimes === undefined ? undefined : parseInteger('--max-reconsume-times', argv.maxReconsumeTimes, 0, 16);
        try {
          parseTagExpression(argv.tag);
        } catch (err) {
          throw new UsageError(`--tag: ${(err as Error).message}`);
        }
        const admin = new AdminClient({ address, requestTimeoutMs: argv.timeout });
        try {
          await requireTopicExists(admin, argv.topic);
        } finally {
          admin.close();
        }

        const consumer = new PushConsumer({
          nameServer: address,
          group,
          messageModel: argv.broadcast ? 'BROADCASTING' : 'CLUSTERING',
          ...start,
          offsetStoreDir: argv.offsetDir,
          requestTimeoutMs: argv.timeout,
          // One message at a time keeps output in queue order and makes --max exact.
          consumeThreadMin: 1,
          consumeThreadMax: 1,
          consumeMessageBatchMaxSize: 1,
          persistOffsetIntervalMs: 1000,
          maxReconsumeTimes,
        });
        consumer.subscribe(argv.topic, argv.tag);
        let received = 0;
        let idleTimer: NodeJS.Timeout | undefined;
        let finish!: () => void;
        const finished = new Promise<void>((resolve) => (finish = resolve));
        const armIdle = () => {
          if (idleMs === undefined) return;
          clearTimeout(idleTimer);
          idleTimer = setTimeout(finish, idleMs);
        };
        await consumer.start(async (messages) => {
          // A call that starts after --max was reached hands its message back (redelivered later).
          if (max !== undefined && received >= max) return ConsumeStatus.RECONSUME_LATER;
          for (const msg of messages) printMessage(msg, argv.json);
          received += messages.length;
          armIdle();
          if (max !== undefined && received >= max) finish();
          return argv.reject ? ConsumeStatus.RECONSUME_LATER : ConsumeStatus.SUCCESS;
        });
        armIdle();
        const onSignal = () => finish();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        await finished;
        clearTimeout(idleTimer);
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await consumer.shutdown();
        if (!argv.json) process.stderr.write(`${received} message(s) received\n`);
      },
      argv.broker,
    ),
};
