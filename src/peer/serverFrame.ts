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
  const at = length <= MAX_SHORT_LENGTH ? 2 : length <= 0xffff ? 4 : 10;
  const frame = nodeBuffer ? nodeBuffer.allocUnsafe(at + length) : new Uint8Array(at + length);
  frame[0] = FIN | (asText ? OPCODE_TEXT : OPCODE_BINARY);
  if (at === 2) frame[1] = length;
  else if (at === 4) {
    frame[1] = LENGTH_16;
    frame[2] = length >>> 8;
    frame[3] = length & 0xff;
  } else {
    // §5.2: a 64-bit length, most significant bit 0. Lengths past 2^32 exist (a 4 GiB buffer).
    frame[1] = LENGTH_64;
    const high = Math.floor(length / 0x1_0000_0000);
    const low = length >>> 0;
    for (let i = 0; i < 4; i++) {
      frame[2 + i] = (high >>> (24 - 8 * i)) & 0xff;
      frame[6 + i] = (low >>> (24 - 8 * i)) & 0xff;
    }
  }
  if (typeof payload === 'string') (encoder ??= new TextEncoder()).encodeInto(payload, frame.subarray(at));
  else frame.set(payload, at);
  return frame;
}
