import { describe, expect, it } from 'vitest';
import { requireInt, requireLong } from '../../broker/handlers/request-fields.js';
import { createRequest } from '../../protocol/remoting-command.js';
import { RequestCode } from '../../protocol/request-code.js';

const request = (value: string) => createRequest(RequestCode.PULL_MESSAGE, { queueId: value, queueOffset: value });

describe('request header integers', () => {
  it("reads Long.parseLong's digits, with a sign and surrounding blanks", () => {
    expect(requireInt(request('7'), 'queueId')).toBe(7);
    expect(requireInt(request('-3'), 'queueId')).toBe(-3);
    expect(requireInt(request('+12'), 'queueId')).toBe(12);
    expect(requireInt(request(' 42 '), 'queueId')).toBe(42);
    expect(requireLong(request('9007199254740991'), 'queueOffset')).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('refuses what is not an integer, and integers outside the field, naming the field', () => {
    for (const bad of ['', '-', '1.5', '1e3', '0x10', 'seven', '1 2']) {
      expect(() => requireInt(request(bad), 'queueId')).toThrow(bad === '' ? /<queueId> is missing/ : /<queueId> is not an integer/);
    }
    expect(() => requireInt(request('2147483648'), 'queueId')).toThrow(/<queueId> is out of range/);
    expect(() => requireLong(request('99999999999999999999'), 'queueOffset')).toThrow(/<queueOffset> is out of range/);
  });
});
