import { expect } from 'chai';
import fc from 'fast-check';
import {
  AABB,
  Basis,
  Color,
  NodePath,
  Plane,
  PoolColorArray,
  PoolStringArray,
  PoolVector2Array,
  PoolVector3Array,
  Quat,
  Rect2,
  Transform,
  Transform2D,
  Vector2,
  Vector3,
  type Variant,
} from '../../src/codec/godotTypes.js';
import { decodeVariant, encodeVariant, type VariantOptions } from '../../src/codec/variant.js';
import { VariantError, type VariantErrorCode } from '../../src/codec/VariantError.js';

// What the Godot 3 and Godot 4 codec specs share.

export function fromHex(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** Runs `fn` and returns the VariantError it throws, failing on anything else. */
export function variantError(fn: () => unknown): VariantError {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.instanceOf(VariantError);
    return error as VariantError;
  }
  expect.fail('expected a VariantError');
}

export function expectCode(fn: () => unknown, code: VariantErrorCode): void {
  expect(variantError(fn).code).to.equal(code);
}

/** Either a value or a VariantError: any other throw fails the property. */
export function decodesOrRefuses(bytes: Uint8Array, options?: VariantOptions): boolean {
  try {
    decodeVariant(bytes, options);
    return true;
  } catch (error) {
    if (error instanceof VariantError) return true;
    throw error;
  }
}

/**
 * A valid encoding from `encodings`, damaged: bytes flipped, cut, extended, or a 32-bit word set
 * to one of `words` (extremes, type ids, flags).
 */
export function damaged(encodings: Uint8Array[], words: number[]): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(
      fc.constantFrom(...encodings),
      fc.array(
        fc.oneof(
          fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bits: fc.integer({ min: 1, max: 255 }) }),
          fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
          fc.record({ kind: fc.constant('extend' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
          fc.record({ kind: fc.constant('word' as const), at: fc.nat(), word: fc.constantFrom(...words) }),
        ),
        { minLength: 1, maxLength: 4 },
      ),
    )
    .map(([original, mutations]) => {
      let bytes = original.slice();
      for (const m of mutations) {
        if (m.kind === 'flip' && bytes.length > 0) bytes[m.at % bytes.length] ^= m.bits;
        else if (m.kind === 'cut') bytes = bytes.slice(0, m.at % (bytes.length + 1));
        else if (m.kind === 'extend') bytes = Uint8Array.from([...bytes, ...m.bytes]);
        else if (m.kind === 'word' && bytes.length >= 4) {
          const at = (m.at % Math.floor(bytes.length / 4)) * 4;
          new DataView(bytes.buffer).setUint32(at, m.word, true);
        }
      }
      return bytes;
    });
}

/** Arbitraries of the types both engines share. */
export const f32 = fc.float();
export const vector2 = fc.tuple(f32, f32).map(([x, y]) => new Vector2(x, y));
export const vector3 = fc.tuple(f32, f32, f32).map(([x, y, z]) => new Vector3(x, y, z));
export const color = fc.tuple(f32, f32, f32, f32).map(([r, g, b, a]) => new Color(r, g, b, a));
// Godot strings end at a NUL.
export const text = fc.string({ unit: 'binary', maxLength: 12 }).map((s) => s.replaceAll('\0', ''));

/** Any value made of `scalar`s, arrays, plain objects and Maps, nested. */
export function variantOf(scalar: fc.Arbitrary<Variant>): fc.Arbitrary<Variant> {
  return fc.letrec<{ variant: Variant }>((tie) => ({
    variant: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      scalar,
      fc.array(tie('variant'), { maxLength: 4 }),
      fc.dictionary(text, tie('variant'), { maxKeys: 4 }),
      fc
        .uniqueArray(fc.tuple(fc.oneof(fc.integer(), text), tie('variant')), {
          maxLength: 4,
          selector: ([key]) => key,
        })
        .map((entries) => new Map<Variant, Variant>(entries)),
    ),
  })).variant;
}

/** What decoding gives for a value: numbers and bigints as the codec returns them, objects as Maps. */
export function normalize(value: Variant): Variant {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value;
  if (typeof value === 'number' && Number.isInteger(value) && Math.abs(value) < 2 ** 63) {
    return normalize(BigInt(value));
  }
  if (Array.isArray(value)) return value.map(normalize);
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [normalize(k), normalize(v)]));
  if (
    value !== null &&
    typeof value === 'object' &&
    [Object.prototype, null].includes(Object.getPrototypeOf(value) as object | null)
  ) {
    return new Map(Object.entries(value).map(([k, v]) => [k, normalize(v)]));
  }
  return value;
}

/** The property: encode → decode gives the value back, and re-encoding gives the same bytes. */
export function assertRoundTrips(variant: fc.Arbitrary<Variant>, options?: VariantOptions): void {
  fc.assert(
    fc.property(variant, (value) => {
      const bytes = encodeVariant(value, options);
      const decoded = decodeVariant(bytes, options);
      expect(decoded).to.deep.equal(normalize(value));
      expect(toHex(encodeVariant(decoded, options))).to.equal(toHex(bytes));
    }),
    { numRuns: 500 },
  );
}

/** The property: every prefix of a valid encoding is refused with ERR_VARIANT_TRUNCATED. */
export function assertPrefixesRefused(variant: fc.Arbitrary<Variant>, options?: VariantOptions): void {
  fc.assert(
    fc.property(variant, (value) => {
      const bytes = encodeVariant(value, options);
      for (let length = 0; length < bytes.length; length += Math.max(1, Math.floor(bytes.length / 16))) {
        expect(variantError(() => decodeVariant(bytes.subarray(0, length), options)).code).to.equal(
          'ERR_VARIANT_TRUNCATED',
        );
      }
    }),
    { numRuns: 200 },
  );
}

/** Every Godot 3 type but Object and RID, for the property specs; Godot 4 adds its own to these. */
export const godot3Scalars: Array<fc.Arbitrary<Variant>> = [
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.double(),
  text,
  vector2,
  vector3,
  color,
  fc.tuple(vector2, vector2).map(([p, s]) => new Rect2(p, s)),
  fc.tuple(vector2, vector2, vector2).map(([x, y, o]) => new Transform2D(x, y, o)),
  fc.tuple(vector3, f32).map(([n, d]) => new Plane(n, d)),
  fc.tuple(f32, f32, f32, f32).map(([x, y, z, w]) => new Quat(x, y, z, w)),
  fc.tuple(vector3, vector3).map(([p, s]) => new AABB(p, s)),
  fc.tuple(vector3, vector3, vector3, vector3).map(([x, y, z, o]) => new Transform(new Basis(x, y, z), o)),
  fc
    .tuple(fc.array(text, { maxLength: 3 }), fc.array(text, { maxLength: 3 }), fc.boolean())
    .map(([names, subnames, absolute]) => new NodePath(names, subnames, absolute)),
  fc.uint8Array({ maxLength: 9 }),
  fc.int32Array({ maxLength: 5 }),
  fc.float32Array({ maxLength: 5 }),
  fc.array(text, { maxLength: 4 }).map((values) => new PoolStringArray(values)),
  fc.array(vector2, { maxLength: 3 }).map((values) => new PoolVector2Array(values)),
  fc.array(vector3, { maxLength: 3 }).map((values) => new PoolVector3Array(values)),
  fc.array(color, { maxLength: 3 }).map((values) => new PoolColorArray(values)),
];
