import { describe, expect, it } from 'vitest';
import { encodeJsonBody, parseRocketMQJson, type TopicRouteData } from '../../protocol/bodies.js';
import { InvalidArgumentError } from '../../protocol/errors.js';

describe('JSON bodies', () => {
  it('parses fastjson output with unquoted numeric keys', () => {
    const text =
      '{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:10911",1:"127.0.0.1:10921"},"brokerName":"broker-a","cluster":"DefaultCluster"}],' +
      '"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}';
    const route = parseRocketMQJson<TopicRouteData>(Buffer.from(text));
    expect(route.brokerDatas[0].brokerAddrs).toEqual({ '0': '127.0.0.1:10911', '1': '127.0.0.1:10921' });
    expect(route.queueDatas[0].writeQueueNums).toBe(4);
    expect(route.filterServerTable).toEqual({});
  });

  it('parses standard JSON and round-trips encodeJsonBody', () => {
    const body = { consumerIdList: ['10.0.0.1@123', '10.0.0.2@456'] };
    expect(parseRocketMQJson(encodeJsonBody(body))).toEqual(body);
    expect(encodeJsonBody({ a: 1 }).toString()).toBe('{"a":1}');
  });

  it('handles escapes, nesting, numbers and literals in the lenient path', () => {
    const v = parseRocketMQJson<Record<string, unknown>>(
      ' { k : "a\\"b\\\\c\\u00e9\\n\\/" , -1: [1, -2.5e2, true, false, null, {}, []], x_y$.z: {0:{1:"deep"}} } ',
    );
    expect(v).toEqual({ k: 'a"b\\cé\n/', '-1': [1, -250, true, false, null, {}, []], 'x_y$.z': { '0': { '1': 'deep' } } });
    const proto = parseRocketMQJson<Record<string, unknown>>('{__proto__:{"polluted":1}}');
    expect(Object.keys(proto)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each([
    ['empty', ''],
    ['truncated object', '{0:"a"'],
    ['missing colon', '{0 "a"}'],
    ['bad literal', '{0:nope}'],
    ['unterminated string', '{a:"abc}'],
    ['bad escape', '{a:"\\q"}'],
    ['bad unicode', '{a:"\\u12x4"}'],
    ['trailing garbage', '{a:1} x'],
    ['dangling comma', '[1,]'],
    ['bare minus', '{a:-}'],
  ])('refuses %s with a clear error', (_name, text) => {
    expect(() => parseRocketMQJson(text)).toThrow(InvalidArgumentError);
    expect(() => parseRocketMQJson(text)).toThrow(/invalid JSON body at position \d+/);
  });

  it('stays safe and linear on huge or hostile input', () => {
    expect(() => parseRocketMQJson('['.repeat(200_000))).toThrow(/nesting deeper/);
    const escapes = `{a:"${'\\n'.repeat(200_000)}"}`;
    const started = Date.now();
    expect((parseRocketMQJson<{ a: string }>(escapes)).a).toHaveLength(200_000);
    const keys = `{${Array.from({ length: 50_000 }, (_, i) => `${i}:"v"`).join(',')}}`;
    expect(Object.keys(parseRocketMQJson<object>(keys))).toHaveLength(50_000);
    // Generous bound: a quadratic parser would take minutes here.
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
