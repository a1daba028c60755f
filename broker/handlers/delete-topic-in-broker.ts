/**
 * DELETE_TOPIC_IN_BROKER (215): removes the topic's config, queues, committed offsets and locks.
 * Pulls held on it are answered (the topic is gone, so they get TOPIC_NOT_EXIST).
 */
import { createResponse } from '../../protocol/remoting-command.js';
import { ResponseCode } from '../../protocol/response-code.js';
import type { RequestHandler } from '../broker-context.js';
import { requireTopic } from './queue-fields.js';

export const deleteTopicInBroker: RequestHandler = async ({ broker }, request) => {
  const topic = requireTopic(request);
  await broker.store.deleteTopic(topic);
  broker.offsets.deleteTopic(topic);
  broker.locks.dropTopic(topic);
  broker.pullHolds.wakeTopic(topic);
  broker.logger.info({ topic }, 'topic deleted');
  return createResponse(request, ResponseCode.SUCCESS);
};
