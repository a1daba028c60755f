/**
 * GET_BROKER_RUNTIME_INFO (28), no header. Body: KVTable `{table:{key:"value"}}`, every value a string.
 *
 * Every key `mqadmin clusterList` reads is present (it dies on a missing `putTps`), computed from
 * what the store holds rather than from in-memory counters:
 * - putTps: messages stored per second over the last 10 s, 60 s and 600 s (space-separated, as
 *   RocketMQ writes it), counted from store times;
 * - msgPutTotalTodayNow / TodayMorning / YesterdayMorning: messages ever stored, now and at the last
 *   two local midnights;
 * - earliestMessageTimeStamp: store time of the oldest stored message, -1 when there is none.
 * What FerryMQ does not have is reported as 0: getTransferedTps, the msgGet* day counters (all equal
 * the committed total), the send/pull thread-pool queue sizes and waits, pageCacheLockTimeMills.
 * FerryMQ's own keys (version, uptime, flush mode, counts, msgPutTotal, msgConsumedTotal) are listed
 * in docs/protocol.md; `ferrymq status` samples the two totals twice for exact rates.
 */
import { encodeJsonBody } from '../../../protocol/bodies.js';
import { createResponse } from '../../../protocol/remoting-command.js';
import { ResponseCode } from '../../../protocol/response-code.js';
import type { BrokerContext, RequestHandler } from '../../broker-context.js';
import { ferrymqVersion } from '../../package-info.js';
import { firstOffsetAtOrAfter, queueIdsOf } from './admin-fields.js';

/** RocketMQ's `runtime` format: `[ 0 days, 1 hours, 2 minutes, 3 seconds ]`. */
function formatRuntime(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `[ ${Math.floor(s / 86400)} days, ${Math.floor((s % 86400) / 3600)} hours, ${Math.floor((s % 3600) / 60)} minutes, ${s % 60} seconds ]`;
}

/** The putTps windows, in seconds. */
const TPS_WINDOWS_S = [10, 60, 600];

function localMidnight(now: number, daysBack: number): number {
  const d = new Date(now);
  return new Date(d.getFullYear(), d.getMonth(), d.getDate() - daysBack).getTime();
}

export async function runtimeInfo(broker: BrokerContext): Promise<Record<string, string>> {
  const { store, config } = broker;
  const now = broker.clock.now();
  // Points in time whose "messages stored since" we need: the TPS windows and the two midnights.
  const since = [...TPS_WINDOWS_S.map((s) => now - s * 1000), localMidnight(now, 0), localMidnight(now, 1)];
  const storedSince = since.map(() => 0);
  let msgPutTotal = 0;
  let queueCount = 0;
  let earliest = Infinity;
  const topics = broker.topics.list();
  for (const topic of topics) {
    for (const queueId of queueIdsOf(topic)) {
      queueCount++;
      const max = store.maxOffset(topic.topicName, queueId);
      msgPutTotal += max;
      const min = store.minOffset(topic.topicName, queueId);
      if (max <= min) continue;
      const oldest = await store.storeTimestampAt(topic.topicName, queueId, min);
      if (oldest !== undefined) earliest = Math.min(earliest, oldest);
      for (let i = 0; i < since.length; i++) storedSince[i]! += max - (await firstOffsetAtOrAfter(store, topic.topicName, queueId, since[i]!));
    }
  }
  let msgConsumedTotal = 0;
  for (const topic of topics) for (const entry of broker.offsets.listByTopic(topic.topicName)) msgConsumedTotal += entry.offset;
  const stats = store.stats();
  const putTps = TPS_WINDOWS_S.map((s, i) => (storedSince[i]! / s).toFixed(2)).join(' ');
  const [todayCount, sinceYesterday] = [storedSince[TPS_WINDOWS_S.length]!, storedSince[TPS_WINDOWS_S.length + 1]!];
  return {
    ferrymqVersion: ferrymqVersion(),
    brokerVersionDesc: `FerryMQ ${ferrymqVersion()}`,
    brokerName: config.brokerName,
    clusterName: config.clusterName,
    brokerAddr: broker.advertisedAddress,
    bootTimestamp: String(broker.startedAt),
    runtime: formatRuntime(now - broker.startedAt),
    uptimeMs: String(now - broker.startedAt),
    flushDiskType: config.store.flushMode,
    commitLogDiskRatio: stats.diskUsedRatio.toFixed(4),
    storeTotalBytes: String(stats.totalBytes),
    appendsRefused: String(stats.appendsRefused),
    topicCount: String(topics.length),
    queueCount: String(queueCount),
    consumerGroupCount: String(broker.clients.consumerGroups().length),
    connectionCount: String(broker.connections.size),
    msgPutTotal: String(msgPutTotal),
    msgConsumedTotal: String(msgConsumedTotal),
    sampleTimestamp: String(now),
    // RocketMQ's keys (mqadmin clusterList and brokerStatus read them).
    putTps,
    getTransferedTps: '0.00 0.00 0.00',
    msgPutTotalTodayNow: String(msgPutTotal),
    msgPutTotalTodayMorning: String(msgPutTotal - todayCount),
    msgPutTotalYesterdayMorning: String(msgPutTotal - sinceYesterday),
    msgGetTotalTodayNow: String(msgConsumedTotal),
    msgGetTotalTodayMorning: String(msgConsumedTotal),
    msgGetTotalYesterdayMorning: String(msgConsumedTotal),
    earliestMessageTimeStamp: String(Number.isFinite(earliest) ? earliest : -1),
    pageCacheLockTimeMills: '0',
    sendThreadPoolQueueSize: '0',
    sendThreadPoolQueueHeadWaitTimeMills: '0',
    pullThreadPoolQueueSize: '0',
    pullThreadPoolQueueHeadWaitTimeMills: '0',
  };
}

export const getBrokerRuntimeInfo: RequestHandler = async ({ broker }, request) => {
  return createResponse(request, ResponseCode.SUCCESS, undefined, undefined, encodeJsonBody({ table: await runtimeInfo(broker) }));
};
