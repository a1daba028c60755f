/**
 * The remoting command: one request or response on the wire (see `frame-codec.ts` for the bytes).
 * `flag` bit 0 marks a response and bit 1 a oneway request; a response echoes its request's
 * `opaque`, which is how a client matches the two on a shared connection.
 */

export const SerializeType = { JSON: 0, ROCKETMQ: 1 } as const;
export type SerializeType = (typeof SerializeType)[keyof typeof SerializeType];

export interface RemotingCommand {
  code: number;
  language: string;
  version: number;
  opaque: number;
  flag: number;
  remark?: string;
  extFields: Record<string, string>;
  /**
   * More extFields entries, already in the binary header's layout (`encodeExtEntries`): fields that
   * repeat request after request (a producer's send header) are encoded once. A binary header writes
   * them after `extFields`' own entries; a JSON header decodes them into its extFields.
   */
  extBytes?: Buffer;
  body?: Buffer;
  serializeType: 0 | 1;
}

export const RPC_RESPONSE_FLAG = 1;
export const RPC_ONEWAY_FLAG = 2;

/** `MQVersion.Version.V4_9_8.ordinal()`. >= 121 makes brokers honour maxReconsumeTimes; >= 401 gets standard-JSON routes. */
export const CLIENT_VERSION = 409;

/** ali-ons and Java clients send "JAVA"; a Java broker rejects names outside its `LanguageCode` enum in binary headers. */
export const DEFAULT_LANGUAGE = 'JAVA';

/** Header values callers may pass; null/undefined are dropped, everything else becomes a string. */
export type ExtFieldsInput = Record<string, string | number | bigint | boolean | null | undefined>;

export function toExtFields(input: ExtFieldsInput | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (input === undefined) return out;
  // for...in reads the values through the enum cache (inputs are object literals); Object.keys would
  // make each read a megamorphic keyed load.
  for (const key in input) {
    const value = input[key];
    if (value !== undefined && value !== null) out[key] = typeof value === 'string' ? value : String(value);
  }
  return out;
}

const MAX_OPAQUE = 0x7fffffff;

/** Request ids 1, 2, … 2^31−1, then 1 again. Never 0: ali-ons replaces an opaque of 0 with a fresh one. */
export class OpaqueGenerator {
  private last: number;

  constructor(start = 0) {
    this.last = start;
  }

  next(): number {
    this.last = this.last >= MAX_OPAQUE || this.last < 0 ? 1 : this.last + 1;
    return this.last;
  }
}

const processOpaques = new OpaqueGenerator();

/** The next request id from this process's shared generator. */
export function nextOpaque(): number {
  return processOpaques.next();
}

export interface CreateRequestOptions {
  opaque?: number;
  language?: string;
  version?: number;
  remark?: string;
  oneway?: boolean;
  serializeType?: SerializeType;
}

export function createRequest(
  code: number,
  extFields?: ExtFieldsInput,
  body?: Buffer,
  opts: CreateRequestOptions = {},
): RemotingCommand {
  const cmd: RemotingCommand = {
    code,
    language: opts.language ?? DEFAULT_LANGUAGE,
    version: opts.version ?? CLIENT_VERSION,
    opaque: opts.opaque ?? nextOpaque(),
    flag: opts.oneway ? RPC_ONEWAY_FLAG : 0,
    extFields: toExtFields(extFields),
    serializeType: opts.serializeType ?? SerializeType.JSON,
  };
  if (opts.remark !== undefined) cmd.remark = opts.remark;
  if (body !== undefined) cmd.body = body;
  return cmd;
}

/** A response to `request`: same opaque and serialize type, response flag set. */
export function createResponse(
  request: RemotingCommand,
  code: number,
  extFields?: ExtFieldsInput,
  remark?: string,
  body?: Buffer,
): RemotingCommand {
  const cmd: RemotingCommand = {
    code,
    language: DEFAULT_LANGUAGE,
    version: CLIENT_VERSION,
    opaque: request.opaque,
    flag: RPC_RESPONSE_FLAG,
    extFields: toExtFields(extFields),
    serializeType: request.serializeType,
  };
  if (remark !== undefined) cmd.remark = remark;
  if (body !== undefined) cmd.body = body;
  return cmd;
}

export function isResponse(cmd: RemotingCommand): boolean {
  return (cmd.flag & RPC_RESPONSE_FLAG) !== 0;
}

export function isOneway(cmd: RemotingCommand): boolean {
  return (cmd.flag & RPC_ONEWAY_FLAG) !== 0;
}

export function markOneway(cmd: RemotingCommand): RemotingCommand {
  cmd.flag |= RPC_ONEWAY_FLAG;
  return cmd;
}
