/** The JSON body shared by LOCK_BATCH_MQ (41) and UNLOCK_BATCH_MQ (42), checked field by field. */
import { parseRocketMQJson, type LockBatchRequestBody } from '../../protocol/bodies.js';
import type { RemotingCommand } from '../../protocol/remoting-command.js';
import { ResponseCode } from '../../protocol/response-code.js';
import { RequestRejectedError } from './request-fields.js';

export function parseLockBody(request: RemotingCommand): LockBatchRequestBody {
  const reject = (why: string) => new RequestRejectedError(ResponseCode.SYSTEM_ERROR, `bad lock body: ${why}`);
  if (!request.body || request.body.length === 0) throw reject('missing');
  let parsed: unknown;
  try {
    parsed = parseRocketMQJson(request.body);
  } catch (err) {
    throw reject((err as Error).message);
  }
  const body = parsed as Partial<Record<keyof LockBatchRequestBody, unknown>>;
  if (typeof body?.consumerGroup !== 'string' || body.consumerGroup === '') throw reject('consumerGroup is missing');
  if (typeof body.clientId !== 'string' || body.clientId === '') throw reject('clientId is missing');
  if (!Array.isArray(body.mqSet)) throw reject('mqSet is not a list');
  const mqSet = body.mqSet.map((mq: { topic?: unknown; brokerName?: unknown; queueId?: unknown }, i: number) => {
    const queueId = Number(mq?.queueId);
    if (typeof mq?.topic !== 'string' || typeof mq.brokerName !== 'string' || !Number.isInteger(queueId) || queueId < 0) {
      throw reject(`mqSet[${i}] is not {topic, brokerName, queueId}`);
    }
    return { topic: mq.topic, brokerName: mq.brokerName, queueId };
  });
  return { consumerGroup: body.consumerGroup, clientId: body.clientId, mqSet };
}
