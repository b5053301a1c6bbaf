import { CloseCode, MAX_CLOSE_REASON_BYTES, WriteMode } from './constants.js';
import type { Packet } from './types.js';
import { argumentError } from './WebSocketPeerError.js';

/**
 * @internal RFC 6455 §7.4: codes an endpoint may send. 1004-1006 and 1015 are reserved, 1016-2999
 * belong to future revisions of the protocol and its extensions, 3000-4999 to libraries and apps.
 */
export function isSendableCloseCode(code: number): boolean {
  return (
    Number.isInteger(code) &&
    ((code >= CloseCode.Normal && code <= CloseCode.UnsupportedData) ||
      (code >= CloseCode.InvalidPayload && code <= CloseCode.BadGateway) ||
      (code >= 3000 && code <= 4999))
  );
}

/** @internal The codes a browser's `WebSocket.close()` takes (WHATWG WebSockets): 1000 and 3000-4999. */
export function isBrowserCloseCode(code: number): boolean {
  return code === CloseCode.Normal || (Number.isInteger(code) && code >= 3000 && code <= 4999);
}

/**
 * @internal Throws the argument error `close(code, reason)` owes its caller, if any. In the
 * browser (`browser`), only the codes its `WebSocket` sends are allowed.
 */
export function validateClose(code: unknown, reason: unknown, browser = false): void {
  if (typeof code !== 'number') {
    throw argumentError(TypeError, 'ERR_INVALID_CLOSE_CODE', `The close code must be a number, got ${typeof code}`);
  }
  if (browser ? !isBrowserCloseCode(code) : !isSendableCloseCode(code)) {
    throw argumentError(
      RangeError,
      'ERR_INVALID_CLOSE_CODE',
      browser
        ? `Close code ${code} cannot be sent from a browser: use 1000 or 3000-4999`
        : `Close code ${code} cannot be sent: use 1000-1003, 1007-1014 or 3000-4999 (RFC 6455 §7.4)`,
    );
  }
  if (typeof reason !== 'string') {
    throw argumentError(
      TypeError,
      'ERR_INVALID_CLOSE_REASON',
      `The close reason must be a string, got ${typeof reason}`,
    );
  }
  const bytes = utf8Length(reason);
  if (bytes > MAX_CLOSE_REASON_BYTES) {
    throw argumentError(
      RangeError,
      'ERR_INVALID_CLOSE_REASON',
      `The close reason is ${bytes} UTF-8 bytes; at most ${MAX_CLOSE_REASON_BYTES} fit in a close frame`,
    );
  }
}

/** @internal Throws unless `mode` is a `WriteMode`. */
export function validateWriteMode(mode: unknown): asserts mode is WriteMode {
  if (mode !== WriteMode.Text && mode !== WriteMode.Binary) {
    throw argumentError(
      RangeError,
      'ERR_INVALID_WRITE_MODE',
      `Write mode must be WriteMode.Text (0) or WriteMode.Binary (1), got ${describe(mode)}`,
    );
  }
}

/** Node's `Buffer` where there is one (not in a browser): its native count beats a loop on long text. */
const nodeBuffer = (globalThis as { Buffer?: { byteLength(text: string, encoding: 'utf8'): number } }).Buffer;
/**
 * From this many UTF-16 units on, the native count is the faster (Node 20: 35-40 ns from 16 to 32
 * units, where the loop takes 2.5-3 ns a unit); below, the call costs more than the loop.
 */
const NATIVE_UTF8_LENGTH_MIN = 16;

/** @internal The length of `text` in UTF-8, lone surrogates counted as U+FFFD (3 bytes) as encoders do. */
export function utf8Length(text: string): number {
  if (nodeBuffer !== undefined && text.length >= NATIVE_UTF8_LENGTH_MIN) return nodeBuffer.byteLength(text, 'utf8');
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/**
 * @internal Whether `bytes` are well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates,
 * nothing past U+10FFFF, no truncated sequence. Text frames must carry exactly that (RFC 6455 §8.1).
 */
export function isValidUtf8(bytes: Uint8Array): boolean {
  const end = bytes.length;
  let i = 0;
  while (i < end) {
    const lead = bytes[i] as number;
    if (lead < 0x80) {
      i++;
      continue;
    }
    let length: number;
    let min = 0x80; // the smallest second byte allowed
    let max = 0xbf; // the largest
    if (lead >= 0xc2 && lead <= 0xdf) length = 2;
    else if (lead >= 0xe0 && lead <= 0xef) {
      length = 3;
      if (lead === 0xe0) min = 0xa0; // overlong
      if (lead === 0xed) max = 0x9f; // UTF-16 surrogates
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4;
      if (lead === 0xf0) min = 0x90; // overlong
      if (lead === 0xf4) max = 0x8f; // past U+10FFFF
    } else return false;
    if (i + length > end) return false;
    const second = bytes[i + 1] as number;
    if (second < min || second > max) return false;
    for (let k = 2; k < length; k++) {
      if (((bytes[i + k] as number) & 0xc0) !== 0x80) return false;
    }
    i += length;
  }
  return true;
}

/** @internal `data` as a `Uint8Array` view when it is bytes of any kind, else `undefined`. */
export function asBytes(data: unknown): Uint8Array | undefined {
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) {
    // Only an empty buffer can be a detached one (transferred to a worker, say); it is not data.
    if (data.byteLength === 0 && isDetached(data instanceof ArrayBuffer ? data : data.buffer)) return undefined;
    if (data instanceof Uint8Array) return data;
    if (data instanceof ArrayBuffer) return new Uint8Array(data);
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  return undefined;
}

function isDetached(buffer: ArrayBufferLike): boolean {
  if (!(buffer instanceof ArrayBuffer)) return false;
  try {
    new Uint8Array(buffer);
    return false;
  } catch {
    return true;
  }
}

/** @internal A value for an error message, whatever it is (`String()` throws for some objects). */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || typeof value !== 'object') return typeof value === 'symbol' ? value.toString() : String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

/**
 * @internal The payload bytes `data` puts on the wire: strings by their UTF-8 length, bytes by
 * their length, a `Packet` by its data; 0 for anything a peer would refuse to send.
 */
export function payloadLength(data: unknown): number {
  if (typeof data === 'string') return utf8Length(data);
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength;
  if (typeof data === 'object' && data !== null && 'data' in data) {
    const inner = (data as { data: unknown }).data;
    if (typeof inner === 'string' || inner instanceof Uint8Array) return payloadLength(inner);
  }
  return 0;
}

/**
 * @internal At least `payloadLength(data)`, for nothing: a string by 3 bytes per UTF-16 unit (no
 * unit takes more in UTF-8, and a surrogate pair takes 4 for two), anything else exactly.
 */
export function payloadLengthBound(data: unknown): number {
  if (typeof data === 'string') return 3 * data.length;
  if (typeof data === 'object' && data !== null && 'data' in data) {
    const inner = (data as { data: unknown }).data;
    if (typeof inner === 'string') return 3 * inner.length;
  }
  return payloadLength(data);
}

/** @internal Whether `data` is a `Packet`: a string marked text, or a `Uint8Array` marked binary. */
export function isPacket(data: unknown): data is Packet {
  if (typeof data !== 'object' || data === null || !('isString' in data) || !('data' in data)) return false;
  return data.isString === true
    ? typeof data.data === 'string'
    : data.isString === false && data.data instanceof Uint8Array;
}

/**
 * @internal Throws the error a write of `data` in `mode` owes its caller (`ERR_INVALID_UTF8`,
 * `ERR_INVALID_DATA`), else tells whether it goes as a text frame: strings and bytes by the
 * mode, a `Packet` as its own kind.
 */
export function checkOutbound(data: unknown, mode: WriteMode): boolean {
  if (typeof data === 'string') return mode === WriteMode.Text;
  const bytes = asBytes(data);
  if (bytes) {
    if (mode === WriteMode.Text && !isValidUtf8(bytes)) {
      throw argumentError(
        TypeError,
        'ERR_INVALID_UTF8',
        'Bytes sent in text mode must be valid UTF-8; use WriteMode.Binary for other bytes',
      );
    }
    return mode === WriteMode.Text;
  }
  if (isPacket(data)) return data.isString;
  throw argumentError(TypeError, 'ERR_INVALID_DATA', 'Can only send a string, bytes or a Packet');
}
