import { describe, expect, it } from 'vitest';
import { createOffsetMsgId, createUniqueId, decodeOffsetMsgId, hexInt64, readInt64, writeInt64 } from '../../protocol/message-id.js';
import { InvalidArgumentError } from '../../protocol/errors.js';
import { formatIPv6, ipv4Bytes, ipv6Bytes } from '../../protocol/socket-address.js';

describe('offset msgId', () => {
  it('encodes IPv4 hosts to 32 uppercase hex characters', () => {
    expect(createOffsetMsgId('127.0.0.1', 9876, 0x118)).toBe('7F000001000026940000000000000118');
    expect(createOffsetMsgId('10.218.145.166', 10700, 433858845551)).toBe('0ADA91A6000029CC0000006504009B6F');
    expect(createOffsetMsgId('0.0.0.0', 0, 2 ** 53 - 1)).toBe('0000000000000000001FFFFFFFFFFFFF');
  });

  it('encodes IPv6 hosts to 56 characters and decodes them back', () => {
    const id = createOffsetMsgId('2001:db8::7', 10911, 12345);
    expect(id).toBe('20010DB8000000000000000000000007' + '00002A9F' + '0000000000003039');
    expect(decodeOffsetMsgId(id)).toEqual({ ip: '2001:db8::7', port: 10911, physicalOffset: 12345 });
    expect(decodeOffsetMsgId(createOffsetMsgId('::ffff:1.2.3.4', 1, 2)).ip).toBe('::ffff:102:304');
  });

  it('round-trips IPv4 ids, upper or lower case', () => {
    const id = createOffsetMsgId('192.168.0.1', 65535, 2 ** 40 + 5);
    expect(decodeOffsetMsgId(id)).toEqual({ ip: '192.168.0.1', port: 65535, physicalOffset: 2 ** 40 + 5 });
    expect(decodeOffsetMsgId(id.toLowerCase())).toEqual(decodeOffsetMsgId(id));
  });

  it.each([
    ['too short', '7F00000100002694000000000000011'],
    ['too long', '7F0000010000269400000000000001188'],
    ['non-hex', '7F000001000026940000000000000G18'],
    ['offset >= 2^53', '7F000001000026940020000000000000'],
    ['negative offset', '7F0000010000269480000000000000000'.slice(0, 32)],
    ['negative port', '7F000001FFFFFFFF0000000000000118'],
    ['empty', ''],
  ])('rejects %s', (_name, id) => {
    expect(() => decodeOffsetMsgId(id)).toThrow(InvalidArgumentError);
  });

  it('rejects bad input when encoding', () => {
    expect(() => createOffsetMsgId('localhost', 1, 1)).toThrow(InvalidArgumentError);
    expect(() => createOffsetMsgId('1.2.3.4', 70000, 1)).toThrow(InvalidArgumentError);
    expect(() => createOffsetMsgId('1.2.3.4', 1, -1)).toThrow(InvalidArgumentError);
    expect(() => createOffsetMsgId('1.2.3.4', 1, 2 ** 53)).toThrow(InvalidArgumentError);
  });
});

describe('unique id (UNIQ_KEY)', () => {
  it('is 32 uppercase hex characters with a per-process prefix and a counter', () => {
    const now = new Date(2026, 10, 25, 6, 0, 0).getTime();
    const a = createUniqueId(now);
    const b = createUniqueId(now);
    expect(a).toMatch(/^[0-9A-F]{32}$/);
    expect(a.slice(0, 20)).toBe(b.slice(0, 20));
    expect(a).not.toBe(b);
    // Time part: ms since the start of the month (local time), as RocketMQ does.
    const monthStart = new Date(2026, 10, 1).getTime();
    expect(parseInt(a.slice(20, 28), 16)).toBe(now - monthStart);
    expect((parseInt(b.slice(28), 16) - parseInt(a.slice(28), 16)) & 0xffff).toBe(1);
  });

  it('restarts the time part in a new month', () => {
    const id = createUniqueId(new Date(2026, 11, 1, 0, 0, 1).getTime());
    expect(parseInt(id.slice(20, 28), 16)).toBe(1000);
  });

  it('gives distinct ids in a burst', () => {
    const ids = new Set(Array.from({ length: 10000 }, () => createUniqueId()));
    expect(ids.size).toBe(10000);
  });
});

describe('IP helpers', () => {
  it('parses IPv4 strictly', () => {
    expect(ipv4Bytes('1.2.3.4')).toEqual([1, 2, 3, 4]);
    for (const bad of ['1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', 'a.b.c.d', '', '1.2.3.4 ']) {
      expect(ipv4Bytes(bad), bad).toBeUndefined();
    }
  });

  it('parses and formats IPv6', () => {
    expect(ipv6Bytes('::1')?.toString('hex')).toBe('00000000000000000000000000000001');
    expect(ipv6Bytes('fe80::1%eth0')?.toString('hex')).toBe('fe800000000000000000000000000001');
    expect(ipv6Bytes('1.2.3.4')).toBeUndefined();
    expect(formatIPv6(Buffer.from('00010000000000020000000000000003', 'hex'), 0)).toBe('1:0:0:2::3');
    expect(formatIPv6(Buffer.alloc(16), 0)).toBe('::');
  });
});

describe('int64 helpers', () => {
  it('round-trip safe integers of both signs, matching BigInt encoding', () => {
    const buf = Buffer.alloc(8);
    for (const v of [0, 1, -1, 2598919, -2147483648, 2 ** 32, -(2 ** 32) - 1, 2 ** 53 - 1, -(2 ** 53 - 1), 1_700_000_000_123]) {
      writeInt64(buf, v, 0);
      expect(buf.readBigInt64BE(0), String(v)).toBe(BigInt(v));
      expect(readInt64(buf, 0)).toBe(v);
    }
  });

  it('refuses an int64 that does not fit the buffer instead of dropping bytes', () => {
    expect(() => writeInt64(Buffer.alloc(8), 1, 1)).toThrow(RangeError);
    expect(() => writeInt64(Buffer.alloc(8), 1, -1)).toThrow(RangeError);
  });

  it('prints the physical-offset part of an offset msgId as 16 hex digits', () => {
    for (const v of [0, 0x118, 433858845551, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1]) {
      expect(hexInt64(v), String(v)).toBe(createOffsetMsgId('0.0.0.0', 0, v).slice(16));
    }
  });
});
