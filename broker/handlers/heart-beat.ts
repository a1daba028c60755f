/**
 * HEART_BEAT (34): body `HeartbeatData` = {clientID, producerDataSet:[{groupName}],
 * consumerDataSet:[{groupName, consumeType, messageModel, consumeFromWhere, subscriptionDataSet:[
 * {topic, subString, tagsSet, codeSet, subVersion, expressionType?}]}]}. Registers the channel per
 * group, creates each consumer group's config (when auto-creation is on) and its `%RETRY%` topic.
 */
import { parseRocketMQJson } from '../../protocol/bodies.js';
import { createResponse } from '../../protocol/remoting-command.js';
import { ResponseCode } from '../../protocol/response-code.js';
import type { RequestHandler } from '../broker-context.js';
import type { ConsumerHeartbeat, SubscriptionData } from '../client-registry.js';
import { RequestRejectedError } from './request-fields.js';

type Json = Record<string, unknown>;

function reject(why: string): RequestRejectedError {
  return new RequestRejectedError(ResponseCode.SYSTEM_ERROR, `bad heartbeat body: ${why}`);
}

function list(value: unknown, what: string): Json[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw reject(`${what} is not a list`);
  return value.map((item, i) => {
    if (typeof item !== 'object' || item === null) throw reject(`${what}[${i}] is not an object`);
    return item as Json;
  });
}

function text(value: unknown, what: string, required = true): string {
  if (typeof value === 'string' && (value !== '' || !required)) return value;
  if (!required && (value === undefined || value === null)) return '';
  throw reject(`${what} is missing`);
}

function parseSubscription(item: Json, where: string): SubscriptionData {
  const codeSet: unknown[] = Array.isArray(item.codeSet) ? item.codeSet : [];
  return {
    topic: text(item.topic, `${where}.topic`),
    subString: text(item.subString, `${where}.subString`, false) || '*',
    tagsSet: (Array.isArray(item.tagsSet) ? item.tagsSet : []).map(String),
    codeSet: codeSet.map(Number).filter(Number.isInteger),
    subVersion: Number(item.subVersion ?? 0),
    expressionType: typeof item.expressionType === 'string' ? item.expressionType : undefined,
  };
}

export const heartBeat: RequestHandler = async ({ broker, connection }, request) => {
  if (!request.body || request.body.length === 0) throw reject('missing');
  let data: Json;
  try {
    data = parseRocketMQJson(request.body) as Json;
  } catch (err) {
    throw reject((err as Error).message);
  }
  if (typeof data !== 'object' || data === null) throw reject('not an object');
  const clientId = text(data.clientID, 'clientID');
  const producerGroups = list(data.producerDataSet, 'producerDataSet').map((p, i) => text(p.groupName, `producerDataSet[${i}].groupName`));
  const consumers: ConsumerHeartbeat[] = list(data.consumerDataSet, 'consumerDataSet').map((c, i) => ({
    groupName: text(c.groupName, `consumerDataSet[${i}].groupName`),
    consumeType: text(c.consumeType, 'consumeType', false),
    messageModel: text(c.messageModel, 'messageModel', false),
    consumeFromWhere: text(c.consumeFromWhere, 'consumeFromWhere', false),
    subscriptions: list(c.subscriptionDataSet, `consumerDataSet[${i}].subscriptionDataSet`).map((s, j) =>
      parseSubscription(s, `consumerDataSet[${i}].subscriptionDataSet[${j}]`),
    ),
  }));
  for (const consumer of consumers) {
    const group = broker.topics.ensureGroup(consumer.groupName);
    if (group && group.retryQueueNums > 0) broker.topics.ensureRetryTopic(consumer.groupName);
  }
  broker.clients.heartbeat(connection, clientId, producerGroups, consumers);
  return createResponse(request, ResponseCode.SUCCESS);
};
