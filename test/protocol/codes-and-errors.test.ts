import { describe, expect, it } from 'vitest';
import { RequestCode, requestCodeName } from '../../protocol/request-code.js';
import { RESPONSE_CODES, ResponseCode, responseCodeName } from '../../protocol/response-code.js';
import {
  BrokerResponseError,
  ConnectionClosedError,
  FerryMQError,
  FrameError,
  RequestTimeoutError,
  errorFromResponse,
} from '../../protocol/errors.js';
import {
  CLIENT_VERSION,
  OpaqueGenerator,
  createRequest,
  createResponse,
  isOneway,
  isResponse,
  markOneway,
} from '../../protocol/remoting-command.js';

describe('request codes', () => {
  it('has every code the brief and ali-ons need, with 4.9.8 names', () => {
    const wanted = [
      10, 11, 12, 14, 15, 17, 21, 28, 29, 30, 31, 32, 33, 34, 35, 36, 38, 40, 41, 42, 43, 101, 105, 200, 201,
      202, 203, 204, 207, 208, 215, 217, 220, 222, 310, 320,
    ];
    const codes = new Set<number>(Object.values(RequestCode));
    for (const code of wanted) expect(codes.has(code), `code ${code}`).toBe(true);
    expect(RequestCode.SEND_MESSAGE_V2).toBe(310);
    expect(RequestCode.GET_ROUTEINFO_BY_TOPIC).toBe(105);
    expect(requestCodeName(36)).toBe('CONSUMER_SEND_MSG_BACK');
    expect(requestCodeName(9999)).toBe('UNKNOWN_REQUEST_CODE_9999');
  });

  it('has no two names for one code', () => {
    const values = Object.values(RequestCode);
    expect(new Set(values).size).toBe(values.length);
  });
});

describe('response codes', () => {
  it('matches RocketMQ values and has one table row per code', () => {
    expect(ResponseCode.SUCCESS).toBe(0);
    expect(ResponseCode.REQUEST_CODE_NOT_SUPPORTED).toBe(3);
    expect(ResponseCode.TOPIC_NOT_EXIST).toBe(17);
    expect(ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST).toBe(26);
    expect(RESPONSE_CODES.map((r) => r.code).sort((a, b) => a - b)).toEqual(
      Object.values(ResponseCode).sort((a, b) => a - b),
    );
    for (const row of RESPONSE_CODES) expect(ResponseCode[row.name]).toBe(row.code);
    expect(responseCodeName(21)).toBe('PULL_OFFSET_MOVED');
  });
});

describe('errors', () => {
  it('maps a known code through the table', () => {
    const err = errorFromResponse(17, 'topic X not exist', RequestCode.SEND_MESSAGE_V2);
    expect(err).toBeInstanceOf(BrokerResponseError);
    expect(err).toBeInstanceOf(FerryMQError);
    expect(err.code).toBe(17);
    expect(err.codeName).toBe('TOPIC_NOT_EXIST');
    expect(err.remark).toBe('topic X not exist');
    expect(err.requestCode).toBe(310);
    expect(err.retriable).toBe(false);
    expect(err.message).toContain('SEND_MESSAGE_V2');
    expect(err.message).toContain('topic X not exist');
    expect(errorFromResponse(2).retriable).toBe(true);
  });

  it('turns an unknown code into an error, not a crash', () => {
    const err = errorFromResponse(7777, 'boom', 11);
    expect(err).toBeInstanceOf(BrokerResponseError);
    expect(err.message).toContain('unknown response code 7777');
    expect(err.message).toContain('boom');
    expect(err.codeName).toBe('UNKNOWN_RESPONSE_CODE_7777');
  });

  it('carries the data needed to act', () => {
    const timeout = new RequestTimeoutError(5, 11, 3000, '127.0.0.1:10911');
    expect(timeout.retriable).toBe(true);
    expect(timeout.message).toContain('PULL_MESSAGE');
    expect(timeout.name).toBe('RequestTimeoutError');
    const cause = new Error('ECONNRESET');
    const closed = new ConnectionClosedError('127.0.0.1:1', { cause });
    expect(closed.cause).toBe(cause);
    expect(new FrameError('length < 4').reason).toBe('length < 4');
  });
});

describe('remoting command', () => {
  it('builds requests and responses', () => {
    const req = createRequest(RequestCode.PULL_MESSAGE, { topic: 't', queueId: 0, k: false, x: undefined, y: null });
    expect(req.extFields).toEqual({ topic: 't', queueId: '0', k: 'false' });
    expect(req.language).toBe('JAVA');
    expect(req.version).toBe(CLIENT_VERSION);
    expect(req.opaque).toBeGreaterThan(0);
    expect(isResponse(req)).toBe(false);
    expect(isOneway(req)).toBe(false);
    markOneway(req);
    expect(isOneway(req)).toBe(true);
    const res = createResponse({ ...req, serializeType: 1 }, 0, { offset: 3 }, 'ok');
    expect(res.opaque).toBe(req.opaque);
    expect(isResponse(res)).toBe(true);
    expect(res.serializeType).toBe(1);
    expect(res.extFields).toEqual({ offset: '3' });
    expect(res.remark).toBe('ok');
  });

  it('never yields opaque 0, also across wrap-around', () => {
    const gen = new OpaqueGenerator(0x7ffffffe);
    expect(gen.next()).toBe(0x7fffffff);
    expect(gen.next()).toBe(1);
    expect(gen.next()).toBe(2);
  });
});
