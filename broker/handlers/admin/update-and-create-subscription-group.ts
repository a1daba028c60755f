/**
 * UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200), no header. Body: SubscriptionGroupConfig JSON
 * `{groupName, consumeEnable, consumeBroadcastEnable, retryQueueNums, retryMaxTimes, brokerId,
 * whichBrokerWhenConsumeSlowly, consumeMessageOrderly, …}`; missing fields keep the stored value,
 * or RocketMQ's default for a new group.
 */
import { parseRocketMQJson } from '../../../protocol/bodies.js';
import { createResponse } from '../../../protocol/remoting-command.js';
import { ResponseCode } from '../../../protocol/response-code.js';
import { validateTopicName } from '../../../storage/topic-name.js';
import type { SubscriptionGroupConfig } from '../../../storage/types.js';
import type { RequestHandler } from '../../broker-context.js';
import { RequestRejectedError } from '../request-fields.js';

/** Bounds on the numbers a group config may hold (retry topics are real queues on disk). */
const MAX_RETRY_QUEUE_NUMS = 64;
const MAX_RETRY_MAX_TIMES = 1000;

function reject(why: string): never {
  throw new RequestRejectedError(ResponseCode.SYSTEM_ERROR, `bad subscription group config: ${why}`);
}

function field<T>(body: Record<string, unknown>, name: string, type: 'boolean' | 'number', fallback: T): T {
  const value = body[name];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== type) reject(`${name} must be a ${type}`);
  return value as T;
}

export const updateAndCreateSubscriptionGroup: RequestHandler = async ({ broker }, request) => {
  if (!request.body || request.body.length === 0) reject('the body is empty');
  let body: Record<string, unknown>;
  try {
    body = parseRocketMQJson<Record<string, unknown>>(request.body);
  } catch (err) {
    return reject((err as Error).message);
  }
  const groupName = body.groupName;
  if (typeof groupName !== 'string' || groupName === '') return reject('groupName is missing');
  const problem = validateTopicName(groupName);
  if (problem) reject(`groupName: ${problem}`);
  const base: SubscriptionGroupConfig = broker.topics.getGroup(groupName) ?? {
    groupName,
    consumeEnable: true,
    consumeBroadcastEnable: true,
    retryQueueNums: broker.config.retryQueueNums,
    retryMaxTimes: 16,
    brokerId: 0,
    whichBrokerWhenConsumeSlowly: 1,
    consumeMessageOrderly: false,
  };
  const config: SubscriptionGroupConfig = {
    groupName,
    consumeEnable: field(body, 'consumeEnable', 'boolean', base.consumeEnable),
    consumeBroadcastEnable: field(body, 'consumeBroadcastEnable', 'boolean', base.consumeBroadcastEnable),
    retryQueueNums: field(body, 'retryQueueNums', 'number', base.retryQueueNums),
    retryMaxTimes: field(body, 'retryMaxTimes', 'number', base.retryMaxTimes),
    brokerId: field(body, 'brokerId', 'number', base.brokerId),
    whichBrokerWhenConsumeSlowly: field(body, 'whichBrokerWhenConsumeSlowly', 'number', base.whichBrokerWhenConsumeSlowly),
    consumeMessageOrderly: field(body, 'consumeMessageOrderly', 'boolean', base.consumeMessageOrderly),
  };
  if (!Number.isInteger(config.retryQueueNums) || config.retryQueueNums < 1 || config.retryQueueNums > MAX_RETRY_QUEUE_NUMS) {
    reject(`retryQueueNums must be in 1..${MAX_RETRY_QUEUE_NUMS}`);
  }
  if (!Number.isInteger(config.retryMaxTimes) || config.retryMaxTimes < 0 || config.retryMaxTimes > MAX_RETRY_MAX_TIMES) {
    reject(`retryMaxTimes must be in 0..${MAX_RETRY_MAX_TIMES}`);
  }
  broker.topics.putGroup(config);
  broker.logger.info({ group: groupName }, 'subscription group created or updated');
  return createResponse(request, ResponseCode.SUCCESS);
};
