/**
 * Remoting frames. Big-endian:
 *
 *   | length      uint32 | 4 + headerLength + bodyLength (the length field itself is not counted)
 *   | type:8 hlen:24     | bits 24–31 serialize type (0 JSON, 1 ROCKETMQ binary), bits 0–23 header length
 *   | header             | headerLength bytes (see header-codec.ts)
 *   | body               | the rest, raw bytes, may be empty
 *
 * `FrameDecoder` is a push parser: feed it socket chunks of any size and it returns the commands
 * completed so far, or let the socket read into buffers it hands out (`readBuffer`/`pushRead`). It checks a frame's length against `maxFrameSize` before buffering or allocating
 * for it, so a forged length costs nothing. A `FrameError` means the stream is out of sync: close
 * the connection (the decoder refuses further input).
 */
import type { Writable } from 'node:stream';
import { FrameError, InvalidArgumentError } from './errors.js';
import {
  binaryHeaderBound,
  decodeBinaryHeader,
  decodeJsonHeader,
  encodeJsonHeader,
  writeBinaryHeader,
  type CommandHeader,
} from './header-codec.js';
import { putInt32 } from './int-codec.js';
import { SerializeType, type RemotingCommand } from './remoting-command.js';

/** Java's Netty decoder default (`com.rocketmq.remoting.frameMaxLength`). */
export const DEFAULT_MAX_FRAME_SIZE = 16 * 1024 * 1024;
export const MAX_HEADER_LENGTH = 0xffffff;
const PREFIX = 8;

export interface FrameDecoderOptions {
  /** Largest accepted frame in bytes, counting the 4-byte length field. */
  maxFrameSize: number;
}

/** `readBuffer` hands out the rest of a chunk of this size to reads until less than `MIN_READ_ROOM` is left. */
const READ_CHUNK = 64 * 1024;
const MIN_READ_ROOM = 8 * 1024;
/** A frame with at least this many bytes still to come is read straight into its own buffer. */
const DIRECT_READ_MIN = 32 * 1024;
/**
 * After a frame read in place, reads up to the next frame's length field take at most this much:
 * what lands before it is known is copied into that frame's buffer (up to 64 KiB otherwise).
 */
const HEAD_READ = 4 * 1024;

export class FrameDecoder {
  private readonly maxFrameSize: number;
  /** Unconsumed input; `chunks[0]` is consumed up to `headOffset`. */
  private chunks: Buffer[] = [];
  private headOffset = 0;
  private buffered = 0;
  /** Length field of the frame being collected, once read and checked; -1 before that. */
  private frameLength = -1;
  private failure: FrameError | undefined;
  /** `readBuffer` reads land in `readChunk` from `readPos` on. */
  private readChunk: Buffer = EMPTY;
  private readPos = 0;
  /** A large frame being read into place (`readBuffer`), and its bytes read so far. */
  private direct: Buffer | undefined;
  private directFilled = 0;
  /** The last frame completed was read in place: the next one is likely large too (a consumer's pull answers). */
  private afterDirect = false;

  constructor(opts: FrameDecoderOptions) {
    if (!Number.isInteger(opts.maxFrameSize) || opts.maxFrameSize < PREFIX) {
      throw new InvalidArgumentError(`maxFrameSize must be an integer >= ${PREFIX}, got ${opts.maxFrameSize}`);
    }
    this.maxFrameSize = opts.maxFrameSize;
  }

  /** Bytes held for a frame that has not fully arrived (0 between frames). */
  pendingBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer): RemotingCommand[] {
    if (this.failure) throw this.failure;
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const out: RemotingCommand[] = [];
    try {
      for (;;) {
        if (this.frameLength < 0) {
          if (this.buffered < 4) break;
          this.frameLength = this.readLength();
        }
        if (this.buffered < 4 + this.frameLength) break;
        out.push(this.takeFrame(4 + this.frameLength));
        this.frameLength = -1;
      }
    } catch (err) {
      throw this.fail(err);
    }
    return out;
  }

  /**
   * Where the next socket read should land (`net.connect`'s `onread.buffer`); report what it read
   * with `pushRead`. The rest of a frame of at least `DIRECT_READ_MIN` bytes is read straight into
   * that frame's buffer (no copy from chunks, no chunk per read); other reads share 64 KiB chunks.
   */
  readBuffer(): Buffer {
    if (this.direct === undefined && this.failure === undefined && this.frameLength >= 0 && 4 + this.frameLength - this.buffered >= DIRECT_READ_MIN) {
      this.startDirect(4 + this.frameLength);
    }
    if (this.direct !== undefined) return this.direct.subarray(this.directFilled);
    if (this.readChunk.length - this.readPos < MIN_READ_ROOM) {
      this.readChunk = Buffer.allocUnsafe(READ_CHUNK);
      this.readPos = 0;
    }
    return this.readChunk.subarray(this.readPos, this.afterDirect && this.frameLength < 0 ? this.readPos + HEAD_READ : this.readChunk.length);
  }

  /** `n` bytes were read into the buffer `readBuffer` gave last: returns the commands completed. */
  pushRead(n: number): RemotingCommand[] {
    if (this.failure) throw this.failure;
    const frame = this.direct;
    if (frame === undefined) {
      const start = this.readPos;
      this.readPos += n;
      const out = this.push(this.readChunk.subarray(start, start + n));
      if (out.length > 0) this.afterDirect = false;
      return out;
    }
    this.directFilled += n;
    this.buffered += n;
    if (this.directFilled < frame.length) return [];
    this.afterDirect = true;
    this.direct = undefined;
    this.buffered = 0;
    this.frameLength = -1;
    try {
      return [decodeFrameBody(frame, 0, frame.length)];
    } catch (err) {
      throw this.fail(err);
    }
  }

  /** Moves the buffered start of the current frame (of `n` bytes) into its own buffer, which reads then fill. */
  private startDirect(n: number): void {
    const frame = Buffer.allocUnsafe(n);
    let filled = 0;
    for (const chunk of this.chunks) {
      filled += chunk.copy(frame, filled, this.headOffset);
      this.headOffset = 0;
    }
    this.chunks = [];
    this.direct = frame;
    this.directFilled = filled;
  }

  private fail(err: unknown): FrameError {
    this.failure = err instanceof FrameError ? err : new FrameError(String(err), { cause: err });
    this.chunks = [];
    this.buffered = 0;
    this.direct = undefined;
    return this.failure;
  }

  private readLength(): number {
    const head = this.chunks[0];
    let length: number;
    if (head.length - this.headOffset >= 4) {
      length = head.readUInt32BE(this.headOffset);
    } else {
      length = 0;
      let i = 0;
      let off = this.headOffset;
      for (let n = 0; n < 4; n++) {
        while (off >= this.chunks[i].length) {
          i++;
          off = 0;
        }
        length = length * 256 + this.chunks[i][off++];
      }
    }
    if (length < 4) throw new FrameError(`frame length ${length} is less than 4`);
    if (length + 4 > this.maxFrameSize) {
      throw new FrameError(`frame of ${length + 4} bytes exceeds maxFrameSize ${this.maxFrameSize}`);
    }
    return length;
  }

  /** Removes and decodes a frame of `n` buffered bytes: in place when it sits in one chunk, else from one copy. */
  private takeFrame(n: number): RemotingCommand {
    const head = this.chunks[0];
    if (head.length - this.headOffset >= n) {
      const start = this.headOffset;
      this.headOffset += n;
      if (this.headOffset === head.length) {
        this.chunks.shift();
        this.headOffset = 0;
      }
      this.buffered -= n;
      return decodeFrameBody(head, start, start + n);
    }
    const frame = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0];
      const available = chunk.length - this.headOffset;
      const used = Math.min(available, n - filled);
      chunk.copy(frame, filled, this.headOffset, this.headOffset + used);
      filled += used;
      if (used === available) {
        this.chunks.shift();
        this.headOffset = 0;
      } else {
        this.headOffset += used;
      }
    }
    this.buffered -= n;
    return decodeFrameBody(frame, 0, n);
  }
}

/** Decodes one complete frame (length field included). The body is a view into `frame`. */
export function decodeFrame(frame: Buffer): RemotingCommand {
  if (frame.length < PREFIX) throw new FrameError(`frame of ${frame.length} bytes is shorter than ${PREFIX}`);
  const length = frame.readUInt32BE(0);
  if (length !== frame.length - 4) {
    throw new FrameError(`frame length field ${length} does not match the ${frame.length - 4} bytes given`);
  }
  return decodeFrameBody(frame, 0, frame.length);
}

/** Decodes the frame in `buf[start, end)` (length field included); header and body are read in place. */
function decodeFrameBody(buf: Buffer, start: number, end: number): RemotingCommand {
  const length = end - start - 4;
  if (length < 4) throw new FrameError(`frame length ${length} is less than 4`);
  const word = buf.readUInt32BE(start + 4);
  const serializeType = word >>> 24;
  const headerLength = word & 0xffffff;
  if (headerLength > length - 4) {
    throw new FrameError(`header length ${headerLength} exceeds frame length ${length} - 4`);
  }
  const headerStart = start + PREFIX;
  const headerEnd = headerStart + headerLength;
  let header: CommandHeader;
  if (serializeType === SerializeType.JSON) header = decodeJsonHeader(buf, headerStart, headerEnd);
  else if (serializeType === SerializeType.ROCKETMQ) header = decodeBinaryHeader(buf, headerStart, headerEnd);
  else throw new FrameError(`unknown serialize type ${serializeType}`);
  const cmd = header as RemotingCommand;
  cmd.serializeType = serializeType;
  if (headerEnd < end) cmd.body = buf.subarray(headerEnd, end);
  return cmd;
}

/**
 * `[length + header word + header, body?]`, ready for `socket.cork()` + writes or `writev`; the body
 * is passed through, never copied. The header uses the command's serialize type, so a response built
 * by `createResponse` answers in its request's type.
 */
export function encodeFrame(cmd: RemotingCommand): Buffer[] {
  const json = jsonHeaderOf(cmd);
  const head = Buffer.allocUnsafe(frameHeadBound(cmd, json));
  const end = writeFrameHead(cmd, json, head, 0);
  const bodyLength = cmd.body?.length ?? 0;
  return bodyLength > 0 ? [head.subarray(0, end), cmd.body as Buffer] : [head.subarray(0, end)];
}

/** The header text of a JSON command (built once per frame), undefined for a binary one. */
function jsonHeaderOf(cmd: RemotingCommand): string | undefined {
  if (cmd.serializeType === SerializeType.ROCKETMQ) return undefined;
  if (cmd.serializeType === SerializeType.JSON) return encodeJsonHeader(cmd);
  throw new InvalidArgumentError(`unknown serialize type ${String(cmd.serializeType)}`);
}

/** Room `writeFrameHead` needs. */
function frameHeadBound(cmd: RemotingCommand, json: string | undefined): number {
  return PREFIX + (json === undefined ? binaryHeaderBound(cmd) : 3 * json.length);
}

/** Writes length, header word and header at `out[pos]`; returns the position after the header (the body is not written). */
function writeFrameHead(cmd: RemotingCommand, json: string | undefined, out: Buffer, pos: number): number {
  const headerStart = pos + PREFIX;
  const headerEnd = json === undefined ? writeBinaryHeader(cmd, out, headerStart) : headerStart + out.write(json, headerStart, 'utf8');
  const headerLength = headerEnd - headerStart;
  const bodyLength = cmd.body?.length ?? 0;
  checkLengths(headerLength, bodyLength);
  putInt32(out, pos, 4 + headerLength + bodyLength);
  putInt32(out, pos + 4, (cmd.serializeType << 24) | headerLength);
  return headerEnd;
}

/** What `writeFrame` needs of a socket (a `net.Socket` or any `stream.Writable`). */
export type FrameSink = Pick<Writable, 'cork' | 'uncork' | 'write' | 'writableNeedDrain' | 'destroyed'>;

/**
 * Frames given to `writeFrame` in the current turn, not yet handed to their sink. Small frames are
 * encoded straight into `chunk` at `pos`, one after the other: `chunk[start, pos)` is the run not
 * yet cut into `parts`. Bytes before `start` belong to parts (maybe still being sent), so the chunk
 * is only ever written past `pos`; the room left after a flush serves the next turn.
 */
interface Outbox {
  chunk: Buffer;
  start: number;
  pos: number;
  parts: Buffer[];
  bytes: number;
  scheduled: boolean;
}

const outboxes = new WeakMap<FrameSink, Outbox>();

/** Bodies this big (pull answers) are handed over as they are; smaller ones are copied into the chunk. */
const GATHER_LIMIT = 16 * 1024;
/**
 * A busy sink (at least `BUSY_BYTES` in a turn) gets chunks of `CHUNK_SIZE` and keeps the room left
 * after a flush (when it is at least `BUSY_BYTES`) for the next turn. A quiet one gets chunks of
 * `QUIET_CHUNK` (from Node's buffer pool) and keeps nothing between turns: a thousand idle
 * connections hold no outbox memory.
 */
const CHUNK_SIZE = 32 * 1024;
const QUIET_CHUNK = 2 * 1024;
const BUSY_BYTES = 4 * 1024;
const EMPTY = Buffer.alloc(0);

/**
 * Writes a command's frame on the next tick, together with every frame written to the sink in this
 * turn of the event loop (the responses of one group commit, a producer's concurrent sends): small
 * frames are encoded one after the other into one buffer, so the turn costs one `write` (or one
 * `writev` with large bodies), with no buffer per frame and no concatenation. Returns false while
 * the sink's buffer is full (a write returned false and 'drain' has not come yet).
 */
export function writeFrame(sink: FrameSink, cmd: RemotingCommand): boolean {
  let outbox = outboxes.get(sink);
  if (outbox === undefined) {
    outbox = { chunk: EMPTY, start: 0, pos: 0, parts: [], bytes: 0, scheduled: false };
    outboxes.set(sink, outbox);
  }
  const body = cmd.body;
  const bodyLength = body?.length ?? 0;
  const gather = bodyLength < GATHER_LIMIT;
  const json = jsonHeaderOf(cmd);
  const room = frameHeadBound(cmd, json) + (gather ? bodyLength : 0);
  if (outbox.chunk.length - outbox.pos < room) newChunk(outbox, room);
  const chunk = outbox.chunk;
  let pos = writeFrameHead(cmd, json, chunk, outbox.pos);
  outbox.bytes += pos - outbox.pos + bodyLength;
  if (bodyLength > 0) {
    if (gather) {
      pos += (body as Buffer).copy(chunk, pos);
    } else {
      outbox.parts.push(chunk.subarray(outbox.start, pos), body as Buffer);
      outbox.start = pos;
    }
  }
  outbox.pos = pos;
  if (!outbox.scheduled) {
    outbox.scheduled = true;
    process.nextTick(flushOutbox, sink, outbox);
  }
  return !sink.writableNeedDrain;
}

/** Cuts the pending run into a part and continues in a fresh chunk with at least `room` bytes. */
function newChunk(outbox: Outbox, room: number): void {
  if (outbox.pos > outbox.start) outbox.parts.push(outbox.chunk.subarray(outbox.start, outbox.pos));
  outbox.chunk = Buffer.allocUnsafe(Math.max(outbox.bytes >= BUSY_BYTES ? CHUNK_SIZE : QUIET_CHUNK, room));
  outbox.start = 0;
  outbox.pos = 0;
}

/** Bytes given to `writeFrame` in this tick and not yet handed to `sink`. */
export function queuedFrameBytes(sink: FrameSink): number {
  return outboxes.get(sink)?.bytes ?? 0;
}

function flushOutbox(sink: FrameSink, outbox: Outbox): void {
  const parts = outbox.parts;
  if (outbox.pos > outbox.start) parts.push(outbox.chunk.subarray(outbox.start, outbox.pos));
  const busy = outbox.bytes >= BUSY_BYTES;
  outbox.parts = [];
  outbox.bytes = 0;
  outbox.scheduled = false;
  outbox.start = outbox.pos;
  // A chunk made larger for one big frame is not kept for the turns after it either.
  if (!busy || outbox.chunk.length - outbox.pos < BUSY_BYTES || outbox.chunk.length > CHUNK_SIZE) {
    outbox.chunk = EMPTY;
    outbox.start = 0;
    outbox.pos = 0;
  }
  if (sink.destroyed) return;
  if (parts.length === 1) {
    sink.write(parts[0]);
    return;
  }
  sink.cork();
  for (const part of parts) sink.write(part);
  sink.uncork();
}

function checkLengths(headerLength: number, bodyLength: number): void {
  if (headerLength > MAX_HEADER_LENGTH) {
    throw new InvalidArgumentError(`header of ${headerLength} bytes exceeds the ${MAX_HEADER_LENGTH}-byte limit`);
  }
  if (4 + headerLength + bodyLength > 0x7fffffff) {
    throw new InvalidArgumentError(`frame of ${4 + headerLength + bodyLength} bytes exceeds the int32 length field`);
  }
}
