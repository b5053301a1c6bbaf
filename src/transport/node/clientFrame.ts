import { randomFillSync } from 'node:crypto';
import { FIN, LENGTH_16, LENGTH_64, MASKED, OPCODE_BINARY, OPCODE_TEXT } from '../../peer/frameFormat.js';

/**
 * @internal Client frames, made here rather than by `ws`: RFC 6455 §5.2 framing of one whole
 * message (FIN set, no extension bits) with the masking §5.3 requires of a client, in the one
 * buffer that holds the whole frame: a client's message costs one allocation and one copy. The
 * masking is `ws`'s optional native addon `bufferutil` where it is installed (as `ws` itself does,
 * and unless `WS_NO_BUFFER_UTIL` is set, as for `ws`), else eight 32-bit words per step in JS,
 * where `ws` goes a byte at a time.
 */

/** Masking keys come from this pool of random bytes, refilled when used up (as `ws` does). */
const keyPool = Buffer.allocUnsafe(8 * 1024);
let keyOffset = keyPool.length;
/** The current key, as bytes and as the word those bytes make in this machine's byte order. */
const keyBytes = new Uint8Array(4);
const keyWord = new Int32Array(keyBytes.buffer);

/** Payloads from this size on are masked a word at a time or natively; below, the setup costs more. */
const WORD_MASK_MIN_BYTES = 128;

/** What `bufferutil` exports: `output[offset + i] = source[i] ^ mask[i & 3]` for i < length. */
interface NativeMasking {
  mask(source: Uint8Array, mask: Uint8Array, output: Uint8Array, offset: number, length: number): void;
}

/** `bufferutil`, once found; `native` is the same unless specs turned it off. */
let found: NativeMasking | null = null;
let native: NativeMasking | null = null;
let nativeLookup: Promise<boolean> | undefined;

/**
 * Looks for `bufferutil` once (the first client connection asks) and resolves whether frames are
 * masked by it from then on. Its JS fallback, which it loads when its addon cannot, is not used:
 * it goes a byte at a time.
 */
export function findNativeMasking(): Promise<boolean> {
  return (nativeLookup ??= lookForNative());
}

async function lookForNative(): Promise<boolean> {
  if (process.env['WS_NO_BUFFER_UTIL']) return false;
  // A name in a variable: bundlers leave an optional module alone rather than fail to resolve it.
  const name = 'bufferutil';
  try {
    const loaded = exportsOf(await import(name));
    const fallback = exportsOf(await import(`${name}/fallback.js`));
    if (loaded === fallback || typeof loaded?.['mask'] !== 'function') return false;
    found = native = loaded as unknown as NativeMasking;
    return true;
  } catch {
    return false;
  }
}

/** A CommonJS module's exports, however it was imported. */
function exportsOf(module: unknown): Record<string, unknown> | undefined {
  if (typeof module !== 'object' || module === null) return undefined;
  const inner = (module as { default?: unknown }).default;
  return (typeof inner === 'object' && inner !== null ? inner : module) as Record<string, unknown>;
}

/** @internal For specs: mask with `bufferutil` once found (`true`, the default) or in JS. */
export function useNativeMasking(enabled: boolean): void {
  native = enabled ? found : null;
}

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
  // Room to start the payload on an 8-byte boundary, so that JS can mask it as 32-bit words.
  const room = byWords && native === null ? 7 : 0;
  const buffer = Buffer.allocUnsafe(room + headerBytes + length);
  const start = room === 0 ? 0 : (8 - ((buffer.byteOffset + headerBytes) % 8)) % 8;
  const frame = room === 0 ? buffer : buffer.subarray(start, start + headerBytes + length);

  frame[0] = FIN | (asText ? OPCODE_TEXT : OPCODE_BINARY);
  let at = 2;
  if (lengthBytes === 0) frame[1] = MASKED | length;
  else if (lengthBytes === 2) {
    frame[1] = MASKED | LENGTH_16;
    frame.writeUInt16BE(length, 2);
    at = 4;
  } else {
    frame[1] = MASKED | LENGTH_64;
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

  if (typeof data === 'string') {
    if (!byWords && length === data.length) {
      // A short string as long in UTF-8 as in UTF-16 is ASCII: encode and mask in one pass.
      for (let i = 0; i < length; i++) frame[at + i] = data.charCodeAt(i) ^ (keyBytes[i & 3] as number);
      return frame;
    }
    frame.write(data, at, length, 'utf8');
    if (byWords && native !== null) native.mask(frame.subarray(at), keyBytes, frame, at, length);
    else maskInPlace(frame, at, length, byWords);
  } else if (!byWords) {
    // Small bytes: copy and mask in one pass.
    for (let i = 0; i < length; i++) frame[at + i] = (data[i] as number) ^ (keyBytes[i & 3] as number);
  } else if (native !== null) {
    native.mask(data, keyBytes, frame, at, length);
  } else if ((data.byteOffset & 3) === 0) {
    // Bytes that can be read as words: copy and mask in one pass.
    const words = length >>> 2;
    xorWords(
      new Int32Array(data.buffer, data.byteOffset, words),
      new Int32Array(frame.buffer, frame.byteOffset + at, words),
    );
    maskTail(frame, at, length, words * 4, data, 0);
  } else {
    frame.set(data, at);
    maskInPlace(frame, at, length, byWords);
  }
  return frame;
}

/** XORs `length` bytes of `frame` from `at` with the current key. */
function maskInPlace(frame: Buffer, at: number, length: number, byWords: boolean): void {
  let done = 0;
  if (byWords) {
    const words = new Int32Array(frame.buffer, frame.byteOffset + at, length >>> 2);
    xorWords(words, words);
    done = words.length * 4;
  }
  maskTail(frame, at, length, done, frame, at);
}

/**
 * `to[i] = from[i] ^ key` for every word of `from` (the same array for masking in place), eight
 * words per step: about twice as fast as one, in V8.
 */
function xorWords(from: Int32Array, to: Int32Array): void {
  const key = keyWord[0] as number;
  const n = from.length;
  let i = 0;
  for (const end = n - 7; i < end; i += 8) {
    to[i] = (from[i] as number) ^ key;
    to[i + 1] = (from[i + 1] as number) ^ key;
    to[i + 2] = (from[i + 2] as number) ^ key;
    to[i + 3] = (from[i + 3] as number) ^ key;
    to[i + 4] = (from[i + 4] as number) ^ key;
    to[i + 5] = (from[i + 5] as number) ^ key;
    to[i + 6] = (from[i + 6] as number) ^ key;
    to[i + 7] = (from[i + 7] as number) ^ key;
  }
  for (; i < n; i++) to[i] = (from[i] as number) ^ key;
}

/**
 * Masks the payload's bytes from `done` on, one at a time, reading them from `source` at `from`
 * (the frame itself at `at` to mask in place).
 */
function maskTail(frame: Buffer, at: number, length: number, done: number, source: Uint8Array, from: number): void {
  for (let i = done; i < length; i++) frame[at + i] = (source[from + i] as number) ^ (keyBytes[i & 3] as number);
}
