/**
 * The (topic, queueId) pair most handlers start from, validated: a bad topic name is refused before
 * it reaches the store (where names become directory names).
 */
import type { RemotingCommand } from '../../protocol/remoting-command.js';
import { ResponseCode } from '../../protocol/response-code.js';
import { validateTopicName } from '../../storage/topic-name.js';
import { RequestRejectedError, requireInt, requireString } from './request-fields.js';

export function requireTopic(request: RemotingCommand, field = 'topic'): string {
  const topic = requireString(request, field);
  const problem = validateTopicName(topic);
  if (problem) throw new RequestRejectedError(ResponseCode.SYSTEM_ERROR, `bad ${field}: ${problem}`);
  return topic;
}

export function requireQueue(request: RemotingCommand): { topic: string; queueId: number } {
  const topic = requireTopic(request);
  const queueId = requireInt(request, 'queueId');
  if (queueId < 0) throw new RequestRejectedError(ResponseCode.SYSTEM_ERROR, `queueId ${queueId} is negative`);
  return { topic, queueId };
}
