/**
 * NOTIFY_CONSUMER_IDS_CHANGED (40), broker → client, oneway: a group's membership changed, so its
 * clients should rebalance now. Java clients act on it; ali-ons ignores it and rebalances on its timer.
 */
import { createRequest } from '../../protocol/remoting-command.js';
import { RequestCode } from '../../protocol/request-code.js';
import type { ClientChannel } from '../client-registry.js';
import type { Connection } from '../connection.js';

export function notifyConsumerIdsChanged(connections: ReadonlyMap<number, Connection>, group: string, channels: readonly ClientChannel[]): void {
  for (const channel of channels) {
    connections.get(channel.id)?.send(createRequest(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, { consumerGroup: group }, undefined, { oneway: true }));
  }
}
