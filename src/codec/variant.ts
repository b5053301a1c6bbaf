// The Godot Variant codec's public module: encodeVariant(), decodeVariant(), enableVariants().
// The work is done under ./variant/: format.ts (the wire tables both directions share),
// encode.ts, decode.ts and options.ts. This module stays the one every codec export pulls in,
// because its top level registers the codec for putVar()/getVar() (see the end of the file).
// encodeVariant() and decodeVariant() build the Writer and Encoder, Reader and Decoder themselves:
// behind one more function, V8 no longer inlined their constructors, and decoding an int took 25%
// longer (measured, Node 20).

import type { Variant } from './godotTypes.js';
import { VariantError } from './VariantError.js';
import { type PacketLike, registerVariantCodec } from './variantSlot.js';
import { Decoder, Reader } from './variant/decode.js';
import { Encoder, Writer } from './variant/encode.js';
import { asBytes } from '../internal/bytes.js';
import { kindOf } from './variant/format.js';
import { resolveVariantOptions, type VariantOptions } from './variant/options.js';

export {
  DEFAULT_VARIANT_ENGINE,
  DEFAULT_VARIANT_MAX_DEPTH,
  DEFAULT_VARIANT_MAX_SIZE,
  resolveVariantOptions,
  VARIANT_OPTION_KEYS,
  type VariantOptions,
} from './variant/options.js';

/** String(error), unless even that throws (a hostile toString). */
function safeString(error: unknown): string {
  try {
    return String(error);
  } catch {
    return 'an error that cannot be described';
  }
}

/** Anything else thrown inside the codec (a throwing getter, a bug) still leaves as a VariantError. */
function wrapUnexpected(error: unknown, code: 'ERR_VARIANT_UNENCODABLE' | 'ERR_VARIANT_INVALID'): VariantError {
  if (error instanceof VariantError) return error;
  return new VariantError(code, `unexpected failure: ${safeString(error)}`, { cause: error });
}

/**
 * Encodes a value in Godot's binary Variant format, as the engine's `var2bytes(value)`
 * (`var_to_bytes()` in Godot 4) and `PacketPeer.put_var()` do: Godot 3's format by default,
 * Godot 4's with `{ engine: 4 }`. Integers (JavaScript numbers without a fraction, and bigints)
 * become Godot ints, 32-bit when they fit; other numbers become floats, 32-bit when that is exact;
 * `GodotFloat` forces a float. A `Map` or a plain object becomes a `Dictionary` (a plain object's
 * keys in `Object.keys()` order, so integer-like keys first). Strings go as UTF-8. Vector and
 * matrix components go as 32-bit floats, which a double-precision Godot 4 build reads too.
 *
 * ```ts
 * import { encodeVariant, Vector2, Vector2i } from 'rx-websocket-peer';
 * const bytes = encodeVariant({ position: new Vector2(1, 2), hp: 100 });
 * const forGodot4 = encodeVariant({ cell: new Vector2i(3, 4) }, { engine: 4 });
 * ```
 *
 * @param value The value; see {@link Variant} for the types it may hold.
 * @param options `maxSize` (default 8 MiB), `maxDepth` (default 256), `engine` (default 3).
 * @returns A new `Uint8Array` holding the encoding.
 * @throws {VariantError} Only this: `ERR_VARIANT_UNENCODABLE` (also a Godot 4-only type with
 *   engine 3), `ERR_VARIANT_TOO_LARGE`, `ERR_VARIANT_DEPTH` (also a cycle),
 *   `ERR_VARIANT_INVALID_ARG`.
 */
export function encodeVariant(value: Variant, options?: VariantOptions): Uint8Array {
  try {
    const { maxSize, maxDepth, engine } = resolveVariantOptions('encodeVariant', options);
    const out = new Writer(maxSize);
    new Encoder(out, maxDepth, engine).value(value, 0);
    return out.result();
  } catch (error) {
    throw wrapUnexpected(error, 'ERR_VARIANT_UNENCODABLE');
  }
}

/** `bytes` as a `Uint8Array` view; anything else, a detached buffer too, is a bad argument. */
function inputBytes(bytes: unknown): Uint8Array {
  // What callers pass, first: asBytes() alone made decoding an int 15% slower. A typed array with
  // bytes is never a detached one, so this is what asBytes() returns for it.
  if (bytes instanceof Uint8Array && bytes.byteLength > 0) return bytes;
  const input = asBytes(bytes);
  if (input !== undefined) return input;
  const what = bytes instanceof ArrayBuffer || ArrayBuffer.isView(bytes) ? 'a detached buffer' : kindOf(bytes);
  throw new VariantError(
    'ERR_VARIANT_INVALID_ARG',
    `decodeVariant() takes bytes (a Uint8Array or an ArrayBuffer), not ${what}`,
  );
}

/**
 * Decodes one value in Godot's binary Variant format (the engine's `bytes2var(bytes)`,
 * `bytes_to_var()` in Godot 4, and `PacketPeer.get_var()`), which must fill `bytes` exactly:
 * Godot 3's format by default, Godot 4's with `{ engine: 4 }`. Godot ints come back as numbers,
 * or as bigints beyond ±2^53; floats as numbers; a `Dictionary` as a `Map`, a Godot 4 typed
 * `Array` or `Dictionary` as a plain `Array` or `Map`. Vectors and matrices from a
 * double-precision Godot 4 build decode at full precision. An `Object` is always refused, never
 * instantiated, and so are RID, Callable and Signal.
 *
 * Whatever the bytes, this returns a value or throws a {@link VariantError}: it reads no further
 * than the input, checks a claimed count against the bytes left before allocating for it, and
 * nests no deeper than `maxDepth`.
 *
 * ```ts
 * import { decodeVariant } from 'rx-websocket-peer';
 * decodeVariant(new Uint8Array([2, 0, 0, 0, 42, 0, 0, 0])); // 42
 * decodeVariant(new Uint8Array([6, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0]), { engine: 4 }); // Vector2i { x: 3, y: 4 }
 * ```
 *
 * @param bytes The encoding (a `Uint8Array`, another `ArrayBufferView` or an `ArrayBuffer`).
 * @param options `maxSize` (default 8 MiB), `maxDepth` (default 256), `engine` (default 3).
 * @throws {VariantError} Only this: `ERR_VARIANT_TRUNCATED`, `ERR_VARIANT_TYPE`,
 *   `ERR_VARIANT_OBJECT`, `ERR_VARIANT_INVALID`, `ERR_VARIANT_TRAILING`,
 *   `ERR_VARIANT_TOO_LARGE`, `ERR_VARIANT_DEPTH`, `ERR_VARIANT_INVALID_ARG`.
 */
export function decodeVariant(bytes: Uint8Array | ArrayBuffer | ArrayBufferView, options?: VariantOptions): Variant {
  try {
    const { maxSize, maxDepth, engine } = resolveVariantOptions('decodeVariant', options);
    const input = inputBytes(bytes);
    if (input.length > maxSize) {
      throw new VariantError('ERR_VARIANT_TOO_LARGE', `${input.length} bytes exceed maxSize (${maxSize} bytes)`);
    }
    const reader = new Reader(input);
    const value = new Decoder(reader, maxDepth, engine).value(0);
    if (reader.remaining > 0) {
      throw new VariantError(
        'ERR_VARIANT_TRAILING',
        `${reader.remaining} bytes left after the value, which ended at offset ${reader.offset}`,
      );
    }
    return value;
  } catch (error) {
    throw wrapUnexpected(error, 'ERR_VARIANT_INVALID');
  }
}

/**
 * Makes `peer.putVar()` and `peer.getVar()` work in a browser app that imports no other part of
 * the Godot codec. The peer does not carry the codec (about 18 KiB minified), so a browser bundle
 * holds it only when the app uses it: importing `encodeVariant`, `decodeVariant`,
 * `encodeVariants` or `decodeVariants` brings it and enables `putVar()`/`getVar()` as well;
 * an app that uses only `putVar()`/`getVar()` calls this once at start-up, before either (they
 * throw `WebSocketPeerError` `ERR_NOT_SUPPORTED` until then). The Node entry calls it for you.
 *
 * ```ts
 * import { enableVariants } from 'rx-websocket-peer';
 * enableVariants(); // once, in the app's main module
 * ```
 */
export function enableVariants(): void {
  registerVariantCodec({ encode: encodeVariant, decode: decodePacket, check: resolveVariantOptions });
}

/** What `getVar()` does with the packet it took. */
function decodePacket(packet: PacketLike, options?: VariantOptions): Variant {
  if (packet.isString) {
    throw new VariantError('ERR_VARIANT_INVALID', 'getVar(): the packet is text; Godot values come in binary packets');
  }
  return decodeVariant(packet.data, options);
}

// Whatever loads the codec enables putVar()/getVar(). A bundler keeps this statement whenever it
// keeps the module: "sideEffects": false lets it drop only modules none of whose exports are used.
enableVariants();
