// Bytes and text, as the wire sees them: UTF-8 lengths and checks, any kind of bytes as a
// Uint8Array view, and a value put into an error message. Nothing here knows of WebSockets.

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
