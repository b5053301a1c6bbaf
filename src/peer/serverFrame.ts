import { FIN, LENGTH_16, LENGTH_64, MAX_SHORT_LENGTH, OPCODE_BINARY, OPCODE_TEXT } from './frameFormat.js';

/**
 * @internal A server's frame of one whole message (RFC 6455 §5.2): FIN set, no extension bits,
 * the opcode, the payload length, no mask (§5.1: a server never masks), then the payload, in one
 * buffer of its own. Unmasked, it is the same bytes for every connection it goes to, so
 * `broadcast()` makes it once. Nothing here knows of sockets: the transport writes it.
 */

/**
 * Node's `Buffer` where there is one: a frame that is a `Buffer` goes into a socket's stream as
 * it is, where a plain `Uint8Array` would get a `Buffer` view made for it on every write, once
 * per connection. The browser never frames (its `WebSocket` does), so a plain array does there.
 */
const nodeBuffer = (globalThis as { Buffer?: { allocUnsafe(size: number): Uint8Array } }).Buffer;

let encoder: InstanceType<typeof TextEncoder> | undefined;

/**
 * The frame of `payload` (a string as UTF-8) as a text (`asText`) or binary message. `length` is
 * the payload's size in bytes, counted by the caller (`utf8Length()` for a string, which counts
 * a lone surrogate as U+FFFD, 3 bytes, as the encoder writes it). The payload is copied: the
 * caller may change its bytes as soon as this returns.
 */
export function serverFrame(payload: string | Uint8Array, asText: boolean, length: number): Uint8Array {
  const frame = allocate(headerSize(length) + length);
  writeFrame(frame, 0, payload, asText, length);
  return frame;
}

/**
 * @internal The text frames of `texts`, one after the other in one buffer: what a peer gets in one
 * write when it is sent several messages at once. `lengths` are their UTF-8 sizes, as above.
 */
export function serverTextFrames(texts: readonly string[], lengths: readonly number[]): Uint8Array {
  let size = 0;
  for (const length of lengths) size += headerSize(length) + length;
  const frames = allocate(size);
  let at = 0;
  for (let i = 0; i < texts.length; i++) at = writeFrame(frames, at, texts[i] as string, true, lengths[i] as number);
  return frames;
}

function allocate(size: number): Uint8Array {
  return nodeBuffer ? nodeBuffer.allocUnsafe(size) : new Uint8Array(size);
}

/** The size of the header (§5.2) of a server's frame of `length` payload bytes. */
function headerSize(length: number): number {
  return length <= MAX_SHORT_LENGTH ? 2 : length <= 0xffff ? 4 : 10;
}

/** Writes the frame of `payload` into `frame` at `start`; returns where it ends. */
function writeFrame(
  frame: Uint8Array,
  start: number,
  payload: string | Uint8Array,
  asText: boolean,
  length: number,
): number {
  const at = start + headerSize(length);
  frame[start] = FIN | (asText ? OPCODE_TEXT : OPCODE_BINARY);
  if (at === start + 2) frame[start + 1] = length;
  else if (at === start + 4) {
    frame[start + 1] = LENGTH_16;
    frame[start + 2] = length >>> 8;
    frame[start + 3] = length & 0xff;
  } else {
    // §5.2: a 64-bit length, most significant bit 0. Lengths past 2^32 exist (a 4 GiB buffer).
    frame[start + 1] = LENGTH_64;
    const high = Math.floor(length / 0x1_0000_0000);
    const low = length >>> 0;
    for (let i = 0; i < 4; i++) {
      frame[start + 2 + i] = (high >>> (24 - 8 * i)) & 0xff;
      frame[start + 6 + i] = (low >>> (24 - 8 * i)) & 0xff;
    }
  }
  if (typeof payload === 'string') (encoder ??= new TextEncoder()).encodeInto(payload, frame.subarray(at, at + length));
  else frame.set(payload, at);
  return at + length;
}
