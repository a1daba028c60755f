/**
 * Reading request header fields with clear errors, and answering. Values arrive as strings (the
 * frame decoder coerces ali-ons' numbers and booleans); a missing or malformed required field is
 * answered with SYSTEM_ERROR and a remark naming it, as RocketMQ does for a header it cannot decode.
 */
import { FerryMQError } from '../../protocol/errors.js';
import { createResponse, isOneway, type RemotingCommand } from '../../protocol/remoting-command.js';
import { requestCodeName } from '../../protocol/request-code.js';
import { ResponseCode } from '../../protocol/response-code.js';
import type { HandlerAnswer, RequestContext } from '../broker-context.js';
import { parseIntegerField } from '../../protocol/send-header.js';

/** A handler's refusal: answered with `code` and `remark` instead of SYSTEM_ERROR. */
export class RequestRejectedError extends FerryMQError {
  declare readonly code: number;

  constructor(code: number, remark: string) {
    super(remark, { code });
  }
}

export function badHeader(field: string, why: string): RequestRejectedError {
  return new RequestRejectedError(ResponseCode.SYSTEM_ERROR, `the custom field <${field}> ${why}`);
}

export function requireString(request: RemotingCommand, field: string): string {
  const value = request.extFields[field];
  if (value === undefined || value === '') throw badHeader(field, 'is missing');
  return value;
}

export function optionalString(request: RemotingCommand, field: string): string | undefined {
  return request.extFields[field];
}

function parseInteger(field: string, value: string, min: number, max: number): number {
  let n: number;
  try {
    // Long.parseLong's digits, as the send header reads them (surrounding blanks tolerated).
    n = parseIntegerField(field, value.trim());
  } catch {
    throw badHeader(field, /^\s*[-+]?\d+\s*$/.test(value) ? `is out of range: ${value}` : `is not an integer: "${value}"`);
  }
  if (n < min || n > max) throw badHeader(field, `is out of range: ${value}`);
  return n;
}

const INT_MIN = -0x80000000;
const INT_MAX = 0x7fffffff;

/** A Java int field. */
export function requireInt(request: RemotingCommand, field: string): number {
  return parseInteger(field, requireString(request, field), INT_MIN, INT_MAX);
}

export function optionalInt(request: RemotingCommand, field: string, fallback: number): number {
  const value = request.extFields[field];
  return value === undefined || value === '' ? fallback : parseInteger(field, value, INT_MIN, INT_MAX);
}

/** A Java long field, limited to JavaScript's safe integers (offsets and timestamps fit). */
export function requireLong(request: RemotingCommand, field: string): number {
  return parseInteger(field, requireString(request, field), Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
}

export function optionalLong(request: RemotingCommand, field: string, fallback: number): number {
  const value = request.extFields[field];
  return value === undefined || value === '' ? fallback : parseInteger(field, value, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
}

/**
 * A Java long that may be `Long.MAX_VALUE` or `Long.MIN_VALUE` meaning "no bound" (Java clients send
 * `endTimestamp=9223372036854775807`): values beyond JavaScript's safe integers are clamped to them.
 */
export function optionalLongClamped(request: RemotingCommand, field: string, fallback: number): number {
  const value = request.extFields[field];
  if (value === undefined || value === '') return fallback;
  if (!/^-?\d+$/.test(value.trim())) throw badHeader(field, `is not an integer: "${value}"`);
  const n = Number(value);
  return Math.min(Math.max(n, Number.MIN_SAFE_INTEGER), Number.MAX_SAFE_INTEGER);
}

export function optionalBool(request: RemotingCommand, field: string, fallback: boolean): boolean {
  const value = request.extFields[field];
  if (value === undefined || value === '') return fallback;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw badHeader(field, `is not a boolean: "${value}"`);
}

/** The answer for a handler failure: a refusal keeps its code, anything else is SYSTEM_ERROR. */
export function responseForError(request: RemotingCommand, err: unknown): RemotingCommand {
  if (err instanceof RequestRejectedError) return createResponse(request, err.code, undefined, err.message);
  return createResponse(request, ResponseCode.SYSTEM_ERROR, undefined, err instanceof Error ? err.message : String(err));
}

/**
 * Runs a handler and sends its answer on the request's connection: at once when it answered
 * synchronously, else once its promise settles; nothing for null (no answer, or not yet) or a oneway
 * request. A failure is answered with its response code, and logged unless it is a refusal.
 */
export function respond(ctx: RequestContext, request: RemotingCommand, handler: (ctx: RequestContext, request: RemotingCommand) => HandlerAnswer): void {
  let answer: HandlerAnswer;
  try {
    answer = handler(ctx, request);
  } catch (err) {
    respondFailed(ctx, request, err);
    return;
  }
  if (answer instanceof Promise) {
    answer.then(
      (response) => respondWith(ctx, request, response),
      (err: unknown) => respondFailed(ctx, request, err),
    );
  } else respondWith(ctx, request, answer);
}

function respondWith(ctx: RequestContext, request: RemotingCommand, response: RemotingCommand | null): void {
  if (response && !isOneway(request)) ctx.connection.send(response);
}

function respondFailed(ctx: RequestContext, request: RemotingCommand, err: unknown): void {
  if (isOneway(request)) return;
  if (!(err instanceof RequestRejectedError)) ctx.broker.logger.error({ err, code: requestCodeName(request.code) }, 'request handler failed');
  ctx.connection.send(responseForError(request, err));
}
