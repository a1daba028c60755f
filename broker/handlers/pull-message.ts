/**
 * PULL_MESSAGE (11). Header: consumerGroup, topic, queueId, queueOffset, maxMsgNums, sysFlag
 * (1 commit offset, 2 suspend, 4 subscription in header), commitOffset, suspendTimeoutMillis,
 * subscription, subVersion, expressionType.
 *
 * Every 0/19/20/21 answer carries nextBeginOffset, minOffset, maxOffset and suggestWhichBrokerId
 * (ali-ons turns a missing one into NaN for good). A "nothing new" answer (19) with the suspend bit
 * is held by the PullHoldService until data arrives or the client's suspend time passes, then the
 * pull runs again without suspension and without re-committing.
 */
import { createResponse, type RemotingCommand } from '../../protocol/remoting-command.js';
import { ResponseCode } from '../../protocol/response-code.js';
import { parseTagExpression, type TagExpression } from '../../protocol/tag-filter.js';
import { GetMessageStatus, type ReadResult, type TagFilter } from '../../storage/types.js';
import type { HandlerAnswer, RequestContext, RequestHandler } from '../broker-context.js';
import { PERM_READ } from '../topic-config-manager.js';
import { readStatusToCode } from '../status-map.js';
import { requireQueue } from './queue-fields.js';
import {
  optionalLong,
  optionalString,
  requireInt,
  requireLong,
  requireString,
  RequestRejectedError,
  respond,
} from './request-fields.js';

const FLAG_COMMIT_OFFSET = 0x1;
const FLAG_SUSPEND = 0x2;
const FLAG_SUBSCRIPTION = 0x4;

export const pullMessage: RequestHandler = (ctx, request) => runPull(ctx, request, true);

/** A held pull's second run: no suspension, no re-commit. */
const rerunPull: RequestHandler = (ctx, request) => runPull(ctx, request, false);

/** Parsed subscriptions by expression: a consumer sends the same one with every pull (bounded: the expressions are the clients'). */
const tagFilters = new Map<string, TagFilter | undefined>();
const MAX_CACHED_TAG_FILTERS = 1024;

function tagFilterOf(expression: string): TagFilter | undefined {
  if (tagFilters.has(expression)) return tagFilters.get(expression);
  const filter = parseTagFilter(expression);
  if (tagFilters.size >= MAX_CACHED_TAG_FILTERS) tagFilters.clear();
  tagFilters.set(expression, filter);
  return filter;
}

function parseTagFilter(expression: string): TagFilter | undefined {
  let parsed: TagExpression;
  try {
    parsed = parseTagExpression(expression);
  } catch (err) {
    throw new RequestRejectedError(ResponseCode.SUBSCRIPTION_PARSE_FAILED, `parse the consumer's subscription failed: ${(err as Error).message}`);
  }
  return parsed.all ? undefined : { tagsCodes: parsed.codes };
}

/**
 * Answers synchronously when the store can read without waiting (a consumer keeping up: the data is
 * in memory, or there is none yet and the pull is held), else once the read completes.
 */
function runPull(ctx: RequestContext, request: RemotingCommand, allowSuspend: boolean): HandlerAnswer {
  const { broker, connection } = ctx;
  const { config, store } = broker;
  const group = requireString(request, 'consumerGroup');
  const { topic, queueId } = requireQueue(request);
  const queueOffset = requireLong(request, 'queueOffset');
  const maxMsgNums = requireInt(request, 'maxMsgNums');
  const sysFlag = requireInt(request, 'sysFlag');
  const commitOffset = optionalLong(request, 'commitOffset', -1);
  const suspendTimeoutMillis = Math.max(0, optionalLong(request, 'suspendTimeoutMillis', 0));

  const groupConfig = broker.topics.ensureGroup(group);
  if (!groupConfig) {
    return createResponse(request, ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST, undefined, `subscription group [${group}] does not exist`);
  }
  if (!groupConfig.consumeEnable) {
    return createResponse(request, ResponseCode.NO_PERMISSION, undefined, `subscription group no permission, ${group}`);
  }
  const topicConfig = broker.topics.get(topic);
  if (!topicConfig) {
    return createResponse(request, ResponseCode.TOPIC_NOT_EXIST, undefined, `topic[${topic}] not exist, apply first please!`);
  }
  if ((topicConfig.perm & PERM_READ) === 0) {
    return createResponse(request, ResponseCode.NO_PERMISSION, undefined, `the topic[${topic}] pulling message is forbidden`);
  }
  if (queueId >= topicConfig.readQueueNums) {
    return createResponse(request, ResponseCode.SYSTEM_ERROR, undefined, `queueId[${queueId}] is illegal, topic:[${topic}] topicConfig.readQueueNums:[${topicConfig.readQueueNums}]`);
  }

  let filter: TagFilter | undefined;
  const expressionType = optionalString(request, 'expressionType');
  if (expressionType !== undefined && expressionType !== '' && expressionType !== 'TAG') {
    return createResponse(request, ResponseCode.SYSTEM_ERROR, undefined, `The broker does not support consumer to filter message by ${expressionType}`);
  }
  if (sysFlag & FLAG_SUBSCRIPTION) {
    filter = tagFilterOf(optionalString(request, 'subscription') ?? '*');
  } else {
    const registered = broker.clients.subscription(group, topic);
    if (!registered) {
      return createResponse(request, ResponseCode.SUBSCRIPTION_NOT_EXIST, undefined, `the consumer's subscription not exist, group: ${group}`);
    }
    filter = tagFilterOf(registered.subString);
  }

  const maxMessages = Math.min(maxMsgNums > 0 ? maxMsgNums : config.pullMaxMessages, config.pullMaxMessages);
  const pull: PullRequest = { topic, queueId, queueOffset, group, sysFlag, commitOffset, suspendTimeoutMillis };
  const now = store.readNow(topic, queueId, queueOffset, maxMessages, config.pullMaxBytes, filter);
  if (now) return answerPull(ctx, request, pull, now, allowSuspend);
  return store.read(topic, queueId, queueOffset, maxMessages, config.pullMaxBytes, filter).then((result) => answerPull(ctx, request, pull, result, allowSuspend));
}

/** The fields of a pull request `answerPull` needs. */
interface PullRequest {
  topic: string;
  queueId: number;
  queueOffset: number;
  group: string;
  sysFlag: number;
  commitOffset: number;
  suspendTimeoutMillis: number;
}

function answerPull(ctx: RequestContext, request: RemotingCommand, pull: PullRequest, result: ReadResult, allowSuspend: boolean): RemotingCommand | null {
  const { broker, connection } = ctx;
  const { config } = broker;
  const { topic, queueId, queueOffset, group, sysFlag, commitOffset, suspendTimeoutMillis } = pull;
  const code = readStatusToCode(result.status, queueOffset);

  // The piggybacked commit is the consumer's progress on this queue; a re-run must not repeat it.
  if (allowSuspend && sysFlag & FLAG_COMMIT_OFFSET && commitOffset >= 0) {
    broker.offsets.commit(group, topic, queueId, commitOffset, { durable: false });
  }

  if (code === ResponseCode.PULL_NOT_FOUND && allowSuspend && sysFlag & FLAG_SUSPEND) {
    const held = broker.pullHolds.hold({
      topic,
      queueId,
      offset: queueOffset,
      connectionId: connection.id,
      timeoutMs: config.longPollingEnable ? suspendTimeoutMillis : config.shortPollingTimeMs,
      rerun: () => respond(ctx, request, rerunPull),
    });
    if (held) return null;
  }

  const header = {
    // RocketMQ 4.9.7/4.9.8 send a consumer that is past the end back to the end (not to minOffset).
    nextBeginOffset: result.status === GetMessageStatus.OFFSET_OVERFLOW_BADLY ? result.maxOffset : result.nextBeginOffset,
    minOffset: result.minOffset,
    maxOffset: result.maxOffset,
    suggestWhichBrokerId: 0,
  };
  if (code !== ResponseCode.SUCCESS) return createResponse(request, code, header, result.status);
  const body = result.buffers.length === 1 ? result.buffers[0] : Buffer.concat(result.buffers);
  return createResponse(request, code, header, undefined, body);
}
