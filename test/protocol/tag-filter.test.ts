import { describe, expect, it } from 'vitest';
import { javaStringHashCode, parseTagExpression, tagMatches, tagsCodeMatches } from '../../protocol/tag-filter.js';
import { InvalidArgumentError } from '../../protocol/errors.js';

describe('javaStringHashCode', () => {
  it.each([
    ['', 0],
    ['a', 97],
    ['TagA', 2598919],
    ['TagB', 2598920],
    ['hello', 99162322],
    ['Hello MetaQ !!!', -1886382401],
    ['polygenelubricants', -2147483648],
    ['日本', 835047],
    ['😀', 1772899], // surrogate pair: two UTF-16 code units,
  ])('%j → %i', (s, h) => {
    expect(javaStringHashCode(s)).toBe(h);
  });
});

describe('parseTagExpression', () => {
  it.each([undefined, null, '', '  ', '*', ' * '])('%j subscribes to everything', (expr) => {
    const parsed = parseTagExpression(expr);
    expect(parsed.all).toBe(true);
    expect(tagMatches(parsed, 'anything')).toBe(true);
    expect(tagMatches(parsed, undefined)).toBe(true);
    expect(tagsCodeMatches(parsed, 12345)).toBe(true);
  });

  it('splits on || and trims', () => {
    const parsed = parseTagExpression(' TagA ||TagB||  Tag C ||');
    expect(parsed.all).toBe(false);
    expect([...parsed.tags]).toEqual(['TagA', 'TagB', 'Tag C']);
    expect(parsed.codes.has(2598919)).toBe(true);
    expect(tagMatches(parsed, 'TagA')).toBe(true);
    expect(tagMatches(parsed, 'Tag C')).toBe(true);
    expect(tagMatches(parsed, 'TagD')).toBe(false);
    expect(tagsCodeMatches(parsed, javaStringHashCode('TagB'))).toBe(true);
    expect(tagsCodeMatches(parsed, javaStringHashCode('TagD'))).toBe(false);
  });

  it('lets an untagged message through only for *', () => {
    const parsed = parseTagExpression('TagA');
    expect(tagMatches(parsed, undefined)).toBe(false);
    expect(tagMatches(parsed, '')).toBe(false);
    expect(tagMatches(parsed, null)).toBe(false);
  });

  it('refuses SQL92 and expressions that name no tag', () => {
    expect(() => parseTagExpression('a > 5', 'SQL92')).toThrow(InvalidArgumentError);
    expect(() => parseTagExpression('a > 5', 'SQL92')).toThrow(/TAG only/);
    expect(parseTagExpression('TagA', 'TAG').tags.has('TagA')).toBe(true);
    expect(parseTagExpression('TagA', 'tag').tags.has('TagA')).toBe(true);
    expect(() => parseTagExpression('||', 'TAG')).toThrow(/names no tag/);
  });
});
