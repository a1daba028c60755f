/**
 * `ferrymq status`: what the broker is and how busy it is. Rates come from sampling the broker's
 * message counters twice, `--interval` ms apart (0 skips them).
 */
import type { Argv, CommandModule } from 'yargs';
import { parseInteger } from './args.js';
import { printJson } from './output.js';
import { withAdmin, type GlobalArgs } from './run.js';

type StatusArgs = GlobalArgs & { interval: number; json: boolean };

function rate(before: Record<string, string>, after: Record<string, string>, key: string): number {
  const seconds = (Number(after.sampleTimestamp) - Number(before.sampleTimestamp)) / 1000;
  return seconds > 0 ? Math.max(0, Number(after[key]) - Number(before[key])) / seconds : 0;
}

function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export const statusCommand: CommandModule<GlobalArgs, StatusArgs> = {
  command: 'status',
  describe: 'Broker version, uptime, flush mode, disk use, topics, connections, produce and consume rates',
  builder: (y) =>
    y
      .option('interval', { type: 'number', default: 1000, describe: 'ms between the two samples the rates come from (0 = no rates)' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON' }) as unknown as Argv<StatusArgs>,
  handler: (argv) =>
    withAdmin('status', argv, async (admin) => {
      const interval = parseInteger('--interval', argv.interval, 0, 60_000);
      const first = await admin.runtimeInfo();
      let info = first;
      if (interval > 0) {
        await new Promise((resolve) => setTimeout(resolve, interval));
        info = await admin.runtimeInfo();
      }
      const status = {
        broker: info.brokerAddr,
        brokerName: info.brokerName,
        cluster: info.clusterName,
        version: info.ferrymqVersion,
        uptimeMs: Number(info.uptimeMs),
        uptime: info.runtime,
        flushMode: info.flushDiskType,
        diskUsedRatio: Number(info.commitLogDiskRatio),
        storeBytes: Number(info.storeTotalBytes),
        appendsRefused: info.appendsRefused === 'true',
        topics: Number(info.topicCount),
        queues: Number(info.queueCount),
        consumerGroupsOnline: Number(info.consumerGroupCount),
        connections: Number(info.connectionCount),
        messagesStored: Number(info.msgPutTotal),
        messagesConsumed: Number(info.msgConsumedTotal),
        produceRate: interval > 0 ? Number(rate(first, info, 'msgPutTotal').toFixed(1)) : undefined,
        consumeRate: interval > 0 ? Number(rate(first, info, 'msgConsumedTotal').toFixed(1)) : undefined,
      };
      if (argv.json) {
        printJson(status);
        return;
      }
      const lines: [string, string][] = [
        ['broker', `${status.brokerName} at ${status.broker} (cluster ${status.cluster})`],
        ['version', `FerryMQ ${status.version}`],
        ['uptime', status.uptime ?? '-'],
        ['flush mode', status.flushMode ?? '-'],
        ['disk', `${(status.diskUsedRatio * 100).toFixed(1)}% used, store ${formatBytes(status.storeBytes)}${status.appendsRefused ? ', APPENDS REFUSED (disk full)' : ''}`],
        ['topics', `${status.topics} (${status.queues} queues)`],
        ['connections', `${status.connections} (${status.consumerGroupsOnline} consumer group(s) online)`],
        ['messages', `${status.messagesStored} stored, ${status.messagesConsumed} consumed (committed)`],
        ['produce rate', status.produceRate === undefined ? '-' : `${status.produceRate} msg/s`],
        ['consume rate', status.consumeRate === undefined ? '-' : `${status.consumeRate} msg/s`],
      ];
      for (const [name, value] of lines) process.stdout.write(`${name.padEnd(13)} ${value}\n`);
    }),
};
