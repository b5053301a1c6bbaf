import { map, type OperatorFunction } from 'rxjs';
import type { Variant } from '../codec/godotTypes.js';
import { decodeVariant, encodeVariant, resolveVariantOptions, type VariantOptions } from '../codec/variant.js';
import { VariantError } from '../codec/VariantError.js';
import type { Packet } from '../peer/types.js';

/**
 * Decodes each packet as a Godot value (binary Variant encoding), as `getVar()` does. Errors
 * with `VariantError` on a text packet or bytes that are no valid encoding.
 *
 * ```ts
 * import { decodeVariants } from 'rx-websocket-peer';
 * peer.packets$.pipe(decodeVariants()).subscribe((value) => console.log(value));
 * ```
 * @param options `engine` (`3`, or `4` for Godot 4's encoding), `maxSize` (8 MiB), `maxDepth` (256).
 * @throws VariantError (`ERR_VARIANT_INVALID_ARG`) synchronously, for a bad option.
 */
export function decodeVariants(options?: VariantOptions): OperatorFunction<Packet, Variant> {
  resolveVariantOptions('decodeVariants', options);
  return map((packet) => {
    if (packet.isString) {
      throw new VariantError(
        'ERR_VARIANT_INVALID',
        'decodeVariants(): a text packet; Godot values come in binary packets',
      );
    }
    return decodeVariant(packet.data, options);
  });
}

/**
 * Encodes each value as a binary packet for `sink` (what `putVar()` sends). Errors with
 * `VariantError` on a value Godot has no encoding for.
 *
 * ```ts
 * import { encodeVariants } from 'rx-websocket-peer';
 * positions$.pipe(encodeVariants()).subscribe(peer.sink);
 * ```
 * @param options `engine` (`3`, or `4` for Godot 4's encoding), `maxSize` (8 MiB), `maxDepth` (256).
 * @throws VariantError (`ERR_VARIANT_INVALID_ARG`) synchronously, for a bad option.
 */
export function encodeVariants(options?: VariantOptions): OperatorFunction<Variant, Packet> {
  resolveVariantOptions('encodeVariants', options);
  return map((value): Packet => ({ isString: false, data: encodeVariant(value, options) }));
}
