import { describe, expect, it } from 'vitest';
import { encodeJsonBody, MAX_JSON_DEPTH, parseRocketMQJson, type TopicRouteData } from '../../protocol/bodies.js';
import { InvalidArgumentError } from '../../protocol/errors.js';

// A Java Map<MessageQueue, Long> as fastjson writes it (ResetOffsetBody, code 222).
const QUEUE_KEYED =
  '{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:5,{"brokerName":"b","queueId":1,"topic":"T"}:7}}';

describe('parseRocketMQJson', () => {
  it('parses fastjson output with unquoted numeric keys', () => {
    const text =
      '{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:10911",1:"127.0.0.1:10921"},"brokerName":"broker-a","cluster":"DefaultCluster"}],' +
      '"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}';
    const route = parseRocketMQJson<TopicRouteData>(Buffer.from(text));
    expect(route.brokerDatas[0].brokerAddrs).toEqual({ '0': '127.0.0.1:10911', '1': '127.0.0.1:10921' });
    expect(route.queueDatas[0].writeQueueNums).toBe(4);
    expect(route.filterServerTable).toEqual({});
  });

  it('reads unquoted numeric keys and standard JSON as plain objects', () => {
    expect(parseRocketMQJson('{"brokerAddrs":{0:"127.0.0.1:9876"},"a":[1,-2.5e3,true,null,"x\\"y"]}')).toEqual({
      brokerAddrs: { '0': '127.0.0.1:9876' },
      a: [1, -2500, true, null, 'x"y'],
    });
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

  it('reads object-valued keys (fastjson Map<MessageQueue, V>) into a Map', () => {
    const parsed = parseRocketMQJson<{ offsetTable: Map<unknown, unknown> }>(QUEUE_KEYED);
    expect(parsed.offsetTable).toBeInstanceOf(Map);
    expect([...parsed.offsetTable]).toEqual([
      [{ brokerName: 'b', queueId: 0, topic: 'T' }, 5],
      [{ brokerName: 'b', queueId: 1, topic: 'T' }, 7],
    ]);
    // Values keep the other fastjson form; keys may be arrays; whitespace anywhere.
    const nested = parseRocketMQJson<Map<unknown, unknown>>(' { [1, 2] : {0:"a"} , {"k":[]}:null } ');
    expect([...nested]).toEqual([[[1, 2], { '0': 'a' }], [{ k: [] }, null]]);
  });

  it('keeps the string keys that came before an object key in the Map', () => {
    const parsed = parseRocketMQJson<Map<unknown, unknown>>('{"s":1,__proto__:2,{"q":0}:3,"t":4,5:6}');
    expect([...parsed]).toEqual([['s', 1], ['__proto__', 2], [{ q: 0 }, 3], ['t', 4], ['5', 6]]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // A later duplicate overwrites, as JSON.parse does for plain objects.
    expect([...parseRocketMQJson<Map<unknown, unknown>>('{"a":1,{"x":1}:2,"a":3}')]).toEqual([['a', 3], [{ x: 1 }, 2]]);
  });

  it('leaves objects without object keys plain, in both paths', () => {
    expect(parseRocketMQJson('{"offsetTable":{}}')).toEqual({ offsetTable: {} });
    expect(parseRocketMQJson('{offsetTable:{}}')).toEqual({ offsetTable: {} });
    expect(parseRocketMQJson('{"a":{"b":{}}}')).not.toBeInstanceOf(Map);
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
    ['truncated after a colon', '{"a":'],
    ['unterminated top-level string', '"abc'],
    ['bad object key', '{{"a":1 :2}'],
    ['object key without a value', '{{"a":1}}'],
    ['missing key', '{:1}'],
  ])('refuses %s with a clear error', (_name, text) => {
    expect(() => parseRocketMQJson(text)).toThrow(InvalidArgumentError);
    expect(() => parseRocketMQJson(text)).toThrow(/invalid JSON body at position \d+/);
  });

  it('names the position and the fault', () => {
    expect(() => parseRocketMQJson('{"a":')).toThrow(/invalid JSON body at position 5: unexpected end/);
    expect(() => parseRocketMQJson('{"a":1} x')).toThrow(/unexpected text after the value/);
    expect(() => parseRocketMQJson('"abc')).toThrow(/unterminated string/);
    expect(() => parseRocketMQJson('{{"a":1 :2}')).toThrow(/position 8: expected "," or "}"/);
    expect(() => parseRocketMQJson('{{"a":1}}')).toThrow(/position 8: expected ":" after an object key/);
  });

  it('throws only InvalidArgumentError on every truncation and every one-character deletion of a Map body', () => {
    const failures: string[] = [];
    const attempt = (text: string) => {
      try {
        parseRocketMQJson(text);
      } catch (err) {
        if (!(err instanceof InvalidArgumentError)) failures.push(text);
      }
    };
    for (let i = 0; i < QUEUE_KEYED.length; i++) {
      attempt(QUEUE_KEYED.slice(0, i));
      attempt(QUEUE_KEYED.slice(0, i) + QUEUE_KEYED.slice(i + 1));
    }
    expect(failures).toEqual([]);
  });

  it('limits nesting, counting object keys, without overflowing the stack', () => {
    expect(() => parseRocketMQJson('['.repeat(200_000))).toThrow(/nesting deeper/);
    expect(() => parseRocketMQJson('['.repeat(100_000))).toThrow(new RegExp(`nesting deeper than ${MAX_JSON_DEPTH}`));
    // Each `{` opens an object whose first key is the next object.
    expect(() => parseRocketMQJson('{'.repeat(200_000))).toThrow(/nesting deeper/);
    const keyChain = (objects: number) => `${'{'.repeat(objects)}0:1${'}:1'.repeat(objects - 1)}}`;
    expect(parseRocketMQJson(keyChain(MAX_JSON_DEPTH))).toBeInstanceOf(Map);
    expect(() => parseRocketMQJson(keyChain(MAX_JSON_DEPTH + 1))).toThrow(/nesting deeper/);
  });

  it('stays safe and linear on huge or hostile input', () => {
    const escapes = `{a:"${'\\n'.repeat(200_000)}"}`;
    const started = Date.now();
    expect((parseRocketMQJson<{ a: string }>(escapes)).a).toHaveLength(200_000);
    // Many short strings and no backslash after them: each string must not scan the rest for one.
    const strings = `{a:[${'"v",'.repeat(400_000)}"v"]}`;
    expect(parseRocketMQJson<{ a: string[] }>(strings).a).toHaveLength(400_001);
    const keys = `{${Array.from({ length: 50_000 }, (_, i) => `${i}:"v"`).join(',')}}`;
    expect(Object.keys(parseRocketMQJson<object>(keys))).toHaveLength(50_000);
    // Many string keys before the first object key are moved into the Map once.
    const mixed = `{${Array.from({ length: 20_000 }, (_, i) => `"k${i}":1`).join(',')},${Array.from({ length: 20_000 }, (_, i) => `{"queueId":${i}}:1`).join(',')}}`;
    expect(parseRocketMQJson<Map<unknown, unknown>>(mixed).size).toBe(40_000);
    // A quadratic parser would take minutes here; 30 s leaves room for a box shared by many test runs.
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});

describe('encodeJsonBody', () => {
  it('writes exactly what JSON.stringify writes when there is no Map', () => {
    const values: unknown[] = [
      { consumerIdList: ['a@1'], n: -1.5e-7, t: true, z: null, s: 'é"\\\n\u2028', nested: [[], {}, [{ x: [1] }]] },
      [1, 'two', null, false],
      'text',
      42,
      null,
      {},
    ];
    for (const value of values) expect(encodeJsonBody(value).toString()).toBe(JSON.stringify(value));
    // undefined is dropped from objects and written as null in arrays, as JSON.stringify does.
    expect(encodeJsonBody({ a: undefined, b: [undefined] }).toString()).toBe('{"b":[null]}');
  });

  it('writes a Map with its keys as JSON values, the fastjson form', () => {
    const table = new Map<unknown, unknown>([
      ['s', 1],
      [0, 'zero'],
      [{ brokerName: 'b', queueId: 0, topic: 'T' }, { maxOffset: 5 }],
      ['dropped', undefined],
    ]);
    expect(encodeJsonBody({ t: table }).toString()).toBe('{"t":{"s":1,0:"zero",{"brokerName":"b","queueId":0,"topic":"T"}:{"maxOffset":5}}}');
    expect(encodeJsonBody(new Map()).toString()).toBe('{}');
  });

  it('round-trips maps with object keys through parseRocketMQJson', () => {
    const value = { t: new Map([[{ a: 1 }, { b: [1, 2] }]]) };
    const parsed = parseRocketMQJson<{ t: Map<unknown, unknown> }>(encodeJsonBody(value));
    expect([...parsed.t.entries()]).toEqual([[{ a: 1 }, { b: [1, 2] }]]);
    expect(encodeJsonBody(parseRocketMQJson(QUEUE_KEYED)).toString()).toBe(QUEUE_KEYED);
  });
});
