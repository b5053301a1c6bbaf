// The inbound fast path: whole, unfragmented text and binary frames read straight from the
// socket's chunks, without ws's per-frame machinery; everything else is left to ws's own receiver.
//
// ws parses every frame through a state machine that cuts the chunk into a view per part (header,
// mask, payload), collects fragments in an array and emits 'message' twice (receiver, then
// WebSocket): about seven allocations and two emits for each 64-byte message. Most messages are a
// single frame wholly inside one chunk (Node reads 64 KiB at a time), and for them this reads the
// header in place, unmasks the payload in place (as ws does) and hands the handler a view of it:
// one allocation. Any other frame (control frames, fragments, frames over 64 KiB, a reserved bit,
// a frame ws must refuse) is handed to ws's receiver with all that follows, byte for byte as it
// came, so ws stays the one judge of the protocol and of every error and close code. The fast
// path runs only while ws's receiver holds nothing (no partial frame, no message in fragments),
// and a frame cut by the end of a chunk waits here, not in ws, until it is whole.
//
// It relies on ws's receiver's fields (ws 8: lib/receiver.js), checked before it is used: on a
// receiver of another shape, nothing changes and ws does it all (spec/transport/node/directFrames
// fails loudly then, so an upgrade of ws that moves them is noticed).
import { isUtf8 } from 'node:buffer';
import { isValidUtf8 } from '../../internal/bytes.js';
import { FIN, LENGTH_16, MASKED, OPCODE_BINARY, OPCODE_CLOSE, OPCODE_TEXT } from '../../peer/frameFormat.js';

/** The fields of ws's Receiver (lib/receiver.js) that tell whether it holds anything. */
interface WsReceiver {
  _write(chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void): void;
  /** 0 (GET_INFO): between frames. */
  _state: number;
  /** Bytes of a frame begun, held in its `_buffers`. */
  _bufferedBytes: number;
  /** The opcode of a message whose fragments are arriving, else 0. */
  _fragmented: number;
  /** The last frame's opcode: 8 once a close frame came, after which ws ignores all data. */
  _opcode: number;
  /** 0 for no limit. */
  _maxPayload: number;
  _isServer: boolean;
  _errored: boolean;
  _allowSynchronousEvents: boolean;
  _skipUTF8Validation: boolean;
  /** Negotiated extensions: we negotiate none (no permessage-deflate). */
  _extensions: Record<string, unknown>;
}

/** Where whole messages go. */
export interface DirectMessages {
  binary(bytes: Uint8Array): void;
  text(text: string, byteLength: number): void;
}

const GET_INFO = 0;
/** FIN set, no reserved bit, opcode text or binary: the only first bytes read here. */
const FIN_TEXT = FIN | OPCODE_TEXT;
const FIN_BINARY = FIN | OPCODE_BINARY;
/** Below this, a JS loop checks UTF-8 faster than a call into `buffer.isUtf8()` (ws uses 24 too). */
const NATIVE_UTF8_MIN = 24;

/** @internal Whether `receiver` is ws's receiver as this file knows it. */
export function isKnownReceiver(receiver: unknown): receiver is WsReceiver {
  const r = receiver as Partial<WsReceiver> | null;
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r._write === 'function' &&
    r._state === GET_INFO &&
    r._bufferedBytes === 0 &&
    r._fragmented === 0 &&
    typeof r._opcode === 'number' &&
    typeof r._maxPayload === 'number' &&
    typeof r._isServer === 'boolean' &&
    r._errored === false &&
    r._allowSynchronousEvents === true &&
    r._skipUTF8Validation === false &&
    typeof r._extensions === 'object' &&
    r._extensions !== null &&
    Object.keys(r._extensions).length === 0
  );
}

/**
 * @internal Reads the whole single-frame messages of `receiver`'s socket itself and hands them to
 * `messages`, in order with what ws hands over. Returns whether it could (see `isKnownReceiver`). Call before the first chunk reaches the receiver.
 */
export function readFramesDirectly(receiver: unknown, messages: DirectMessages): boolean {
  if (!isKnownReceiver(receiver)) return false;
  // One closure per connection, and the reader once something arrives: an idle connection costs
  // little more than with ws alone (the idle rows of npm run bench).
  let reader: DirectReader | undefined;
  const wsWrite = receiver._write;
  receiver._write = function directWrite(chunk, encoding, callback): void {
    (reader ??= new DirectReader(receiver, wsWrite, messages)).write(chunk, encoding, callback);
  };
  return true;
}

/** The reading of one receiver's chunks: see the top of this file. */
class DirectReader {
  private readonly isServer: boolean;
  private readonly maxPayload: number;
  /** A frame cut by the end of a chunk, waiting for the rest; ws holds nothing meanwhile. */
  private carry: Buffer | undefined;

  constructor(
    private readonly receiver: WsReceiver,
    /** ws's own `_write`, which reads what this does not. */
    private readonly wsWrite: WsReceiver['_write'],
    private readonly messages: DirectMessages,
  ) {
    this.isServer = receiver._isServer;
    this.maxPayload = receiver._maxPayload;
  }

  write(chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const receiver = this.receiver;
    if (
      receiver._state !== GET_INFO ||
      receiver._bufferedBytes !== 0 ||
      receiver._fragmented !== 0 ||
      receiver._opcode === OPCODE_CLOSE ||
      receiver._errored
    ) {
      // ws is inside something (a frame, fragments, a close): it goes on alone. Nothing is carried.
      this.wsWrite.call(receiver, chunk, encoding, callback);
      return;
    }
    let at = 0;
    const carry = this.carry;
    if (carry !== undefined) {
      // Complete the cut frame: its header first, if it was cut too, then its payload.
      const joined = joinCarry(carry, chunk);
      const size = this.frameSize(joined, 0);
      if (size === 0 || (size > 0 && joined.length < size)) {
        // Still not whole: the chunk was tiny. Keep all of it.
        this.carry = Buffer.concat([carry, chunk]);
        callback();
        return;
      }
      if (size < 0) {
        this.handOver(chunk, 0, encoding, callback);
        return;
      }
      // The frame's own copy, with exactly its bytes; the chunk goes on after them.
      const frame = joined.length === size ? joined : joined.subarray(0, size);
      at = size - carry.length;
      this.carry = undefined;
      if (!this.deliver(frame, 0, size)) {
        this.carry = carry;
        this.handOver(chunk, 0, encoding, callback);
        return;
      }
    }
    const length = chunk.length;
    while (at < length) {
      const size = this.frameSize(chunk, at);
      if (size < 0) break;
      if (size === 0 || length - at < size) {
        this.carry = Buffer.from(chunk.subarray(at));
        callback();
        return;
      }
      if (!this.deliver(chunk, at, size)) break;
      at += size;
    }
    if (at < length) this.handOver(chunk, at, encoding, callback);
    else callback();
  }

  /** ws reads `from` on in `chunk` (and everything after it, after what is carried), and calls back. */
  private handOver(
    chunk: Buffer,
    from: number,
    encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    let rest = from === 0 ? chunk : chunk.subarray(from);
    if (this.carry !== undefined) {
      rest = Buffer.concat([this.carry, rest]);
      this.carry = undefined;
    }
    this.wsWrite.call(this.receiver, rest, encoding, callback);
  }

  /**
   * The size of the frame that starts at `at` in `buffer` when it is one read here, `-1` when ws
   * must read it, `0` when too few of its bytes are there to tell.
   */
  private frameSize(buffer: Buffer, at: number): number {
    const available = buffer.length - at;
    if (available < 2) return 0;
    const first = buffer[at] as number;
    const second = buffer[at + 1] as number;
    if ((first !== FIN_TEXT && first !== FIN_BINARY) || (second & MASKED) !== (this.isServer ? MASKED : 0)) return -1;
    let length = second & 0x7f;
    let header = 2;
    if (length === LENGTH_16) {
      if (available < 4) return 0;
      length = ((buffer[at + 2] as number) << 8) | (buffer[at + 3] as number);
      header = 4;
    } else if (length > LENGTH_16) return -1;
    if (this.maxPayload > 0 && length > this.maxPayload) return -1;
    return header + (this.isServer ? 4 : 0) + length;
  }

  /**
   * Delivers the frame of `size` bytes at `at` in `buffer` (checked by `frameSize`). Returns
   * false, with the frame as it came, when its text is not UTF-8: ws then fails the connection.
   */
  private deliver(buffer: Buffer, at: number, size: number): boolean {
    const isText = buffer[at] === FIN_TEXT;
    const start = at + size - payloadLength(buffer, at);
    const end = at + size;
    let ascii = true;
    if (this.isServer) {
      const m0 = buffer[start - 4] as number;
      const m1 = buffer[start - 3] as number;
      const m2 = buffer[start - 2] as number;
      const m3 = buffer[start - 1] as number;
      // Four bytes a step; whether any byte has its top bit set tells ASCII on the way.
      let seen = 0;
      let i = start;
      for (; i + 3 < end; i += 4) {
        const a = (buffer[i] as number) ^ m0;
        const b = (buffer[i + 1] as number) ^ m1;
        const c = (buffer[i + 2] as number) ^ m2;
        const d = (buffer[i + 3] as number) ^ m3;
        buffer[i] = a;
        buffer[i + 1] = b;
        buffer[i + 2] = c;
        buffer[i + 3] = d;
        seen |= a | b | c | d;
      }
      if (i < end) {
        const b = (buffer[i] as number) ^ m0;
        buffer[i] = b;
        seen |= b;
      }
      if (i + 1 < end) {
        const b = (buffer[i + 1] as number) ^ m1;
        buffer[i + 1] = b;
        seen |= b;
      }
      if (i + 2 < end) {
        const b = (buffer[i + 2] as number) ^ m2;
        buffer[i + 2] = b;
        seen |= b;
      }
      ascii = seen < 0x80;
    } else if (isText) {
      ascii = false;
    }
    if (!isText) {
      this.messages.binary(new Uint8Array(buffer.buffer, buffer.byteOffset + start, end - start));
      return true;
    }
    if (ascii) {
      // ASCII is UTF-8 and reads the same as Latin-1, which makes V8's cheapest strings.
      this.messages.text(buffer.toString('latin1', start, end), end - start);
      return true;
    }
    const payload = buffer.subarray(start, end);
    if (!(payload.length < NATIVE_UTF8_MIN ? isValidUtf8(payload) : isUtf8(payload))) {
      if (this.isServer) remask(buffer, start, end);
      return false;
    }
    this.messages.text(buffer.toString('utf8', start, end), end - start);
    return true;
  }
}

/** The payload length of the frame at `at` (a 7- or 16-bit one: see `frameSize`). */
function payloadLength(buffer: Buffer, at: number): number {
  const length = (buffer[at + 1] as number) & 0x7f;
  return length === LENGTH_16 ? ((buffer[at + 2] as number) << 8) | (buffer[at + 3] as number) : length;
}

/** Masks the payload again, so that ws reads the frame as it came. */
function remask(buffer: Buffer, start: number, end: number): void {
  for (let i = start; i < end; i++)
    buffer[i] = (buffer[i] as number) ^ (buffer[start - 4 + ((i - start) & 3)] as number);
}

/**
 * `carry` followed by as much of `chunk` as the frame `carry` begins can need (its header, then
 * its payload): a copy that is at most one frame of up to 64 KiB.
 */
function joinCarry(carry: Buffer, chunk: Buffer): Buffer {
  // The largest header read here is 8 bytes (16-bit length and mask).
  const head = carry.length >= 8 ? carry : Buffer.concat([carry, chunk.subarray(0, 8 - carry.length)]);
  let want = 8;
  if (head.length >= 2) {
    const length = (head[1] as number) & 0x7f;
    if (length < LENGTH_16) want = 2 + ((head[1] as number) & MASKED ? 4 : 0) + length;
    else if (length === LENGTH_16 && head.length >= 4) {
      want = 4 + ((head[1] as number) & MASKED ? 4 : 0) + (((head[2] as number) << 8) | (head[3] as number));
    }
  }
  const take = Math.max(0, Math.min(chunk.length, want - carry.length));
  return Buffer.concat([carry, chunk.subarray(0, take)]);
}
