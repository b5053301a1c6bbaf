import { describe } from '../../internal/bytes.js';
import { optionKeys, unknownOption } from '../../internal/optionKeys.js';
import { VariantError } from '../VariantError.js';

/** Options of `encodeVariant()` and `decodeVariant()`. */
export interface VariantOptions {
  /**
   * The largest encoding, in bytes, either way: what `encodeVariant()` would make and what
   * `decodeVariant()` accepts. Default: 8 MiB, the engine's `encode_buffer_max_size`.
   */
  maxSize?: number;
  /**
   * How deeply arrays and dictionaries may nest (a value that is not a container has depth 0,
   * `[[1]]` has depth 2). Default: 256.
   */
  maxDepth?: number;
  /**
   * Which engine's format: `3` for Godot 3.x (`var2bytes()`, `put_var()`), `4` for Godot 4.x
   * (`var_to_bytes()`, `put_var()`). Default: `3`.
   *
   * The two formats share the header layout but number most types differently (Godot 4 slotted
   * `Vector2i`, `Rect2i`, `Vector3i`, `Vector4`, `Vector4i`, `Projection`, `StringName` and more
   * in among the old types), so both ends must agree: Godot 4 bytes decoded as Godot 3 give a
   * wrong value or a `VariantError`. With `3`, encoding a Godot 4-only type (`Vector2i`, `StringName`, a
   * `BigInt64Array`...) throws `ERR_VARIANT_UNENCODABLE`.
   *
   * ```ts
   * import { decodeVariant, encodeVariant, Vector2i } from 'rx-websocket-peer';
   * const bytes = encodeVariant(new Vector2i(3, 4), { engine: 4 });
   * decodeVariant(bytes, { engine: 4 }); // Vector2i { x: 3, y: 4 }
   * ```
   */
  engine?: 3 | 4;
}

/** @internal The keys of `VariantOptions`. */
export const VARIANT_OPTION_KEYS = optionKeys<VariantOptions>({ maxSize: true, maxDepth: true, engine: true });

/** The engine's default `encode_buffer_max_size`: 8 MiB. */
export const DEFAULT_VARIANT_MAX_SIZE = 8 * 1024 * 1024;
/** The default {@link VariantOptions.maxDepth}. */
export const DEFAULT_VARIANT_MAX_DEPTH = 256;
/** The default {@link VariantOptions.engine}: Godot 3. */
export const DEFAULT_VARIANT_ENGINE = 3;

/**
 * @internal The options of `fn`, checked, with defaults filled in: a bad one, an unknown key too,
 * throws `ERR_VARIANT_INVALID_ARG` (the codec throws nothing but `VariantError`).
 */
export function resolveVariantOptions(fn: string, options: VariantOptions | undefined): Required<VariantOptions> {
  if (options !== undefined) {
    if (typeof options !== 'object' || options === null) {
      throw new VariantError('ERR_VARIANT_INVALID_ARG', `${fn}(): options must be an object`);
    }
    const unknown = unknownOption(fn, options, VARIANT_OPTION_KEYS);
    if (unknown !== undefined) throw new VariantError('ERR_VARIANT_INVALID_ARG', unknown);
  }
  const maxSize = options?.maxSize ?? DEFAULT_VARIANT_MAX_SIZE;
  const maxDepth = options?.maxDepth ?? DEFAULT_VARIANT_MAX_DEPTH;
  const engine = options?.engine ?? DEFAULT_VARIANT_ENGINE;
  if (!Number.isSafeInteger(maxSize) || maxSize < 4) {
    throw new VariantError(
      'ERR_VARIANT_INVALID_ARG',
      `maxSize must be an integer of at least 4, not ${describe(maxSize)}`,
    );
  }
  if (!Number.isSafeInteger(maxDepth) || maxDepth < 0) {
    throw new VariantError(
      'ERR_VARIANT_INVALID_ARG',
      `maxDepth must be a non-negative integer, not ${describe(maxDepth)}`,
    );
  }
  if (engine !== 3 && engine !== 4) {
    throw new VariantError(
      'ERR_VARIANT_INVALID_ARG',
      `engine must be 3 or 4 (Godot 3.x or 4.x), not ${describe(engine)}`,
    );
  }
  return { maxSize, maxDepth, engine };
}
