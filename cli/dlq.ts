/**
 * `ferrymq dlq list|resend`: a group's dead-letter queue `%DLQ%<group>` (messages that failed
 * maxReconsumeTimes deliveries).
 *
 * `resend` publishes a dead letter again to `%RETRY%<group>` with its properties and a fresh retry
 * count, so only that group receives it again (consumers restore the original topic from
 * RETRY_TOPIC). The dead letter itself stays stored. `resend --all` resends from a mark to the end
 * and moves the mark: the group's committed offset on the DLQ queue, so `--all` never resends one
 * message twice, and `list` shows which were resent.
 */
import type { Argv, CommandModule } from 'yargs';
import type { AdminClient } from '../client/admin.js';
import { Producer } from '../client/index.js';
import { MessageSysFlag, type DecodedRecord } from '../protocol/message-codec.js';
import { MessageConst } from '../protocol/properties.js';
import { checkName, parseInteger, UsageError } from './args.js';
import { checkMsgId, messageView } from './message.js';
import { bodyText, formatTime, printJson, printTable, Progress } from './output.js';
import { brokerOf, withAdmin, type GlobalArgs } from './run.js';

type DlqArgs = GlobalArgs & { group: string; max: number; msgId?: string[]; all: boolean; json: boolean };

/** RocketMQ puts a group's dead letters in one queue. */
const DLQ_QUEUE_ID = 0;
/** Properties of the delay machinery that must not travel with a resent message. */
const DROPPED_ON_RESEND: readonly string[] = [MessageConst.DELAY, MessageConst.REAL_TOPIC, MessageConst.REAL_QID];

interface DeadLetterQueue {
  topic: string;
  minOffset: number;
  maxOffset: number;
  /** Offsets below this were resent by `resend --all`. */
  resentMark: number;
}

/** The group's DLQ, or undefined when it has none yet. A group the broker never saw is a UsageError. */
async function deadLetterQueue(admin: AdminClient, group: string): Promise<DeadLetterQueue | undefined> {
  const topic = `%DLQ%${group}`;
  const configs = await admin.topicConfigs();
  if (!configs.some((t) => t.topicName === topic)) {
    const known = (await admin.subscriptionGroups()).some((g) => g.groupName === group) || (await admin.consumerConnections(group)) !== undefined;
    if (!known) throw new UsageError(`unknown group "${group}"`);
    return undefined;
  }
  const stats = (await admin.topicStats(topic)).find((s) => s.queue.queueId === DLQ_QUEUE_ID);
  const minOffset = stats?.value.minOffset ?? 0;
  const maxOffset = stats?.value.maxOffset ?? 0;
  const committed = await admin.committedOffset(group, topic, DLQ_QUEUE_ID);
  return { topic, minOffset, maxOffset, resentMark: Math.max(minOffset, committed ?? minOffset) };
}

/** Records of the DLQ in [from, to), at most `max`. */
async function readDeadLetters(admin: AdminClient, group: string, dlq: DeadLetterQueue, from: number, to: number, max: number): Promise<DecodedRecord[]> {
  const out: DecodedRecord[] = [];
  let offset = from;
  while (offset < to && out.length < max) {
    const { records, nextOffset } = await admin.readQueue(group, dlq.topic, DLQ_QUEUE_ID, offset, Math.min(32, max - out.length));
    for (const r of records) if (r.queueOffset < to && out.length < max) out.push(r);
    if (records.length === 0 || nextOffset <= offset) break;
    offset = nextOffset;
  }
  return out;
}

const list: CommandModule<GlobalArgs, DlqArgs> = {
  command: 'list',
  describe: "List a group's dead letters: original topic, retries, store time, whether resent",
  builder: (y) =>
    y
      .option('group', { type: 'string', demandOption: true })
      .option('max', { type: 'number', default: 100, describe: 'at most this many, oldest first' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON' }) as unknown as Argv<DlqArgs>,
  handler: (argv) =>
    withAdmin('dlq list', argv, async (admin) => {
      const group = checkName('--group', argv.group);
      const max = parseInteger('--max', argv.max, 1);
      const dlq = await deadLetterQueue(admin, group);
      const records = dlq ? await readDeadLetters(admin, group, dlq, dlq.minOffset, dlq.maxOffset, max) : [];
      const rows = records.map((r) => {
        const view = messageView(r);
        return {
          offset: r.queueOffset,
          msgId: r.msgId,
          originMsgId: r.propertyMap[MessageConst.ORIGIN_MESSAGE_ID],
          topic: r.propertyMap[MessageConst.RETRY_TOPIC],
          reconsumeTimes: r.reconsumeTimes,
          stored: formatTime(r.storeTimestamp),
          resent: dlq !== undefined && r.queueOffset < dlq.resentMark,
          tags: view.tags,
          keys: view.keys.join(','),
          body: view.body,
        };
      });
      if (argv.json) {
        printJson({ group, topic: `%DLQ%${group}`, total: dlq ? dlq.maxOffset - dlq.minOffset : 0, resentMark: dlq?.resentMark ?? 0, messages: rows });
        return;
      }
      printTable(rows.map((r) => ({ ...r, body: bodyText(Buffer.from(r.body), 40) })), ['offset', 'msgId', 'topic', 'reconsumeTimes', 'stored', 'resent', 'keys', 'body']);
      if (dlq && dlq.maxOffset - dlq.minOffset > rows.length) process.stdout.write(`(${dlq.maxOffset - dlq.minOffset - rows.length} more; use --max)\n`);
    }),
};

const resend: CommandModule<GlobalArgs, DlqArgs> = {
  command: 'resend',
  describe: 'Deliver dead letters to the group again (via %RETRY%<group>)',
  builder: (y) =>
    y
      .option('group', { type: 'string', demandOption: true })
      .option('msg-id', { type: 'string', array: true, describe: 'dead-letter msgId(s), as `dlq list` shows them' })
      .option('all', { type: 'boolean', default: false, describe: 'every dead letter not resent yet' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON' })
      .example('$0 dlq resend --group G --all', 'retry everything in the DLQ once more') as unknown as Argv<DlqArgs>,
  handler: (argv) =>
    withAdmin('dlq resend', argv, async (admin) => {
      const group = checkName('--group', argv.group);
      const ids = argv.msgId ?? [];
      if (ids.length > 0 === argv.all) throw new UsageError('give --msg-id <id...> or --all (one of them)');
      const checkedIds = ids.map(checkMsgId);
      const dlq = await deadLetterQueue(admin, group);
      if (!dlq) throw new UsageError(`group "${group}" has no dead letters`);
      let records: DecodedRecord[];
      if (argv.all) {
        records = await readDeadLetters(admin, group, dlq, dlq.resentMark, dlq.maxOffset, Number.MAX_SAFE_INTEGER);
      } else {
        records = [];
        for (const id of checkedIds) {
          const record = await admin.viewMessage(id);
          if (!record || record.topic !== dlq.topic) throw new UsageError(`${id} is not a dead letter of group ${group}`);
          records.push(record);
        }
      }
      const producer = new Producer({ nameServer: brokerOf(argv), group: 'ferrymq-cli', requestTimeoutMs: argv.timeout, sendTimeoutMs: argv.timeout });
      await producer.start();
      const progress = new Progress(records.length, 'resent');
      const rows: { dlqMsgId: string; topic: string; newMsgId: string }[] = [];
      try {
        for (const record of records) {
          const properties = { ...record.propertyMap };
          for (const name of DROPPED_ON_RESEND) delete properties[name];
          const topic = properties[MessageConst.RETRY_TOPIC];
          if (!topic) throw new UsageError(`${record.msgId} has no RETRY_TOPIC property: its original topic is unknown`);
          properties[MessageConst.ORIGIN_MESSAGE_ID] ??= record.msgId;
          const sent = await producer.sendRaw(`%RETRY%${group}`, record.body, properties, {
            reconsumeTimes: 0,
            flag: record.flag,
            sysFlag: record.sysFlag & MessageSysFlag.COMPRESSED,
          });
          rows.push({ dlqMsgId: record.msgId, topic, newMsgId: sent.msgId });
          progress.update(rows.length);
        }
      } finally {
        progress.finish();
        await producer.shutdown();
      }
      if (argv.all && records.length > 0) await admin.commitOffset(group, dlq.topic, DLQ_QUEUE_ID, records[records.length - 1]!.queueOffset + 1);
      if (argv.json) printJson({ group, resent: rows });
      else {
        printTable(rows, ['dlqMsgId', 'topic', 'newMsgId']);
        process.stdout.write(`${rows.length} dead letter(s) resent to group ${group}\n`);
      }
    }),
};

export const dlqCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'dlq <command>',
  describe: "Inspect and resend a group's dead-letter queue",
  builder: (y) => y.command(list).command(resend).demandCommand(1, 'name a dlq command: list or resend'),
  handler: () => undefined,
};
