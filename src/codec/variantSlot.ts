import type { Variant } from './godotTypes.js';
import type { VariantOptions } from './variant.js';
import { WebSocketPeerError } from '../errors/WebSocketPeerError.js';

/**
 * @internal What `putVar()` and `getVar()` need of the Godot codec. The peer does not import the
 * codec: bundlers never drop a class's methods, so every browser app would carry its ~18 KiB (minified).
 * The codec puts itself here when it is loaded (the top level of `src/codec/variant.ts`, which
 * every codec export pulls in), or when `enableVariants()` is called.
 */
/** A packet as the codec sees it: the peer's `Packet`, without depending on the peer. */
export type PacketLike =
  { readonly isString: true; readonly data: string } | { readonly isString: false; readonly data: Uint8Array };

export interface VariantCodec {
  /** `encodeVariant()`. */
  encode(value: Variant, options?: VariantOptions): Uint8Array;
  /** `decodeVariant()` of a binary packet; a text packet throws `VariantError` `ERR_VARIANT_INVALID`. */
  decode(packet: PacketLike, options?: VariantOptions): Variant;
  /** Checks the options of `fn` (`VariantError` `ERR_VARIANT_INVALID_ARG`), before anything is sent or taken. */
  check(fn: string, options: VariantOptions | undefined): void;
}

let registered: VariantCodec | undefined;

/** @internal Makes `codec` the one `putVar()` and `getVar()` use. */
export function registerVariantCodec(codec: VariantCodec): void {
  registered = codec;
}

/**
 * @internal The codec for `method`; throws `ERR_NOT_SUPPORTED`, saying what to do, when the app's
 * bundle left it out.
 */
export function variantCodec(method: 'putVar()' | 'getVar()'): VariantCodec {
  if (registered === undefined) {
    throw new WebSocketPeerError(
      'ERR_NOT_SUPPORTED',
      `${method} needs the Godot Variant codec, which this bundle left out: call enableVariants() once ` +
        "at start-up (import { enableVariants } from 'rx-websocket-peer'), before the first putVar() or getVar()",
    );
  }
  return registered;
}
