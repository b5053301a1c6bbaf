// The wire format of Godot's binary Variant, shared by the encoder and the decoder: the type ids of
// both engines (Godot 3 numbers a subset of Godot 4's types in another order), the header's bits,
// the container and NodePath flags, the integer limits, and how a value is named in a message.
// Source: the engine's core/io/marshalls.cpp and core/variant/variant.h (core/variant.h in 3.x).

/**
 * The codec's own type numbering: Godot 4's type ids (`Variant::Type`, core/variant/variant.h),
 * the low byte of each header with `engine: 4`. Godot 3's ids name a subset of these in another
 * order: see GODOT3_TYPES.
 */
export const Type = {
  Nil: 0,
  Bool: 1,
  Int: 2,
  Float: 3,
  String: 4,
  Vector2: 5,
  Vector2i: 6,
  Rect2: 7,
  Rect2i: 8,
  Vector3: 9,
  Vector3i: 10,
  Transform2D: 11,
  Vector4: 12,
  Vector4i: 13,
  Plane: 14,
  Quaternion: 15,
  AABB: 16,
  Basis: 17,
  Transform3D: 18,
  Projection: 19,
  Color: 20,
  StringName: 21,
  NodePath: 22,
  Rid: 23,
  Object: 24,
  Callable: 25,
  Signal: 26,
  Dictionary: 27,
  Array: 28,
  PackedByteArray: 29,
  PackedInt32Array: 30,
  PackedInt64Array: 31,
  PackedFloat32Array: 32,
  PackedFloat64Array: 33,
  PackedStringArray: 34,
  PackedVector2Array: 35,
  PackedVector3Array: 36,
  PackedColorArray: 37,
  PackedVector4Array: 38,
} as const;
export type Type = (typeof Type)[keyof typeof Type];
/** Godot 4's `VARIANT_MAX` (PackedVector4Array, the last, came with 4.3). */
export const GODOT4_TYPE_COUNT = 39;
/** Godot 4's names, by id, for messages. */
export const TYPE_NAMES = Object.keys(Type);

/**
 * Godot 3's type ids (`Variant::Type`, core/variant.h): the entry at index `id` is the type that
 * Godot 3 numbers `id`. (Godot 3 names some differently: Real, Quat, Transform, Pool*Array.)
 */
export const GODOT3_TYPES: readonly Type[] = [
  Type.Nil,
  Type.Bool,
  Type.Int,
  Type.Float,
  Type.String,
  Type.Vector2,
  Type.Rect2,
  Type.Vector3,
  Type.Transform2D,
  Type.Plane,
  Type.Quaternion,
  Type.AABB,
  Type.Basis,
  Type.Transform3D,
  Type.Color,
  Type.NodePath,
  Type.Rid,
  Type.Object,
  Type.Dictionary,
  Type.Array,
  Type.PackedByteArray,
  Type.PackedInt32Array,
  Type.PackedFloat32Array,
  Type.PackedStringArray,
  Type.PackedVector2Array,
  Type.PackedVector3Array,
  Type.PackedColorArray,
];
/** The reverse: a type's Godot 3 id, or -1 for a Godot 4-only type. */
export const GODOT3_IDS = new Int8Array(GODOT4_TYPE_COUNT).fill(-1);
GODOT3_TYPES.forEach((type, id) => {
  GODOT3_IDS[type] = id;
});

/**
 * marshalls.cpp: the header's low byte is the type; bit 16 says "64-bit" for int and float (and,
 * in Godot 4, for the vector and matrix types of a double-precision build) or "object as id".
 */
export const HEADER_TYPE_MASK = 0xff;
export const HEADER_FLAG_64 = 1 << 16;
/**
 * Newer Godot 4 (not 4.2; Dictionary from 4.4) types its containers in the header: a 2-bit
 * kind, for an Array's elements at bit 16, for a Dictionary's keys at 16 and values at 18.
 * Each kind other than "none" puts its type after the header: a type id or a string.
 */
export const CONTAINER_KIND_MASK = 0b11;
export const ARRAY_ELEMENT_KIND_SHIFT = 16;
export const DICTIONARY_KEY_KIND_SHIFT = 16;
export const DICTIONARY_VALUE_KIND_SHIFT = 18;
export const ContainerKind = { None: 0, Builtin: 1, ClassName: 2, Script: 3 } as const;
/** Dictionary and Array counts: Godot 3 once kept a "shared" flag in the top bit; decoders mask it. */
export const COUNT_MASK = 0x7fffffff;
/** NodePath: the top bit of the name count marks the (only supported) new format. */
export const NODE_PATH_NEW_FORMAT = 0x80000000;
export const NODE_PATH_ABSOLUTE = 1;
/** NodePath flag of a 2.x-era format that kept a property apart from the subnames: one more subname. */
export const NODE_PATH_OLD_PROPERTY = 2;

/** A Godot int goes as 32 bits when it fits, else as 64 (with HEADER_FLAG_64). */
export const INT32_MIN = -0x80000000;
export const INT32_MAX = 0x7fffffff;
export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;
export const TWO_POW_63 = 2 ** 63;

/** Which engine's format: Godot 3.x or 4.x. */
export type Engine = 3 | 4;

/** The zeros that follow `length` bytes up to a multiple of 4. */
export function padding(length: number): number {
  return (4 - (length % 4)) % 4;
}

/**
 * What kind of value `value` is, for a message: `null`, `a function`, `an instance of Blob`. (The
 * value itself, `describe()` in internal/bytes.ts, would say `an object` of the Blob, and print a
 * function's source.)
 */
export function kindOf(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'object') return `an instance of ${value.constructor?.name ?? 'a null-prototype class'}`;
  return `a ${typeof value}`;
}
