/**
 * UPDATE_AND_CREATE_TOPIC (17): creates a topic or changes its queue counts and permission.
 * Header: topic, readQueueNums, writeQueueNums, perm, topicSysFlag, order (defaultTopic and
 * topicFilterType are accepted and ignored).
 */
import { createResponse } from '../../protocol/remoting-command.js';
import { ResponseCode } from '../../protocol/response-code.js';
import type { RequestHandler } from '../broker-context.js';
import { PERM_READ, PERM_WRITE } from '../topic-config-manager.js';
import { requireTopic } from './queue-fields.js';
import { badHeader, optionalBool, optionalInt, requireInt, RequestRejectedError } from './request-fields.js';

/** Upper bound on a topic's queue count (each queue is a directory with its own files). */
export const MAX_QUEUE_NUMS = 1024;

export const updateAndCreateTopic: RequestHandler = async ({ broker }, request) => {
  const topic = requireTopic(request);
  if (topic === broker.config.clusterName || topic === broker.config.brokerName) {
    throw new RequestRejectedError(ResponseCode.SYSTEM_ERROR, `the topic[${topic}] is conflict with system reserved words.`);
  }
  const readQueueNums = requireInt(request, 'readQueueNums');
  const writeQueueNums = requireInt(request, 'writeQueueNums');
  for (const [field, value] of [['readQueueNums', readQueueNums], ['writeQueueNums', writeQueueNums]] as const) {
    if (value < 1 || value > MAX_QUEUE_NUMS) throw badHeader(field, `must be in 1..${MAX_QUEUE_NUMS}, got ${value}`);
  }
  const perm = optionalInt(request, 'perm', PERM_READ | PERM_WRITE);
  if (perm < 0 || perm > 7) throw badHeader('perm', `must be in 0..7, got ${perm}`);
  broker.topics.put({
    topicName: topic,
    readQueueNums,
    writeQueueNums,
    perm,
    topicSysFlag: optionalInt(request, 'topicSysFlag', 0),
    order: optionalBool(request, 'order', false),
  });
  broker.logger.info({ topic, readQueueNums, writeQueueNums, perm }, 'topic created or updated');
  return createResponse(request, ResponseCode.SUCCESS);
};
