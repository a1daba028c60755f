/**
 * Typed errors shared by broker and client. Every FerryMQ error extends `FerryMQError`, which says
 * whether retrying may help and keeps the `cause` chain. Wire response codes become errors in one
 * place, `errorFromResponse`, driven by the `RESPONSE_CODES` table.
 */
import { requestCodeName } from './request-code.js';
import { responseCodeInfo } from './response-code.js';

export interface FerryMQErrorOptions {
  code?: number;
  retriable?: boolean;
  cause?: unknown;
}

export class FerryMQError extends Error {
  /** A wire response code when the error came from one. */
  readonly code?: number;
  readonly retriable: boolean;

  constructor(message: string, options: FerryMQErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code;
    this.retriable = options.retriable ?? false;
  }
}

/** The broker answered with a non-success response code. */
export class BrokerResponseError extends FerryMQError {
  declare readonly code: number;
  readonly codeName: string;
  readonly remark: string | undefined;
  readonly requestCode: number | undefined;

  constructor(
    code: number,
    codeName: string,
    remark: string | undefined,
    requestCode: number | undefined,
    options: { retriable?: boolean; message?: string; cause?: unknown } = {},
  ) {
    const what = options.message ?? codeName;
    const request = requestCode === undefined ? '' : ` to ${requestCodeName(requestCode)}`;
    super(`${codeName} (${code})${request}: ${what}${remark ? ` (${remark})` : ''}`, {
      code,
      retriable: options.retriable ?? false,
      cause: options.cause,
    });
    this.codeName = codeName;
    this.remark = remark;
    this.requestCode = requestCode;
  }
}

/** No response arrived in time. */
export class RequestTimeoutError extends FerryMQError {
  readonly opaque: number;
  readonly requestCode: number;
  readonly timeoutMs: number;
  readonly address: string;

  constructor(opaque: number, requestCode: number, timeoutMs: number, address: string) {
    super(`${requestCodeName(requestCode)} (opaque ${opaque}) to ${address} timed out after ${timeoutMs} ms`, {
      retriable: true,
    });
    this.opaque = opaque;
    this.requestCode = requestCode;
    this.timeoutMs = timeoutMs;
    this.address = address;
  }
}

/** The connection closed before a response arrived (or was closed when a request was made). */
export class ConnectionClosedError extends FerryMQError {
  readonly address: string;

  constructor(address: string, options: { cause?: unknown; message?: string } = {}) {
    super(options.message ?? `connection to ${address} closed`, { retriable: true, cause: options.cause });
    this.address = address;
  }
}

/** Malformed bytes on the wire: the connection that produced them cannot be trusted any more. */
export class FrameError extends FerryMQError {
  readonly reason: string;

  constructor(reason: string, options: { cause?: unknown } = {}) {
    super(`malformed frame: ${reason}`, { retriable: false, cause: options.cause });
    this.reason = reason;
  }
}

/** A caller passed a value FerryMQ cannot accept (bad id, bad expression, out-of-range number). */
export class InvalidArgumentError extends FerryMQError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { retriable: false, cause: options.cause });
  }
}

/**
 * The error for a non-success response. Codes outside the table give a `BrokerResponseError` whose
 * message says `unknown response code N`, so a newer broker never crashes an older client.
 */
export function errorFromResponse(code: number, remark?: string, requestCode?: number): BrokerResponseError {
  const row = responseCodeInfo(code);
  if (row === undefined) {
    return new BrokerResponseError(code, `UNKNOWN_RESPONSE_CODE_${code}`, remark, requestCode, {
      message: `unknown response code ${code}`,
    });
  }
  return new BrokerResponseError(code, row.name, remark, requestCode, {
    retriable: row.retriable,
    message: row.message,
  });
}
