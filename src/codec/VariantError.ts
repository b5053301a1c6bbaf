import { errorBrand } from '../errors/brand.js';

/**
 * The stable `code` of every {@link VariantError}. Match on these, never on message text.
 */
export type VariantErrorCode =
  /** The bytes end before the value they start does (including a count or length that points past the end). */
  | 'ERR_VARIANT_TRUNCATED'
  /**
   * A type id this codec does not know or does not support: Godot 3, above 26 or `RID`; Godot 4,
   * above 38, `RID`, `Callable` or `Signal`.
   */
  | 'ERR_VARIANT_TYPE'
  /** The bytes hold an `Object` (in full or as an instance id): always refused, never instantiated. */
  | 'ERR_VARIANT_OBJECT'
  /**
   * Malformed data of a known type: invalid UTF-8, an old-format `NodePath`, a Godot 4 typed
   * container whose element type id is out of range.
   */
  | 'ERR_VARIANT_INVALID'
  /** Bytes left over after the value ended. */
  | 'ERR_VARIANT_TRAILING'
  /** The encoding is, or would be, larger than `maxSize` bytes. */
  | 'ERR_VARIANT_TOO_LARGE'
  /** Arrays and dictionaries nested deeper than `maxDepth` (encoding: also a cycle). */
  | 'ERR_VARIANT_DEPTH'
  /**
   * A value Godot has no type for: `undefined`, a function, a symbol, a class instance that is
   * none of the codec's types, an integer beyond 64 bits, a string with a lone surrogate or a
   * NUL character (the engine would cut the string there), a `Vector2i` (or kin) component that
   * is no 32-bit integer; and a Godot 4-only type (`Vector2i`, `StringName`, `BigInt64Array`...)
   * with `engine: 3`.
   */
  | 'ERR_VARIANT_UNENCODABLE'
  /** The argument to decode is not bytes, or an option is out of range. */
  | 'ERR_VARIANT_INVALID_ARG';

const variantErrorBrand = errorBrand('VariantError');

/**
 * The only error `encodeVariant()` and `decodeVariant()` throw, whatever their input; it
 * carries a stable {@link VariantErrorCode}.
 *
 * ```ts
 * import { decodeVariant, VariantError } from 'rx-websocket-peer';
 * try {
 *   decodeVariant(new Uint8Array([4, 0, 0, 0, 9, 0, 0, 0]));
 * } catch (e) {
 *   if (e instanceof VariantError) console.log(e.code); // 'ERR_VARIANT_TRUNCATED'
 * }
 * ```
 */
export class VariantError extends Error {
  override readonly name = 'VariantError';

  constructor(
    readonly code: VariantErrorCode,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    variantErrorBrand.mark(this);
  }

  /** Whether `value` is a `VariantError` of any copy of this package (ESM or CommonJS). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return variantErrorBrand.hasInstance(this, VariantError, value);
  }
}
