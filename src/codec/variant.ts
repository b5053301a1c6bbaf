import {
  AABB,
  Basis,
  Color,
  GodotFloat,
  NodePath,
  PackedVector4Array,
  Plane,
  PoolColorArray,
  PoolStringArray,
  PoolVector2Array,
  PoolVector3Array,
  Projection,
  Quat,
  Rect2,
  Rect2i,
  StringName,
  Transform,
  Transform2D,
  Vector2,
  Vector2i,
  Vector3,
  Vector3i,
  Vector4,
  Vector4i,
  type Variant,
} from './godotTypes.js';
import { optionKeys, unknownOption } from '../internal/optionKeys.js';
import { VariantError } from './VariantError.js';
import { type PacketLike, registerVariantCodec } from './variantSlot.js';

/** Options of {@link encodeVariant} and {@link decodeVariant}. */
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
 * The codec's own type numbering: Godot 4's type ids (`Variant::Type`, core/variant/variant.h),
 * the low byte of each header with `engine: 4`. Godot 3's ids name a subset of these in another
 * order: see GODOT3_TYPES.
 */
const Type = {
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
type Type = (typeof Type)[keyof typeof Type];
/** Godot 4's `VARIANT_MAX` (PackedVector4Array, the last, came with 4.3). */
const GODOT4_TYPE_COUNT = 39;
/** Godot 4's names, by id, for messages. */
const TYPE_NAMES = Object.keys(Type);

/**
 * Godot 3's type ids (`Variant::Type`, core/variant.h): the entry at index `id` is the type that
 * Godot 3 numbers `id`. (Godot 3 names some differently: Real, Quat, Transform, Pool*Array.)
 */
const GODOT3_TYPES: readonly Type[] = [
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
const GODOT3_IDS = new Int8Array(GODOT4_TYPE_COUNT).fill(-1);
GODOT3_TYPES.forEach((type, id) => {
  GODOT3_IDS[type] = id;
});

/**
 * marshalls.cpp: the header's low byte is the type; bit 16 says "64-bit" for int and float (and,
 * in Godot 4, for the vector and matrix types of a double-precision build) or "object as id".
 */
const HEADER_TYPE_MASK = 0xff;
const HEADER_FLAG_64 = 1 << 16;
/**
 * Newer Godot 4 (not 4.2; Dictionary from 4.4) types its containers in the header: a 2-bit
 * kind, for an Array's elements at bit 16, for a Dictionary's keys at 16 and values at 18.
 * Each kind other than "none" puts its type after the header: a type id or a string.
 */
const CONTAINER_KIND_MASK = 0b11;
const ARRAY_ELEMENT_KIND_SHIFT = 16;
const DICTIONARY_KEY_KIND_SHIFT = 16;
const DICTIONARY_VALUE_KIND_SHIFT = 18;
const ContainerKind = { None: 0, Builtin: 1, ClassName: 2, Script: 3 } as const;
/** Dictionary and Array counts: Godot 3 once kept a "shared" flag in the top bit; decoders mask it. */
const COUNT_MASK = 0x7fffffff;
/** NodePath: the top bit of the name count marks the (only supported) new format. */
const NODE_PATH_NEW_FORMAT = 0x80000000;
const NODE_PATH_ABSOLUTE = 1;
/** NodePath flag of a 2.x-era format that kept a property apart from the subnames: one more subname. */
const NODE_PATH_OLD_PROPERTY = 2;

const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const TWO_POW_63 = 2 ** 63;

const utf8Encoder = new TextEncoder();
// ignoreBOM: a leading U+FEFF is part of the string, not a marker to strip.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

type Engine = 3 | 4;

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
      `maxSize must be an integer of at least 4, not ${safeString(maxSize)}`,
    );
  }
  if (!Number.isSafeInteger(maxDepth) || maxDepth < 0) {
    throw new VariantError(
      'ERR_VARIANT_INVALID_ARG',
      `maxDepth must be a non-negative integer, not ${safeString(maxDepth)}`,
    );
  }
  if (engine !== 3 && engine !== 4) {
    throw new VariantError(
      'ERR_VARIANT_INVALID_ARG',
      `engine must be 3 or 4 (Godot 3.x or 4.x), not ${safeString(engine)}`,
    );
  }
  return { maxSize, maxDepth, engine };
}

function padding(length: number): number {
  return (4 - (length % 4)) % 4;
}

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

// ---------------------------------------------------------------------------------------------
// Encoding

class Writer {
  private bytes = new Uint8Array(64);
  private view = new DataView(this.bytes.buffer);
  length = 0;

  constructor(private readonly maxSize: number) {}

  /** Makes room for `count` more bytes, refusing to pass maxSize. */
  private reserve(count: number): number {
    const at = this.length;
    const end = at + count;
    if (end > this.maxSize) {
      throw new VariantError('ERR_VARIANT_TOO_LARGE', `the encoding would exceed maxSize (${this.maxSize} bytes)`);
    }
    if (end > this.bytes.length) {
      const grown = new Uint8Array(Math.min(this.maxSize, Math.max(end, this.bytes.length * 2)));
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
      this.view = new DataView(grown.buffer);
    }
    this.length = end;
    return at;
  }

  u32(value: number): void {
    const at = this.reserve(4); // before this.view: reserve() may replace it
    this.view.setUint32(at, value, true);
  }
  i32(value: number): void {
    const at = this.reserve(4); // before this.view: reserve() may replace it
    this.view.setInt32(at, value, true);
  }
  i64(value: bigint): void {
    const at = this.reserve(8); // before this.view: reserve() may replace it
    this.view.setBigInt64(at, value, true);
  }
  f32(value: number): void {
    const at = this.reserve(4); // before this.view: reserve() may replace it
    this.view.setFloat32(at, value, true);
  }
  f64(value: number): void {
    const at = this.reserve(8); // before this.view: reserve() may replace it
    this.view.setFloat64(at, value, true);
  }
  /** Bytes then zeros up to a multiple of 4. */
  padded(data: Uint8Array): void {
    const at = this.reserve(data.length + padding(data.length));
    this.bytes.set(data, at);
    // The buffer may be reused memory from growth: padding is zeroed explicitly.
    this.bytes.fill(0, at + data.length, this.length);
  }
  result(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }
}

function unencodable(what: string): VariantError {
  return new VariantError('ERR_VARIANT_UNENCODABLE', `Godot has no type for ${what}`);
}

function utf8(text: string): Uint8Array {
  if (LONE_SURROGATE.test(text)) throw unencodable('a string with a lone UTF-16 surrogate');
  // Godot 3 reads strings as C strings: it would silently cut one at its first NUL.
  if (text.includes('\0')) throw unencodable('a string with a NUL character (Godot cuts strings there)');
  return utf8Encoder.encode(text);
}

/** A value for a message: numbers and strings as they are, anything else by its kind. */
function describeValue(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  return describe(value);
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'object') return `an instance of ${value.constructor?.name ?? 'a null-prototype class'}`;
  return `a ${typeof value}`;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** The header id of `type` in `engine`'s numbering; refuses a Godot 4-only type for Godot 3. */
function wireId(type: Type, engine: Engine, what: string): number {
  if (engine === 4) return type;
  const id = GODOT3_IDS[type] ?? -1;
  if (id < 0) {
    throw new VariantError(
      'ERR_VARIANT_UNENCODABLE',
      `${what} is a Godot 4 type that Godot 3 has no counterpart for: pass { engine: 4 } to encode it`,
    );
  }
  return id;
}

class Encoder {
  constructor(
    private readonly out: Writer,
    private readonly maxDepth: number,
    private readonly engine: Engine,
  ) {}

  /** The 4-byte header: the type's id in this engine's numbering, and flags. */
  private header(type: Type, flags = 0, what: string = TYPE_NAMES[type] ?? 'this type'): void {
    this.out.u32((wireId(type, this.engine, what) | flags) >>> 0);
  }

  private string(text: string): void {
    const data = utf8(text);
    this.out.u32(data.length);
    this.out.padded(data);
  }

  private float(value: number): void {
    // As the engine does: 32 bits when they hold the value exactly, else 64 (NaN takes 64).
    if (Math.fround(value) === value) {
      this.header(Type.Float);
      this.out.f32(value);
    } else {
      this.header(Type.Float, HEADER_FLAG_64);
      this.out.f64(value);
    }
  }

  private int(value: bigint): void {
    if (value < INT64_MIN || value > INT64_MAX) throw unencodable(`the integer ${value} (beyond 64 bits)`);
    if (value >= BigInt(INT32_MIN) && value <= BigInt(INT32_MAX)) {
      this.header(Type.Int);
      this.out.i32(Number(value));
    } else {
      this.header(Type.Int, HEADER_FLAG_64);
      this.out.i64(value);
    }
  }

  /** A component of Vector2i and its kin: the engine keeps an int32, which must hold it exactly. */
  private int32(value: unknown, what: string): void {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < INT32_MIN || value > INT32_MAX) {
      throw new VariantError(
        'ERR_VARIANT_UNENCODABLE',
        `a ${what} component must be a 32-bit integer, not ${describeValue(value)}`,
      );
    }
    this.out.i32(value);
  }

  private vector2(v: Vector2): void {
    this.out.f32(v.x);
    this.out.f32(v.y);
  }

  private vector2i(v: Vector2i, what = 'Vector2i'): void {
    this.int32(v.x, what);
    this.int32(v.y, what);
  }

  private vector3(v: Vector3): void {
    this.out.f32(v.x);
    this.out.f32(v.y);
    this.out.f32(v.z);
  }

  private vector4(v: Vector4): void {
    this.out.f32(v.x);
    this.out.f32(v.y);
    this.out.f32(v.z);
    this.out.f32(v.w);
  }

  private color(c: Color): void {
    this.out.f32(c.r);
    this.out.f32(c.g);
    this.out.f32(c.b);
    this.out.f32(c.a);
  }

  private enterContainer(depth: number): number {
    if (depth + 1 > this.maxDepth) {
      throw new VariantError(
        'ERR_VARIANT_DEPTH',
        `arrays and dictionaries nest deeper than maxDepth (${this.maxDepth}), or contain themselves`,
      );
    }
    return depth + 1;
  }

  value(value: unknown, depth: number): void {
    switch (typeof value) {
      case 'boolean':
        this.header(Type.Bool);
        this.out.u32(value ? 1 : 0);
        return;
      case 'number':
        // Integers (within 64 bits) are Godot ints, everything else a float; -0 is the int 0.
        if (Number.isInteger(value) && value >= -TWO_POW_63 && value < TWO_POW_63) this.int(BigInt(value));
        else this.float(value);
        return;
      case 'bigint':
        this.int(value);
        return;
      case 'string':
        this.header(Type.String);
        this.string(value);
        return;
      case 'object':
        if (value === null) {
          this.header(Type.Nil);
          return;
        }
        this.object(value, depth);
        return;
      default:
        throw unencodable(describe(value));
    }
  }

  private object(value: object, depth: number): void {
    const out = this.out;
    if (value instanceof GodotFloat) {
      if (typeof value.value !== 'number') throw unencodable(`GodotFloat of ${describe(value.value)}`);
      this.float(value.value);
    } else if (value instanceof Vector2) {
      this.header(Type.Vector2);
      this.vector2(value);
    } else if (value instanceof Vector2i) {
      this.header(Type.Vector2i);
      this.vector2i(value);
    } else if (value instanceof Rect2) {
      this.header(Type.Rect2);
      this.vector2(value.position);
      this.vector2(value.size);
    } else if (value instanceof Rect2i) {
      this.header(Type.Rect2i);
      this.vector2i(value.position, 'Rect2i');
      this.vector2i(value.size, 'Rect2i');
    } else if (value instanceof Vector3) {
      this.header(Type.Vector3);
      this.vector3(value);
    } else if (value instanceof Vector3i) {
      this.header(Type.Vector3i);
      this.int32(value.x, 'Vector3i');
      this.int32(value.y, 'Vector3i');
      this.int32(value.z, 'Vector3i');
    } else if (value instanceof Transform2D) {
      this.header(Type.Transform2D);
      this.vector2(value.x);
      this.vector2(value.y);
      this.vector2(value.origin);
    } else if (value instanceof Vector4) {
      this.header(Type.Vector4);
      this.vector4(value);
    } else if (value instanceof Vector4i) {
      this.header(Type.Vector4i);
      this.int32(value.x, 'Vector4i');
      this.int32(value.y, 'Vector4i');
      this.int32(value.z, 'Vector4i');
      this.int32(value.w, 'Vector4i');
    } else if (value instanceof Plane) {
      this.header(Type.Plane);
      this.vector3(value.normal);
      out.f32(value.d);
    } else if (value instanceof Quat) {
      this.header(Type.Quaternion);
      out.f32(value.x);
      out.f32(value.y);
      out.f32(value.z);
      out.f32(value.w);
    } else if (value instanceof AABB) {
      this.header(Type.AABB);
      this.vector3(value.position);
      this.vector3(value.size);
    } else if (value instanceof Basis) {
      this.header(Type.Basis);
      this.basis(value);
    } else if (value instanceof Transform) {
      this.header(Type.Transform3D);
      this.basis(value.basis);
      this.vector3(value.origin);
    } else if (value instanceof Projection) {
      // Column by column, as the engine keeps it: no transposing here.
      this.header(Type.Projection);
      this.vector4(value.x);
      this.vector4(value.y);
      this.vector4(value.z);
      this.vector4(value.w);
    } else if (value instanceof Color) {
      // Always four 32-bit floats, in a double-precision Godot 4 build too.
      this.header(Type.Color);
      this.color(value);
    } else if (value instanceof StringName) {
      if (typeof value.value !== 'string') throw unencodable(`StringName of ${describe(value.value)}`);
      this.header(Type.StringName);
      this.string(value.value);
    } else if (value instanceof NodePath) {
      this.header(Type.NodePath);
      out.u32((value.names.length | NODE_PATH_NEW_FORMAT) >>> 0);
      out.u32(value.subnames.length);
      out.u32(value.absolute ? NODE_PATH_ABSOLUTE : 0);
      for (const name of value.names) this.string(name);
      for (const name of value.subnames) this.string(name);
    } else if (value instanceof Uint8Array) {
      this.header(Type.PackedByteArray);
      out.u32(value.length);
      out.padded(value);
    } else if (value instanceof Int32Array) {
      this.header(Type.PackedInt32Array);
      out.u32(value.length);
      for (const element of value) out.i32(element);
    } else if (value instanceof BigInt64Array) {
      this.header(Type.PackedInt64Array, 0, 'PackedInt64Array (a BigInt64Array)');
      out.u32(value.length);
      for (const element of value) out.i64(element);
    } else if (value instanceof Float32Array) {
      this.header(Type.PackedFloat32Array);
      out.u32(value.length);
      for (const element of value) out.f32(element);
    } else if (value instanceof Float64Array) {
      this.header(Type.PackedFloat64Array, 0, 'PackedFloat64Array (a Float64Array)');
      out.u32(value.length);
      for (const element of value) out.f64(element);
    } else if (value instanceof PoolStringArray) {
      this.header(Type.PackedStringArray);
      out.u32(value.values.length);
      for (const element of value.values) {
        // Both engines write each of these strings with its terminating NUL.
        const data = utf8(element);
        const terminated = new Uint8Array(data.length + 1);
        terminated.set(data);
        out.u32(terminated.length);
        out.padded(terminated);
      }
    } else if (value instanceof PoolVector2Array) {
      this.header(Type.PackedVector2Array);
      out.u32(value.values.length);
      for (const element of value.values) this.vector2(element);
    } else if (value instanceof PoolVector3Array) {
      this.header(Type.PackedVector3Array);
      out.u32(value.values.length);
      for (const element of value.values) this.vector3(element);
    } else if (value instanceof PoolColorArray) {
      this.header(Type.PackedColorArray);
      out.u32(value.values.length);
      for (const element of value.values) this.color(element);
    } else if (value instanceof PackedVector4Array) {
      this.header(Type.PackedVector4Array);
      out.u32(value.values.length);
      for (const element of value.values) this.vector4(element);
    } else if (Array.isArray(value)) {
      const inner = this.enterContainer(depth);
      // Untyped: no element type in the header (Godot 4's typed arrays are decoded, not made).
      this.header(Type.Array);
      out.u32(value.length);
      // An index loop, not for-of: holes must reach value() as undefined and be refused.
      for (let i = 0; i < value.length; i++) this.value(value[i], inner);
    } else if (value instanceof Map) {
      const inner = this.enterContainer(depth);
      this.header(Type.Dictionary);
      out.u32(value.size);
      for (const [key, element] of value) {
        this.value(key, inner);
        this.value(element, inner);
      }
    } else if (isPlainObject(value)) {
      const inner = this.enterContainer(depth);
      const keys = Object.keys(value);
      this.header(Type.Dictionary);
      out.u32(keys.length);
      for (const key of keys) {
        this.header(Type.String);
        this.string(key);
        this.value((value as Record<string, unknown>)[key], inner);
      }
    } else {
      throw unencodable(describe(value));
    }
  }

  /** Godot keeps a Basis as rows; ours are columns. */
  private basis(b: Basis): void {
    for (const row of ['x', 'y', 'z'] as const) {
      this.out.f32(b.x[row]);
      this.out.f32(b.y[row]);
      this.out.f32(b.z[row]);
    }
  }
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

// ---------------------------------------------------------------------------------------------
// Decoding

class Reader {
  private readonly view: DataView;
  offset = 0;

  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  /** Claims `count` bytes, checking first that the input has them. */
  take(count: number, what: string): number {
    if (count > this.remaining) {
      throw new VariantError(
        'ERR_VARIANT_TRUNCATED',
        `${what} needs ${count} bytes at offset ${this.offset}, but only ${this.remaining} remain`,
      );
    }
    const at = this.offset;
    this.offset += count;
    return at;
  }

  u32(what: string): number {
    return this.view.getUint32(this.take(4, what), true);
  }
  i32(what: string): number {
    return this.view.getInt32(this.take(4, what), true);
  }
  i64(what: string): bigint {
    return this.view.getBigInt64(this.take(8, what), true);
  }
  f32(what: string): number {
    return this.view.getFloat32(this.take(4, what), true);
  }
  f64(what: string): number {
    return this.view.getFloat64(this.take(8, what), true);
  }

  /** A count of elements that each take at least `elementSize` bytes: refused before any allocation if the input cannot hold them. */
  count(elementSize: number, what: string, mask = 0xffffffff): number {
    const count = (this.u32(`${what} count`) & mask) >>> 0;
    if (count * elementSize > this.remaining) {
      throw new VariantError(
        'ERR_VARIANT_TRUNCATED',
        `${what} claims ${count} elements of at least ${elementSize} bytes, but only ${this.remaining} bytes remain`,
      );
    }
    return count;
  }

  /** A length-prefixed, 4-byte-padded run of bytes (a view, not a copy). */
  paddedBytes(what: string): Uint8Array {
    const length = this.u32(`${what} length`);
    // Compared before adding the padding: a length near 2^32 must not look small after arithmetic.
    if (length > this.remaining) this.take(length, what);
    const at = this.take(length + padding(length), what);
    return this.bytes.subarray(at, at + length);
  }

  string(what: string): string {
    return decodeUtf8(this.paddedBytes(what), what);
  }
}

/** As the engine reads strings (String::parse_utf8): up to the first NUL, if any. */
function decodeUtf8(data: Uint8Array, what: string): string {
  const end = data.indexOf(0);
  try {
    return utf8Decoder.decode(end === -1 ? data : data.subarray(0, end));
  } catch (error) {
    throw new VariantError('ERR_VARIANT_INVALID', `${what} is not valid UTF-8`, { cause: error });
  }
}

class Decoder {
  constructor(
    private readonly input: Reader,
    private readonly maxDepth: number,
    private readonly engine: Engine,
  ) {}

  /** A `real_t`: 64-bit when the header says so (a double-precision Godot 4 build), else 32. */
  private real(wide: boolean, what: string): number {
    return wide ? this.input.f64(what) : this.input.f32(what);
  }

  private vector2(wide: boolean): Vector2 {
    return new Vector2(this.real(wide, 'Vector2'), this.real(wide, 'Vector2'));
  }

  private vector2i(what: string): Vector2i {
    const r = this.input;
    return new Vector2i(r.i32(what), r.i32(what));
  }

  private vector3(wide: boolean): Vector3 {
    return new Vector3(this.real(wide, 'Vector3'), this.real(wide, 'Vector3'), this.real(wide, 'Vector3'));
  }

  private vector4(wide: boolean, what = 'Vector4'): Vector4 {
    return new Vector4(this.real(wide, what), this.real(wide, what), this.real(wide, what), this.real(wide, what));
  }

  private color(): Color {
    const r = this.input;
    return new Color(r.f32('Color'), r.f32('Color'), r.f32('Color'), r.f32('Color'));
  }

  /** Rows on the wire, columns in ours. */
  private basis(wide: boolean): Basis {
    const row = () => [this.real(wide, 'Basis'), this.real(wide, 'Basis'), this.real(wide, 'Basis')] as const;
    const [xx, yx, zx] = row();
    const [xy, yy, zy] = row();
    const [xz, yz, zz] = row();
    return new Basis(new Vector3(xx, xy, xz), new Vector3(yx, yy, yz), new Vector3(zx, zy, zz));
  }

  private enterContainer(depth: number): number {
    if (depth + 1 > this.maxDepth) {
      throw new VariantError(
        'ERR_VARIANT_DEPTH',
        `arrays and dictionaries nest deeper than maxDepth (${this.maxDepth})`,
      );
    }
    return depth + 1;
  }

  /** The type a header's id stands for in this engine's numbering. */
  private typeOf(id: number, at: number): Type {
    if (this.engine === 4) {
      if (id < GODOT4_TYPE_COUNT) return id as Type;
      throw new VariantError(
        'ERR_VARIANT_TYPE',
        `unknown type id ${id} at offset ${at} (Godot 4 has ${GODOT4_TYPE_COUNT}, up to 4.3's PackedVector4Array)`,
      );
    }
    const type = GODOT3_TYPES[id];
    if (type !== undefined) return type;
    const hint = id < GODOT4_TYPE_COUNT ? '; if the bytes come from Godot 4, decode with { engine: 4 }' : '';
    throw new VariantError(
      'ERR_VARIANT_TYPE',
      `unknown type id ${id} at offset ${at} (Godot 3 has ${GODOT3_TYPES.length}${hint})`,
    );
  }

  /**
   * Skips the element (or key, or value) type of a Godot 4 typed container. The value decodes
   * as a plain Array or Map either way; a class name or a script path is read, never used.
   */
  private containerType(kind: number, what: string): void {
    const r = this.input;
    if (kind === ContainerKind.None) return;
    if (kind === ContainerKind.Builtin) {
      const id = r.u32(`${what} type`);
      if (id >= GODOT4_TYPE_COUNT) {
        throw new VariantError('ERR_VARIANT_INVALID', `${what} type id ${id} is no Godot 4 type`);
      }
      return;
    }
    r.string(kind === ContainerKind.ClassName ? `${what} class name` : `${what} script path`);
  }

  value(depth: number): Variant {
    const r = this.input;
    const header = r.u32('a Variant header');
    const type = this.typeOf(header & HEADER_TYPE_MASK, r.offset - 4);
    const wide = (header & HEADER_FLAG_64) !== 0;
    // Godot 3 has no double-precision vectors: its decoder ignores the flag on them.
    const realWide = wide && this.engine === 4;
    switch (type) {
      case Type.Nil:
        return null;
      case Type.Bool:
        return r.u32('bool') !== 0;
      case Type.Int: {
        if (!wide) return r.i32('int');
        const value = r.i64('int');
        const asNumber = Number(value);
        return Number.isSafeInteger(asNumber) ? asNumber : value;
      }
      case Type.Float:
        return wide ? r.f64('float') : r.f32('float');
      case Type.String:
        return r.string('String');
      case Type.Vector2:
        return this.vector2(realWide);
      case Type.Vector2i:
        return this.vector2i('Vector2i');
      case Type.Rect2:
        return new Rect2(this.vector2(realWide), this.vector2(realWide));
      case Type.Rect2i:
        return new Rect2i(this.vector2i('Rect2i'), this.vector2i('Rect2i'));
      case Type.Vector3:
        return this.vector3(realWide);
      case Type.Vector3i:
        return new Vector3i(r.i32('Vector3i'), r.i32('Vector3i'), r.i32('Vector3i'));
      case Type.Transform2D:
        return new Transform2D(this.vector2(realWide), this.vector2(realWide), this.vector2(realWide));
      case Type.Vector4:
        return this.vector4(realWide);
      case Type.Vector4i:
        return new Vector4i(r.i32('Vector4i'), r.i32('Vector4i'), r.i32('Vector4i'), r.i32('Vector4i'));
      case Type.Plane:
        return new Plane(this.vector3(realWide), this.real(realWide, 'Plane'));
      case Type.Quaternion:
        return new Quat(
          this.real(realWide, 'Quaternion'),
          this.real(realWide, 'Quaternion'),
          this.real(realWide, 'Quaternion'),
          this.real(realWide, 'Quaternion'),
        );
      case Type.AABB:
        return new AABB(this.vector3(realWide), this.vector3(realWide));
      case Type.Basis:
        return this.basis(realWide);
      case Type.Transform3D:
        return new Transform(this.basis(realWide), this.vector3(realWide));
      case Type.Projection:
        // Columns on the wire, as in ours.
        return new Projection(
          this.vector4(realWide, 'Projection'),
          this.vector4(realWide, 'Projection'),
          this.vector4(realWide, 'Projection'),
          this.vector4(realWide, 'Projection'),
        );
      case Type.Color:
        // Always 32-bit: the engine ignores the flag here.
        return this.color();
      case Type.StringName:
        return new StringName(r.string('StringName'));
      case Type.NodePath:
        return this.nodePath();
      case Type.Rid:
        throw new VariantError('ERR_VARIANT_TYPE', 'an RID is an engine-local handle: not supported');
      case Type.Object:
        // Never instantiated, whatever the form: the engine's allow_objects=false.
        throw new VariantError(
          'ERR_VARIANT_OBJECT',
          wide ? 'refused an Object (encoded as an instance id)' : 'refused an Object (encoded in full)',
        );
      case Type.Callable:
        // The engine writes no payload for one and reads it back as an empty Callable.
        throw new VariantError('ERR_VARIANT_TYPE', 'a Callable does not survive encoding (Godot sends an empty one)');
      case Type.Signal:
        throw new VariantError('ERR_VARIANT_TYPE', "a Signal names an object in the sender's process: not supported");
      case Type.Dictionary: {
        const inner = this.enterContainer(depth);
        if (this.engine === 4) {
          this.containerType((header >>> DICTIONARY_KEY_KIND_SHIFT) & CONTAINER_KIND_MASK, 'Dictionary key');
          this.containerType((header >>> DICTIONARY_VALUE_KIND_SHIFT) & CONTAINER_KIND_MASK, 'Dictionary value');
        }
        const count = r.count(8, 'Dictionary', COUNT_MASK);
        const map = new Map<Variant, Variant>();
        for (let i = 0; i < count; i++) {
          const key = this.value(inner);
          map.set(key, this.value(inner));
        }
        return map;
      }
      case Type.Array: {
        const inner = this.enterContainer(depth);
        if (this.engine === 4) {
          this.containerType((header >>> ARRAY_ELEMENT_KIND_SHIFT) & CONTAINER_KIND_MASK, 'Array element');
        }
        const count = r.count(4, 'Array', COUNT_MASK);
        const array: Variant[] = [];
        for (let i = 0; i < count; i++) array.push(this.value(inner));
        return array;
      }
      case Type.PackedByteArray: {
        const data = r.paddedBytes('PackedByteArray');
        return data.slice();
      }
      case Type.PackedInt32Array: {
        const count = r.count(4, 'PackedInt32Array');
        const array = new Int32Array(count);
        for (let i = 0; i < count; i++) array[i] = r.i32('PackedInt32Array');
        return array;
      }
      case Type.PackedInt64Array: {
        const count = r.count(8, 'PackedInt64Array');
        const array = new BigInt64Array(count);
        for (let i = 0; i < count; i++) array[i] = r.i64('PackedInt64Array');
        return array;
      }
      case Type.PackedFloat32Array: {
        const count = r.count(4, 'PackedFloat32Array');
        const array = new Float32Array(count);
        for (let i = 0; i < count; i++) array[i] = r.f32('PackedFloat32Array');
        return array;
      }
      case Type.PackedFloat64Array: {
        const count = r.count(8, 'PackedFloat64Array');
        const array = new Float64Array(count);
        for (let i = 0; i < count; i++) array[i] = r.f64('PackedFloat64Array');
        return array;
      }
      case Type.PackedStringArray: {
        const count = r.count(4, 'PackedStringArray');
        const values: string[] = [];
        for (let i = 0; i < count; i++) {
          // Each string is written with its NUL terminator, which decodeUtf8() stops at.
          values.push(decodeUtf8(r.paddedBytes('PackedStringArray string'), 'PackedStringArray string'));
        }
        return new PoolStringArray(values);
      }
      case Type.PackedVector2Array: {
        const count = r.count(realWide ? 16 : 8, 'PackedVector2Array');
        const values: Vector2[] = [];
        for (let i = 0; i < count; i++) values.push(this.vector2(realWide));
        return new PoolVector2Array(values);
      }
      case Type.PackedVector3Array: {
        const count = r.count(realWide ? 24 : 12, 'PackedVector3Array');
        const values: Vector3[] = [];
        for (let i = 0; i < count; i++) values.push(this.vector3(realWide));
        return new PoolVector3Array(values);
      }
      case Type.PackedColorArray: {
        const count = r.count(16, 'PackedColorArray');
        const values: Color[] = [];
        for (let i = 0; i < count; i++) values.push(this.color());
        return new PoolColorArray(values);
      }
      case Type.PackedVector4Array: {
        const count = r.count(realWide ? 32 : 16, 'PackedVector4Array');
        const values: Vector4[] = [];
        for (let i = 0; i < count; i++) values.push(this.vector4(realWide));
        return new PackedVector4Array(values);
      }
    }
  }

  private nodePath(): NodePath {
    const r = this.input;
    const first = r.u32('NodePath');
    if ((first & NODE_PATH_NEW_FORMAT) === 0) {
      throw new VariantError('ERR_VARIANT_INVALID', 'a NodePath in the obsolete format (no new-format bit)');
    }
    const nameCount = first & COUNT_MASK;
    let subnameCount = r.u32('NodePath subname count');
    const flags = r.u32('NodePath flags');
    if ((flags & NODE_PATH_OLD_PROPERTY) !== 0) subnameCount += 1;
    // Every name takes at least its 4-byte length: refuse counts the input cannot hold.
    if ((nameCount + subnameCount) * 4 > r.remaining) {
      throw new VariantError(
        'ERR_VARIANT_TRUNCATED',
        `NodePath claims ${nameCount + subnameCount} names, more than the input holds`,
      );
    }
    const names: string[] = [];
    const subnames: string[] = [];
    for (let i = 0; i < nameCount; i++) names.push(r.string('NodePath name'));
    for (let i = 0; i < subnameCount; i++) subnames.push(r.string('NodePath subname'));
    return new NodePath(names, subnames, (flags & NODE_PATH_ABSOLUTE) !== 0);
  }
}

function asBytes(bytes: unknown): Uint8Array {
  if (bytes instanceof Uint8Array) return bytes;
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  if (ArrayBuffer.isView(bytes)) return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  throw new VariantError(
    'ERR_VARIANT_INVALID_ARG',
    `decodeVariant() takes bytes (a Uint8Array or an ArrayBuffer), not ${describe(bytes)}`,
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
    const input = asBytes(bytes);
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
