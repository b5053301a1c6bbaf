import { CloseCode, MAX_CLOSE_REASON_BYTES, WriteMode } from './constants.js';
import type { CloseInfo, Packet } from './types.js';
import { argumentError } from '../errors/WebSocketPeerError.js';
import { asBytes, describe, isValidUtf8, utf8Length } from '../internal/bytes.js';

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

/**
 * @internal Whether a connection that ended so ends its streams with `complete()`: only a clean
 * closing handshake with 1000, or with no code at all (1005: an empty close frame, which is what
 * a browser's `close()` without a code sends). Anything else ends them with a
 * `WebSocketCloseError`.
 */
export function endedNormally(info: CloseInfo): boolean {
  return info.wasClean && (info.code === CloseCode.Normal || info.code === CloseCode.NoStatus);
}
