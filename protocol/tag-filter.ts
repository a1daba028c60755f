/**
 * Tag subscriptions (RocketMQ `FilterAPI.buildSubscriptionData` semantics): `*`, empty or null
 * subscribes to everything; otherwise `TagA || TagB` lists tags, trimmed. Brokers filter queue
 * entries by Java `String.hashCode` of the TAGS property, clients re-check the tag string.
 * FerryMQ filters by TAG only; SQL92 expressions are refused.
 */
import { InvalidArgumentError } from './errors.js';

export const SUB_ALL = '*';
export const ExpressionType = { TAG: 'TAG', SQL92: 'SQL92' } as const;

export interface TagExpression {
  all: boolean;
  tags: Set<string>;
  /** `javaStringHashCode` of each tag: what queue index entries carry. */
  codes: Set<number>;
}

/** Java `String.hashCode`: over UTF-16 code units, wrapping to int32. */
export function javaStringHashCode(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

/** Throws for any expression type but TAG (undefined and empty mean TAG, as in RocketMQ). */
export function checkExpressionType(expressionType: string | null | undefined): void {
  if (expressionType === undefined || expressionType === null || expressionType === '') return;
  if (expressionType.toUpperCase() !== ExpressionType.TAG) {
    throw new InvalidArgumentError(
      `expression type ${expressionType} is not supported: FerryMQ filters by TAG only (e.g. "TagA || TagB")`,
    );
  }
}

export function parseTagExpression(expr: string | null | undefined, expressionType?: string | null): TagExpression {
  checkExpressionType(expressionType);
  const text = expr?.trim() ?? '';
  if (text === '' || text === SUB_ALL) return { all: true, tags: new Set(), codes: new Set() };
  const tags = new Set<string>();
  const codes = new Set<number>();
  for (const part of text.split('||')) {
    const tag = part.trim();
    if (tag === '') continue;
    tags.add(tag);
    codes.add(javaStringHashCode(tag));
  }
  if (tags.size === 0) throw new InvalidArgumentError(`tag expression "${text}" names no tag`);
  return { all: false, tags, codes };
}

/** Whether a message with this TAGS value matches. A message without a tag matches only `*`. */
export function tagMatches(parsed: TagExpression, tag: string | null | undefined): boolean {
  if (parsed.all) return true;
  if (tag === undefined || tag === null || tag === '') return false;
  return parsed.tags.has(tag);
}

/** Index-level check on a stored tagsCode (may admit a hash collision; clients re-check the string). */
export function tagsCodeMatches(parsed: TagExpression, tagsCode: number): boolean {
  return parsed.all || parsed.codes.has(tagsCode);
}
