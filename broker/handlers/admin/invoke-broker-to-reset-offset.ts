/**
 * INVOKE_BROKER_TO_RESET_OFFSET (222). Header (ResetOffsetRequestHeader): topic, group, timestamp
 * (ms; -1 = the end of each queue), isForce (false = only ever move a queue backwards). FerryMQ also
 * reads the RocketMQ 5.x fields `offset` (a queue offset instead of a time) and `queueId` (reset that
 * queue only). Answer body: ResetOffsetBody `{offsetTable:{MessageQueue:offset}}`.
 *
 * What it does:
 * 1. Per queue, the target: the first message stored at or after `timestamp` (so the lag after a
 *    reset is exactly the number of messages stored since), the end, or `offset` clamped to the
 *    queue's [min, max].
 * 2. Stores those offsets durably, so a consumer that starts (or restarts) later begins there.
 * 3. Sends RESET_CONSUMER_CLIENT_OFFSET (220, oneway, same header, body ResetOffsetBody) to every
 *    live consumer of the group, which drops what it had pulled and resumes from the new offsets.
 *
 * Differences from RocketMQ 4.9.8: it succeeds when no consumer is online (RocketMQ answers 206
 * CONSUMER_NOT_ONLINE, and mqadmin then falls back to writing the offsets itself); a group the
 * broker has never seen is 26 SUBSCRIPTION_GROUP_NOT_EXIST; time targets are "first at or after",
 * not "closest".
 */
import { encodeMessageQueueTable, type QueueEntry } from '../../../protocol/admin-bodies.js';
import { encodeJsonBody } from '../../../protocol/bodies.js';
import { createRequest, createResponse } from '../../../protocol/remoting-command.js';
import { RequestCode } from '../../../protocol/request-code.js';
import { ResponseCode } from '../../../protocol/response-code.js';
import type { BrokerContext, RequestHandler } from '../../broker-context.js';
import { requireTopic } from '../queue-fields.js';
import { badHeader, optionalBool, optionalInt, optionalLong, requireLong, requireString, RequestRejectedError } from '../request-fields.js';
import { firstOffsetAtOrAfter, queueIdsOf, queueKeyOf, requireExistingTopic } from './admin-fields.js';

/** `timestamp` value meaning "the end of the queue". */
export const RESET_TO_LATEST = -1;

function isGroupKnown(broker: BrokerContext, group: string): boolean {
  return broker.topics.isGroupKnown(group) || broker.offsets.listByGroup(group).length > 0;
}

export const invokeBrokerToResetOffset: RequestHandler = async ({ broker }, request) => {
  const topic = requireTopic(request);
  const group = requireString(request, 'group');
  const timestamp = requireLong(request, 'timestamp');
  // Java names header fields after the class fields, so the boolean arrives as `isForce`.
  const isForce = optionalBool(request, 'isForce', false);
  const explicitOffset = optionalLong(request, 'offset', -1);
  const onlyQueue = optionalInt(request, 'queueId', -1);
  const config = requireExistingTopic(broker, topic);
  if (!isGroupKnown(broker, group)) {
    throw new RequestRejectedError(ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST, `the consumer group <${group}> does not exist`);
  }
  const queueIds = queueIdsOf(config);
  if (onlyQueue >= 0 && !queueIds.includes(onlyQueue)) throw badHeader('queueId', `is not a queue of ${topic}: ${onlyQueue}`);

  const { store } = broker;
  const entries: QueueEntry<number>[] = [];
  for (const queueId of onlyQueue >= 0 ? [onlyQueue] : queueIds) {
    const min = store.minOffset(topic, queueId);
    const max = store.maxOffset(topic, queueId);
    let target: number;
    if (explicitOffset >= 0) target = Math.min(Math.max(explicitOffset, min), max);
    else if (timestamp === RESET_TO_LATEST) target = max;
    else target = await firstOffsetAtOrAfter(store, topic, queueId, timestamp);
    const current = broker.offsets.query(group, topic, queueId);
    const offset = isForce || current === undefined || target < current ? target : current;
    entries.push({ queue: queueKeyOf(broker, topic, queueId), value: offset });
  }
  broker.offsets.reset(group, topic, entries.map((e) => ({ queueId: e.queue.queueId, offset: e.value })));

  const body = encodeJsonBody({ offsetTable: encodeMessageQueueTable(entries) });
  const state = broker.clients.consumerGroup(group);
  let notified = 0;
  for (const client of state?.clients.values() ?? []) {
    const connection = broker.connections.get(client.channel.id);
    const toClient = createRequest(RequestCode.RESET_CONSUMER_CLIENT_OFFSET, { topic, group, timestamp, isForce }, body, { oneway: true });
    if (connection?.send(toClient)) notified++;
  }
  broker.logger.info({ topic, group, timestamp, explicitOffset, isForce, notified, offsets: entries.map((e) => e.value) }, 'consumer offsets reset');
  return createResponse(request, ResponseCode.SUCCESS, { notifiedClients: notified }, undefined, body);
};
