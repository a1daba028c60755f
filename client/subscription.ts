/**
 * A consumer's subscription to one topic, and the heartbeat `ConsumerData` built from its
 * subscriptions (shared by the push and pull consumers).
 */
import type { ConsumerData } from '../protocol/bodies.js';
import { parseTagExpression, type TagExpression } from '../protocol/tag-filter.js';
import type { MessageModel } from './consume-types.js';
import type { ConsumeFromWhere } from './start-offset.js';

export interface Subscription {
  topic: string;
  expression: string;
  parsed: TagExpression;
  subVersion: number;
}

/** Parses the tag expression now, so a bad one fails the subscribe call. */
export function newSubscription(topic: string, expression: string): Subscription {
  return { topic, expression, parsed: parseTagExpression(expression), subVersion: Date.now() };
}

/** The expression as sent in pulls and heartbeats: `*` for every form of "all tags". */
export function wireExpression(sub: Subscription): string {
  return sub.parsed.all ? '*' : sub.expression;
}

export function consumerDataOf(
  group: string,
  consumeType: 'CONSUME_ACTIVELY' | 'CONSUME_PASSIVELY',
  messageModel: MessageModel,
  consumeFromWhere: ConsumeFromWhere,
  subscriptions: Iterable<Subscription>,
): ConsumerData {
  return {
    groupName: group,
    consumeType,
    messageModel,
    consumeFromWhere: `CONSUME_FROM_${consumeFromWhere}`,
    subscriptionDataSet: [...subscriptions].map((s) => ({
      classFilterMode: false,
      topic: s.topic,
      subString: wireExpression(s),
      tagsSet: [...s.parsed.tags],
      codeSet: [...s.parsed.codes],
      subVersion: s.subVersion,
      expressionType: 'TAG',
    })),
    unitMode: false,
  };
}
