/** `ferrymq topic create|list|describe|delete`. */
import type { Argv, CommandModule } from 'yargs';
import type { AdminClient } from '../client/admin.js';
import { checkName, parseInteger, UsageError } from './args.js';
import { formatTime, printJson, printTable } from './output.js';
import { withAdmin, type GlobalArgs } from './run.js';

type TopicArgs = GlobalArgs & { topic: string; queues: number; perm: string; order: boolean; all: boolean };

const PERMS: Record<string, number> = { rw: 6, r: 4, w: 2 };

function permText(perm: number): string {
  return `${perm & 4 ? 'r' : '-'}${perm & 2 ? 'w' : '-'}`;
}

/** System topics: retry and dead-letter queues, the delay schedule, transaction topics, Java's auto-create template. */
export function isSystemTopic(name: string): boolean {
  return name.startsWith('%RETRY%') || name.startsWith('%DLQ%') || name.startsWith('RMQ_SYS_') || name === 'SCHEDULE_TOPIC_XXXX' || name === 'TBW102';
}

/** The topic's config, or a UsageError naming it (exit 2). */
export async function requireTopicExists(admin: AdminClient, topic: string): Promise<void> {
  checkName('topic', topic);
  const found = (await admin.topicConfigs()).some((t) => t.topicName === topic);
  if (!found) throw new UsageError(`unknown topic "${topic}" (create it with: ferrymq topic create ${topic})`);
}

const create: CommandModule<GlobalArgs, TopicArgs> = {
  command: 'create <topic>',
  describe: 'Create a topic, or change its queue count and permission',
  builder: (y) =>
    y
      .positional('topic', { type: 'string', demandOption: true, describe: 'topic name ([%|a-zA-Z0-9_-], at most 127)' })
      .option('queues', { type: 'number', default: 4, describe: 'number of queues (1..1024)' })
      .option('perm', { type: 'string', choices: Object.keys(PERMS), default: 'rw', describe: 'read/write permission' })
      .option('order', { type: 'boolean', default: false, describe: 'mark the topic as ordered' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON' }) as unknown as Argv<TopicArgs>,
  handler: (argv) =>
    withAdmin('topic create', argv, async (admin) => {
      const topic = checkName('topic', argv.topic);
      const queueNums = parseInteger('--queues', argv.queues, 1, 1024);
      await admin.createTopic(topic, { queueNums, perm: PERMS[argv.perm], order: argv.order });
      if (argv.json) printJson({ topic, queues: queueNums, perm: argv.perm, order: argv.order });
      else process.stdout.write(`topic ${topic} created with ${queueNums} queues (${argv.perm})\n`);
    }),
};

const list: CommandModule<GlobalArgs, TopicArgs> = {
  command: 'list',
  describe: 'List topics with their queue counts and stored message counts',
  builder: (y) =>
    y
      .option('all', { type: 'boolean', default: false, describe: 'include system topics (%RETRY%, %DLQ%, schedule)' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON' }) as unknown as Argv<TopicArgs>,
  handler: (argv) =>
    withAdmin('topic list', argv, async (admin) => {
      const configs = (await admin.topicConfigs()).filter((t) => argv.all || !isSystemTopic(t.topicName));
      const rows = [];
      for (const t of configs) {
        const stats = await admin.topicStats(t.topicName);
        rows.push({
          topic: t.topicName,
          queues: Math.max(t.readQueueNums, t.writeQueueNums),
          perm: permText(t.perm),
          messages: stats.reduce((sum, s) => sum + s.value.maxOffset - s.value.minOffset, 0),
          lastStored: formatTime(Math.max(0, ...stats.map((s) => s.value.lastUpdateTimestamp))),
        });
      }
      if (argv.json) printJson(rows);
      else printTable(rows, ['topic', 'queues', 'perm', 'messages', 'lastStored']);
    }),
};

const describeTopic: CommandModule<GlobalArgs, TopicArgs> = {
  command: 'describe <topic>',
  describe: 'Per queue: min and max offset, and the store time of the newest message',
  builder: (y) =>
    y
      .positional('topic', { type: 'string', demandOption: true })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON' }) as unknown as Argv<TopicArgs>,
  handler: (argv) =>
    withAdmin('topic describe', argv, async (admin) => {
      const topic = checkName('topic', argv.topic);
      const config = (await admin.topicConfigs()).find((t) => t.topicName === topic);
      if (!config) throw new UsageError(`unknown topic "${topic}"`);
      const stats = await admin.topicStats(topic);
      const queues = stats.map((s) => ({
        queueId: s.queue.queueId,
        minOffset: s.value.minOffset,
        maxOffset: s.value.maxOffset,
        messages: s.value.maxOffset - s.value.minOffset,
        lastStored: formatTime(s.value.lastUpdateTimestamp),
      }));
      if (argv.json) {
        printJson({ topic, readQueueNums: config.readQueueNums, writeQueueNums: config.writeQueueNums, perm: permText(config.perm), order: config.order, queues });
        return;
      }
      process.stdout.write(`topic ${topic}: ${config.readQueueNums} read / ${config.writeQueueNums} write queues, perm ${permText(config.perm)}${config.order ? ', ordered' : ''}\n`);
      printTable(queues, ['queueId', 'minOffset', 'maxOffset', 'messages', 'lastStored']);
    }),
};

const remove: CommandModule<GlobalArgs, TopicArgs> = {
  command: 'delete <topic>',
  describe: 'Delete a topic: its queues, stored messages and committed offsets',
  builder: (y) =>
    y
      .positional('topic', { type: 'string', demandOption: true })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON' }) as unknown as Argv<TopicArgs>,
  handler: (argv) =>
    withAdmin('topic delete', argv, async (admin) => {
      const topic = argv.topic;
      await requireTopicExists(admin, topic);
      await admin.deleteTopic(topic);
      if (argv.json) printJson({ topic, deleted: true });
      else process.stdout.write(`topic ${topic} deleted\n`);
    }),
};

export const topicCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'topic <command>',
  describe: 'Create, list, describe and delete topics',
  builder: (y) => y.command(create).command(list).command(describeTopic).command(remove).demandCommand(1, 'name a topic command: create, list, describe or delete'),
  handler: () => undefined,
};
