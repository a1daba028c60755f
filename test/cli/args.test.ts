import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, BrokerResponseError } from '../../protocol/errors.js';
import { checkName, parseBrokerAddress, parseInteger, parseOffsetTarget, parseTime, UsageError } from '../../cli/args.js';
import { exitCodeFor } from '../../cli/run.js';
import { printTable } from '../../cli/output.js';

describe('parseTime', () => {
  const now = Date.UTC(2026, 10, 25, 8, 0, 0);

  it('reads ISO dates with a zone as that instant, and without one as local time', () => {
    expect(parseTime('2026-11-25T08:00:00Z')).toBe(now);
    expect(parseTime('2026-11-25T09:00:00.000+01:00')).toBe(now);
    expect(parseTime('2026-11-25 08:00:00')).toBe(new Date(2026, 10, 25, 8, 0, 0).getTime());
    expect(parseTime('2026-11-25')).toBe(new Date(2026, 10, 25).getTime());
  });

  it("reads mqadmin's yyyy-MM-dd#HH:mm:ss:SSS (local), epoch ms and relative times", () => {
    expect(parseTime('2026-11-25#08:00:00:123')).toBe(new Date(2026, 10, 25, 8, 0, 0, 123).getTime());
    expect(parseTime('@1764057600000')).toBe(1764057600000);
    expect(parseTime('now', now)).toBe(now);
    expect(parseTime('now-90s', now)).toBe(now - 90_000);
    expect(parseTime('now-10m', now)).toBe(now - 600_000);
    expect(parseTime('now-2h', now)).toBe(now - 7_200_000);
    expect(parseTime('now-1d', now)).toBe(now - 86_400_000);
  });

  it('refuses what it cannot read, including impossible calendar dates', () => {
    for (const bad of ['yesterday', '', '12', '2026-02-31', '2026-13-01T00:00:00Z', '2026-11-25#25:00:00:000', '2026-02-30#00:00:00:000', 'now-5w', 'now+1h', '@abc', '2026/11/25']) {
      expect(parseTime(bad), bad).toBeUndefined();
    }
  });
});

describe('parseOffsetTarget', () => {
  it('tells earliest, latest, offsets and times apart', () => {
    expect(parseOffsetTarget('earliest')).toEqual({ earliest: true });
    expect(parseOffsetTarget('latest')).toEqual({ latest: true });
    expect(parseOffsetTarget('42')).toEqual({ offset: 42 });
    expect(parseOffsetTarget('@1764057600000')).toEqual({ timestamp: 1764057600000 });
    expect(parseOffsetTarget('2026-11-25T08:00:00Z')).toEqual({ timestamp: Date.UTC(2026, 10, 25, 8) });
  });

  it('refuses negative offsets and unreadable values with the flag name', () => {
    expect(() => parseOffsetTarget('-1')).toThrow(/--to: must be at least 0, got -1/);
    expect(() => parseOffsetTarget('soon')).toThrow(UsageError);
    expect(() => parseOffsetTarget('soon')).toThrow(/--to: cannot parse "soon"/);
  });
});

describe('other argument checks', () => {
  it('parses whole numbers within bounds', () => {
    expect(parseInteger('--count', '5', 1)).toBe(5);
    expect(parseInteger('--count', 7, 1, 10)).toBe(7);
    expect(() => parseInteger('--count', '-1', 1)).toThrow(/--count: must be at least 1, got -1/);
    expect(() => parseInteger('--count', '1.5', 1)).toThrow(/expected a whole number/);
    expect(() => parseInteger('--count', 'NaN', 1)).toThrow(/expected a whole number/);
    expect(() => parseInteger('--queues', 2000, 1, 1024)).toThrow(/between 1 and 1024/);
  });

  it('checks broker addresses and names', () => {
    expect(parseBrokerAddress('localhost:9876')).toBe('localhost:9876');
    expect(parseBrokerAddress(' 10.0.0.1:10911 ')).toBe('10.0.0.1:10911');
    for (const bad of ['localhost', ':9876', 'h:0', 'h:70000', 'h:port']) expect(() => parseBrokerAddress(bad), bad).toThrow(UsageError);
    expect(checkName('topic', '%RETRY%g_1|x-y')).toBe('%RETRY%g_1|x-y');
    expect(() => checkName('topic', 'a.b')).toThrow(/not a valid name/);
    expect(() => checkName('topic', 'x'.repeat(128))).toThrow(/longer than 127/);
  });

  it('maps errors to exit codes: bad arguments and unknown names 2, anything else 1', () => {
    expect(exitCodeFor(new UsageError('x'))).toBe(2);
    expect(exitCodeFor(new InvalidArgumentError('x'))).toBe(2);
    expect(exitCodeFor(new BrokerResponseError(17, 'TOPIC_NOT_EXIST', undefined, 202))).toBe(2);
    expect(exitCodeFor(new BrokerResponseError(26, 'SUBSCRIPTION_GROUP_NOT_EXIST', undefined, 222))).toBe(2);
    expect(exitCodeFor(new BrokerResponseError(1, 'SYSTEM_ERROR', undefined, 222))).toBe(1);
    expect(exitCodeFor(new Error('boom'))).toBe(1);
  });

  it('prints aligned tables, numbers to the right, "-" for missing values', () => {
    let text = '';
    const out = { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WritableStream;
    printTable([{ name: 'a', n: 5, when: undefined }, { name: 'long-name', n: 123, when: 'x' }], ['name', 'n', 'when'], out);
    expect(text).toBe('NAME         N  WHEN\na            5  -\nlong-name  123  x\n');
  });
});
