/**
 * `ferrymq group list|describe`: where a group is, queue by queue, and how evenly its consumers
 * share the work.
 *
 * The owning client of a queue is computed the way consumers compute it: the default averaging
 * strategy (AVG) over the sorted queues of each topic and the sorted live client ids. A group whose
 * clients use another strategy is shown as AVG would assign it.
 */
import type { Argv, CommandModule } from 'yargs';
import type { AdminClient } from '../client/admin.js';
import { averageStrategy } from '../client/allocate/index.js';
import type { ConsumerConnection } from '../protocol/admin-bodies.js';
import { checkName, UsageError } from './args.js';
import { formatTime, printJson, printTable } from './output.js';
import { withAdmin, type GlobalArgs } from './run.js';

type GroupArgs = GlobalArgs & { group: string; json: boolean };

export interface QueueProgress {
  topic: string;
  queueId: number;
  brokerOffset: number;
  consumerOffset: number;
  lag: number;
  /** Client id that consumes this queue (clustering); undefined when no consumer is online. */
  owner: string | undefined;
  lastConsumed: string | undefined;
}

export interface ConsumerLoad {
  clientId: string;
  clientAddr: string;
  queues: number;
  lag: number;
}

export interface GroupReport {
  group: string;
  online: boolean;
  messageModel: string | undefined;
  consumeFromWhere: string | undefined;
  subscriptions: string[];
  queues: QueueProgress[];
  totalLag: number;
  consumers: ConsumerLoad[];
  /** Online consumers that own no queue: more consumers than queues. */
  idleConsumers: string[];
}

/** Everything `group describe` shows. Throws UsageError for a group the broker knows nothing of. */
export async function groupReport(admin: AdminClient, group: string): Promise<GroupReport> {
  const [stats, connection, configs] = await Promise.all([
    admin.consumeStats(group),
    admin.consumerConnections(group),
    admin.subscriptionGroups(),
  ]);
  if (!connection && stats.offsetTable.length === 0 && !configs.some((c) => c.groupName === group)) {
    throw new UsageError(`unknown group "${group}" (no consumer online, no committed offset, no subscription group config)`);
  }
  const owners = ownersOf(group, stats.offsetTable.map((e) => e.queue), connection);
  const queues: QueueProgress[] = stats.offsetTable.map(({ queue, value }) => ({
    topic: queue.topic,
    queueId: queue.queueId,
    brokerOffset: value.brokerOffset,
    consumerOffset: value.consumerOffset,
    lag: Math.max(0, value.brokerOffset - value.consumerOffset),
    owner: owners.get(`${queue.topic}@${queue.queueId}`),
    lastConsumed: formatTime(value.lastTimestamp),
  }));
  const broadcasting = connection?.messageModel === 'BROADCASTING';
  const consumers: ConsumerLoad[] = (connection?.connectionSet ?? []).map((c) => {
    const mine = broadcasting ? queues : queues.filter((q) => q.owner === c.clientId);
    return { clientId: c.clientId, clientAddr: c.clientAddr, queues: mine.length, lag: mine.reduce((s, q) => s + q.lag, 0) };
  });
  return {
    group,
    online: connection !== undefined,
    messageModel: connection?.messageModel,
    consumeFromWhere: connection?.consumeFromWhere,
    subscriptions: Object.values(connection?.subscriptionTable ?? {}).map((s) => `${s.topic} (${s.subString})`),
    queues,
    totalLag: queues.reduce((s, q) => s + q.lag, 0),
    consumers,
    idleConsumers: broadcasting ? [] : consumers.filter((c) => c.queues === 0).map((c) => c.clientId),
  };
}

function ownersOf(group: string, queues: readonly { topic: string; brokerName: string; queueId: number }[], connection: ConsumerConnection | undefined): Map<string, string> {
  const owners = new Map<string, string>();
  if (!connection) return owners;
  const clientIds = [...new Set(connection.connectionSet.map((c) => c.clientId))].sort();
  if (connection.messageModel === 'BROADCASTING') {
    for (const q of queues) owners.set(`${q.topic}@${q.queueId}`, 'all (broadcast)');
    return owners;
  }
  const byTopic = new Map<string, typeof queues[number][]>();
  for (const q of queues) byTopic.set(q.topic, [...(byTopic.get(q.topic) ?? []), q]);
  for (const topicQueues of byTopic.values()) {
    for (const clientId of clientIds) {
      for (const q of averageStrategy.allocate({ group, clientId, queues: topicQueues, clientIds })) owners.set(`${q.topic}@${q.queueId}`, clientId);
    }
  }
  return owners;
}

const list: CommandModule<GlobalArgs, GroupArgs> = {
  command: 'list',
  describe: 'List consumer groups: online consumers, message model and total lag',
  builder: (y) => y.option('json', { type: 'boolean', default: false, describe: 'print JSON' }) as unknown as Argv<GroupArgs>,
  handler: (argv) =>
    withAdmin('group list', argv, async (admin) => {
      const names = new Set((await admin.subscriptionGroups()).map((g) => g.groupName));
      for (const key of Object.keys(await admin.allConsumerOffsets())) names.add(key.slice(key.lastIndexOf('@') + 1));
      const rows = [];
      for (const group of [...names].sort()) {
        const [stats, connection] = await Promise.all([admin.consumeStats(group), admin.consumerConnections(group)]);
        rows.push({
          group,
          consumers: connection?.connectionSet.length ?? 0,
          model: connection?.messageModel,
          topics: new Set(stats.offsetTable.map((e) => e.queue.topic).filter((t) => !t.startsWith('%RETRY%'))).size,
          lag: stats.offsetTable.reduce((s, e) => s + Math.max(0, e.value.brokerOffset - e.value.consumerOffset), 0),
        });
      }
      if (argv.json) printJson(rows);
      else printTable(rows, ['group', 'consumers', 'model', 'topics', 'lag']);
    }),
};

const describeGroup: CommandModule<GlobalArgs, GroupArgs> = {
  command: 'describe <group>',
  describe: 'Per queue: broker max offset, committed offset, lag, owning client; then the skew summary',
  builder: (y) =>
    y
      .positional('group', { type: 'string', demandOption: true })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON' }) as unknown as Argv<GroupArgs>,
  handler: (argv) =>
    withAdmin('group describe', argv, async (admin) => {
      const report = await groupReport(admin, checkName('group', argv.group));
      if (argv.json) {
        printJson(report);
        return;
      }
      const out = process.stdout;
      out.write(`group ${report.group}: ${report.online ? `${report.consumers.length} consumer(s) online, ${report.messageModel}, ${report.consumeFromWhere}` : 'no consumer online'}\n`);
      if (report.subscriptions.length > 0) out.write(`subscriptions: ${report.subscriptions.join(', ')}\n`);
      out.write('\n');
      printTable(report.queues, ['topic', 'queueId', 'brokerOffset', 'consumerOffset', 'lag', 'owner', 'lastConsumed']);
      out.write(`\ntotal lag: ${report.totalLag}\n`);
      if (report.consumers.length > 0) {
        out.write('\nper consumer:\n');
        printTable(report.consumers, ['clientId', 'clientAddr', 'queues', 'lag']);
      }
      if (report.idleConsumers.length > 0) {
        out.write(`\nidle consumers (own no queue; the group has more consumers than queues): ${report.idleConsumers.join(', ')}\n`);
      }
    }),
};

export const groupCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'group <command>',
  describe: 'List consumer groups and see their lag and consumption skew',
  builder: (y) => y.command(list).command(describeGroup).demandCommand(1, 'name a group command: list or describe'),
  handler: () => undefined,
};
