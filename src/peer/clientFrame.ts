import { randomFillSync } from 'node:crypto';

/**
 * @internal Client frames, made here rather than by `ws`: RFC 6455 §5.2 framing of one whole
 * message (FIN set, no extension bits) with the masking §5.3 requires of a client. `ws` masks a
 * byte at a time without its optional native addon; this masks a 32-bit word at a time, in the
 * one buffer that holds the whole frame, so a client's message costs one allocation and one copy.
 */

/** Masking keys come from this pool of random bytes, refilled when used up (as `ws` does). */
const keyPool = Buffer.allocUnsafe(8 * 1024);
let keyOffset = keyPool.length;
/** The current key, as bytes and as the word those bytes make in this machine's byte order. */
const keyBytes = new Uint8Array(4);
const keyWord = new Uint32Array(keyBytes.buffer);

/** Payloads from this size on are masked a word at a time; below, the loop setup costs more. */
const WORD_MASK_MIN_BYTES = 128;

const OPCODE_TEXT = 0x1;
const OPCODE_BINARY = 0x2;
const FIN = 0x80;
const MASKED = 0x80;

/**
 * One masked frame with all of `data` (a string as UTF-8), as a `Buffer` of its own: the caller
 * may change `data` as soon as this returns. `length` is the payload's size in bytes.
 */
export function clientFrame(
  data: string | Uint8Array,
  asText: boolean,
  length = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength,
): Buffer {
  const lengthBytes = length < 126 ? 0 : length < 0x10000 ? 2 : 8;
  const headerBytes = 2 + lengthBytes + 4;
  const byWords = length >= WORD_MASK_MIN_BYTES;
  // Room to start the payload on an 8-byte boundary, so that it can be read as 32-bit words.
  const room = byWords ? 7 : 0;
  const buffer = Buffer.allocUnsafe(room + headerBytes + length);
  const start = byWords ? (8 - ((buffer.byteOffset + headerBytes) % 8)) % 8 : 0;
  const frame = room === 0 ? buffer : buffer.subarray(start, start + headerBytes + length);

  frame[0] = FIN | (asText ? OPCODE_TEXT : OPCODE_BINARY);
  let at = 2;
  if (lengthBytes === 0) frame[1] = MASKED | length;
  else if (lengthBytes === 2) {
    frame[1] = MASKED | 126;
    frame.writeUInt16BE(length, 2);
    at = 4;
  } else {
    frame[1] = MASKED | 127;
    frame.writeUInt32BE(Math.floor(length / 0x1_0000_0000), 2);
    frame.writeUInt32BE(length >>> 0, 6);
    at = 10;
  }
  if (keyOffset + 4 > keyPool.length) {
    randomFillSync(keyPool);
    keyOffset = 0;
  }
  for (let i = 0; i < 4; i++) {
    const byte = keyPool[keyOffset + i] as number;
    keyBytes[i] = byte;
    frame[at + i] = byte;
  }
  keyOffset += 4;
  at += 4;

  if (typeof data === 'string') frame.write(data, at, length, 'utf8');
  else if (!byWords) {
    // Small bytes: copy and mask in one pass.
    for (let i = 0; i < length; i++) frame[at + i] = (data[i] as number) ^ (keyBytes[i & 3] as number);
    return frame;
  } else frame.set(data, at);
  mask(frame, at, length, byWords);
  return frame;
}

/** XORs `length` bytes of `frame` from `at` with the current key. */
function mask(frame: Buffer, at: number, length: number, byWords: boolean): void {
  let done = 0;
  if (byWords) {
    const words = new Uint32Array(frame.buffer, frame.byteOffset + at, length >>> 2);
    const key = keyWord[0] as number;
    for (let i = 0; i < words.length; i++) words[i] = (words[i] as number) ^ key;
    done = words.length * 4;
  }
  for (let i = done; i < length; i++) frame[at + i] = (frame[at + i] as number) ^ (keyBytes[i & 3] as number);
}
