/**
 * `ferrymq offset reset`: moves a group's committed offsets on a topic. Works while consumers run:
 * the broker stores the new offsets and tells each live consumer (RESET_CONSUMER_CLIENT_OFFSET),
 * which drops what it had pulled and continues from there.
 */
import type { Argv, CommandModule } from 'yargs';
import { checkName, parseInteger, parseOffsetTarget, UsageError } from './args.js';
import { printJson, printTable } from './output.js';
import { withAdmin, type GlobalArgs } from './run.js';
import { requireTopicExists } from './topic.js';

type ResetArgs = GlobalArgs & { group: string; topic: string; to: string; queue?: number; json: boolean };

const reset: CommandModule<GlobalArgs, ResetArgs> = {
  command: 'reset',
  describe: 'Move a group to earliest, latest, an offset, or the first message stored at or after a time',
  builder: (y) =>
    y
      .option('group', { type: 'string', demandOption: true, describe: 'consumer group' })
      .option('topic', { type: 'string', demandOption: true, describe: 'topic' })
      .option('to', {
        type: 'string',
        demandOption: true,
        describe: 'earliest | latest | <offset> | <time>: 2026-11-25T08:00:00Z, @<epoch ms>, now-10m, 2026-11-25#08:00:00:000',
      })
      .option('queue', { type: 'number', describe: 'only this queue id (default: every queue)' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON' })
      .example('$0 offset reset --group G --topic T --to earliest', 'replay everything still stored')
      .example('$0 offset reset --group G --topic T --to now-10m', 'replay the last ten minutes') as unknown as Argv<ResetArgs>,
  handler: (argv) =>
    withAdmin('offset reset', argv, async (admin) => {
      const group = checkName('--group', argv.group);
      const target = parseOffsetTarget(argv.to);
      const queueId = argv.queue === undefined ? undefined : parseInteger('--queue', argv.queue, 0);
      await requireTopicExists(admin, argv.topic);
      const stats = await admin.topicStats(argv.topic);
      if (queueId !== undefined && !stats.some((s) => s.queue.queueId === queueId)) {
        throw new UsageError(`--queue: topic ${argv.topic} has no queue ${queueId}`);
      }
      const result = await admin.resetOffset({ group, topic: argv.topic, to: target, queueId });
      const rows = result.offsets.map((e) => {
        const max = stats.find((s) => s.queue.queueId === e.queue.queueId)?.value.maxOffset ?? e.value;
        return { queueId: e.queue.queueId, offset: e.value, brokerOffset: max, lag: Math.max(0, max - e.value) };
      });
      if (argv.json) {
        printJson({ group, topic: argv.topic, notifiedClients: result.notifiedClients, queues: rows });
        return;
      }
      printTable(rows, ['queueId', 'offset', 'brokerOffset', 'lag']);
      process.stdout.write(
        `\n${group} on ${argv.topic} reset; ${result.notifiedClients} live consumer(s) told to move` +
          `${result.notifiedClients === 0 ? ' (consumers started later begin at these offsets)' : ''}\n`,
      );
    }),
};

export const offsetCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'offset <command>',
  describe: "Move a consumer group's committed offsets",
  builder: (y) => y.command(reset).demandCommand(1, 'name an offset command: reset'),
  handler: () => undefined,
};
