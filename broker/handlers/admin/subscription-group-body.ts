/**
 * SubscriptionGroupConfig between RocketMQ's JSON shape and the MetaStore row. Java-only fields the
 * broker does not act on (consumeFromMinEnable, notifyConsumerIdsChangedEnable) are reported with
 * RocketMQ's defaults.
 */
import type { SubscriptionGroupBody } from '../../../protocol/admin-bodies.js';
import type { SubscriptionGroupConfig } from '../../../storage/types.js';

export function subscriptionGroupBody(config: SubscriptionGroupConfig): SubscriptionGroupBody & { consumeMessageOrderly: boolean } {
  return {
    groupName: config.groupName,
    consumeEnable: config.consumeEnable,
    consumeFromMinEnable: true,
    consumeBroadcastEnable: config.consumeBroadcastEnable,
    retryQueueNums: config.retryQueueNums,
    retryMaxTimes: config.retryMaxTimes,
    brokerId: config.brokerId,
    whichBrokerWhenConsumeSlowly: config.whichBrokerWhenConsumeSlowly,
    notifyConsumerIdsChangedEnable: true,
    consumeMessageOrderly: config.consumeMessageOrderly,
  };
}
