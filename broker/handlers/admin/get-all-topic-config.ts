/**
 * GET_ALL_TOPIC_CONFIG (21), no header. Body: TopicConfigSerializeWrapper
 * `{topicConfigTable:{name:{topicName,readQueueNums,writeQueueNums,perm,topicFilterType,topicSysFlag,order}}, dataVersion:{timestamp,counter}}`.
 * Every stored topic is listed, system ones (%RETRY%, %DLQ%, the schedule topic) included.
 */
import type { TopicConfigBody } from '../../../protocol/admin-bodies.js';
import { encodeJsonBody } from '../../../protocol/bodies.js';
import { createResponse } from '../../../protocol/remoting-command.js';
import { ResponseCode } from '../../../protocol/response-code.js';
import type { TopicConfig } from '../../../storage/types.js';
import type { RequestHandler } from '../../broker-context.js';

export function topicConfigBody(config: TopicConfig): TopicConfigBody {
  return {
    topicName: config.topicName,
    readQueueNums: config.readQueueNums,
    writeQueueNums: config.writeQueueNums,
    perm: config.perm,
    topicFilterType: 'SINGLE_TAG',
    topicSysFlag: config.topicSysFlag,
    order: config.order,
  };
}

export const getAllTopicConfig: RequestHandler = async ({ broker }, request) => {
  const topicConfigTable: Record<string, TopicConfigBody> = {};
  for (const config of broker.topics.list()) topicConfigTable[config.topicName] = topicConfigBody(config);
  const body = { topicConfigTable, dataVersion: { timestamp: broker.startedAt, counter: 0 } };
  return createResponse(request, ResponseCode.SUCCESS, undefined, undefined, encodeJsonBody(body));
};
