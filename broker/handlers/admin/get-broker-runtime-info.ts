/**
 * GET_BROKER_RUNTIME_INFO (28), no header. Body: KVTable `{table:{key:"value"}}`, every value a string.
 * RocketMQ's key names where one exists (bootTimestamp, runtime, brokerVersionDesc,
 * commitLogDiskRatio, msgPutTotalTodayNow…); FerryMQ's own keys are listed in docs/protocol.md.
 * Rates are not kept by the broker: the counters msgPutTotal and msgConsumedTotal only grow, and a
 * client samples them twice (that is what `ferrymq status` does).
 */
import { encodeFastjsonBody } from '../../../protocol/admin-bodies.js';
import { createResponse } from '../../../protocol/remoting-command.js';
import { ResponseCode } from '../../../protocol/response-code.js';
import type { BrokerContext, RequestHandler } from '../../broker-context.js';
import { ferrymqVersion, queueIdsOf } from './admin-fields.js';

/** RocketMQ's `runtime` format: `[ 0 days, 1 hours, 2 minutes, 3 seconds ]`. */
function formatRuntime(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `[ ${Math.floor(s / 86400)} days, ${Math.floor((s % 86400) / 3600)} hours, ${Math.floor((s % 3600) / 60)} minutes, ${s % 60} seconds ]`;
}

export function runtimeInfo(broker: BrokerContext): Record<string, string> {
  const { store, config } = broker;
  const now = broker.clock.now();
  let msgPutTotal = 0;
  let queueCount = 0;
  const topics = broker.topics.list();
  for (const topic of topics) {
    for (const queueId of queueIdsOf(topic)) {
      msgPutTotal += store.maxOffset(topic.topicName, queueId);
      queueCount++;
    }
  }
  let msgConsumedTotal = 0;
  for (const topic of topics) for (const entry of broker.offsets.listByTopic(topic.topicName)) msgConsumedTotal += entry.offset;
  const stats = store.stats();
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
  };
}

export const getBrokerRuntimeInfo: RequestHandler = async ({ broker }, request) => {
  return createResponse(request, ResponseCode.SUCCESS, undefined, undefined, encodeFastjsonBody({ table: runtimeInfo(broker) }));
};
