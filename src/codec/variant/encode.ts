// The encoder: a Writer that grows a buffer up to maxSize, and an Encoder that walks a value.

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
} from '../godotTypes.js';
import { describe } from '../../internal/bytes.js';
import { VariantError } from '../VariantError.js';
import type { Engine } from './format.js';
import * as format from './format.js';

// Local copies of format.ts's tables and limits, read for every value: V8 optimizes a load of a
// module's own const better than one of an imported binding, which goes through the module's
// import cell each time. Measured (callgrind, Node 20): encodeVariant(12345) runs 10% fewer
// instructions with them.
const GODOT3_IDS = format.GODOT3_IDS;
const HEADER_FLAG_64 = format.HEADER_FLAG_64;
const INT32_MAX = format.INT32_MAX;
const INT32_MIN = format.INT32_MIN;
const INT64_MAX = format.INT64_MAX;
const INT64_MIN = format.INT64_MIN;
const kindOf = format.kindOf;
const NODE_PATH_ABSOLUTE = format.NODE_PATH_ABSOLUTE;
const NODE_PATH_NEW_FORMAT = format.NODE_PATH_NEW_FORMAT;
const padding = format.padding;
const TWO_POW_63 = format.TWO_POW_63;
const Type = format.Type;
const TYPE_NAMES = format.TYPE_NAMES;
type Type = format.Type;

const utf8Encoder = new TextEncoder();
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** @internal A buffer that grows as it is written, up to maxSize (`ERR_VARIANT_TOO_LARGE`). */
export class Writer {
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

/** How a value of one kind goes on the wire: its header, then its payload. */
type Write = (e: Encoder, value: never) => void;

/** An entry of `Encoder.writers`: `kind`'s instances are written by `write`. */
function writes<T>(kind: { readonly prototype: T }, write: (e: Encoder, value: T) => void): [object, Write] {
  return [kind.prototype as object, write];
}

/** @internal Writes a value to a Writer, no deeper than maxDepth. */
export class Encoder {
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
        `a ${what} component must be a 32-bit integer, not ${describe(value)}`,
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
        throw unencodable(kindOf(value));
    }
  }

  /**
   * How each of the codec's classes, and each typed array Godot has a type for, goes on the wire,
   * by prototype: one lookup where a chain of 27 instanceof tests stood. An instance of a subclass
   * (a Node Buffer, say) finds its class's entry up its prototype chain; none of these classes
   * extends another, so the nearest entry is the only one its instance belongs to.
   */
  private static readonly writers = new Map<object, Write>([
    writes(GodotFloat, (e, v) => {
      if (typeof v.value !== 'number') throw unencodable(`GodotFloat of ${describe(v.value)}`);
      e.float(v.value);
    }),
    writes(Vector2, (e, v) => {
      e.header(Type.Vector2);
      e.vector2(v);
    }),
    writes(Vector2i, (e, v) => {
      e.header(Type.Vector2i);
      e.vector2i(v);
    }),
    writes(Rect2, (e, v) => {
      e.header(Type.Rect2);
      e.vector2(v.position);
      e.vector2(v.size);
    }),
    writes(Rect2i, (e, v) => {
      e.header(Type.Rect2i);
      e.vector2i(v.position, 'Rect2i');
      e.vector2i(v.size, 'Rect2i');
    }),
    writes(Vector3, (e, v) => {
      e.header(Type.Vector3);
      e.vector3(v);
    }),
    writes(Vector3i, (e, v) => {
      e.header(Type.Vector3i);
      e.int32(v.x, 'Vector3i');
      e.int32(v.y, 'Vector3i');
      e.int32(v.z, 'Vector3i');
    }),
    writes(Transform2D, (e, v) => {
      e.header(Type.Transform2D);
      e.vector2(v.x);
      e.vector2(v.y);
      e.vector2(v.origin);
    }),
    writes(Vector4, (e, v) => {
      e.header(Type.Vector4);
      e.vector4(v);
    }),
    writes(Vector4i, (e, v) => {
      e.header(Type.Vector4i);
      e.int32(v.x, 'Vector4i');
      e.int32(v.y, 'Vector4i');
      e.int32(v.z, 'Vector4i');
      e.int32(v.w, 'Vector4i');
    }),
    writes(Plane, (e, v) => {
      e.header(Type.Plane);
      e.vector3(v.normal);
      e.out.f32(v.d);
    }),
    writes(Quat, (e, v) => {
      e.header(Type.Quaternion);
      e.out.f32(v.x);
      e.out.f32(v.y);
      e.out.f32(v.z);
      e.out.f32(v.w);
    }),
    writes(AABB, (e, v) => {
      e.header(Type.AABB);
      e.vector3(v.position);
      e.vector3(v.size);
    }),
    writes(Basis, (e, v) => {
      e.header(Type.Basis);
      e.basis(v);
    }),
    writes(Transform, (e, v) => {
      e.header(Type.Transform3D);
      e.basis(v.basis);
      e.vector3(v.origin);
    }),
    writes(Projection, (e, v) => {
      // Column by column, as the engine keeps it: no transposing here.
      e.header(Type.Projection);
      e.vector4(v.x);
      e.vector4(v.y);
      e.vector4(v.z);
      e.vector4(v.w);
    }),
    writes(Color, (e, v) => {
      // Always four 32-bit floats, in a double-precision Godot 4 build too.
      e.header(Type.Color);
      e.color(v);
    }),
    writes(StringName, (e, v) => {
      if (typeof v.value !== 'string') throw unencodable(`StringName of ${describe(v.value)}`);
      e.header(Type.StringName);
      e.string(v.value);
    }),
    writes(NodePath, (e, v) => {
      e.header(Type.NodePath);
      e.out.u32((v.names.length | NODE_PATH_NEW_FORMAT) >>> 0);
      e.out.u32(v.subnames.length);
      e.out.u32(v.absolute ? NODE_PATH_ABSOLUTE : 0);
      for (const name of v.names) e.string(name);
      for (const name of v.subnames) e.string(name);
    }),
    writes(Uint8Array, (e, v) => {
      e.header(Type.PackedByteArray);
      e.out.u32(v.length);
      e.out.padded(v);
    }),
    writes(Int32Array, (e, v) => {
      e.header(Type.PackedInt32Array);
      e.out.u32(v.length);
      for (const element of v) e.out.i32(element);
    }),
    writes(BigInt64Array, (e, v) => {
      e.header(Type.PackedInt64Array, 0, 'PackedInt64Array (a BigInt64Array)');
      e.out.u32(v.length);
      for (const element of v) e.out.i64(element);
    }),
    writes(Float32Array, (e, v) => {
      e.header(Type.PackedFloat32Array);
      e.out.u32(v.length);
      for (const element of v) e.out.f32(element);
    }),
    writes(Float64Array, (e, v) => {
      e.header(Type.PackedFloat64Array, 0, 'PackedFloat64Array (a Float64Array)');
      e.out.u32(v.length);
      for (const element of v) e.out.f64(element);
    }),
    writes(PoolStringArray, (e, v) => {
      e.header(Type.PackedStringArray);
      e.out.u32(v.values.length);
      for (const element of v.values) {
        // Both engines write each of these strings with its terminating NUL.
        const data = utf8(element);
        const terminated = new Uint8Array(data.length + 1);
        terminated.set(data);
        e.out.u32(terminated.length);
        e.out.padded(terminated);
      }
    }),
    writes(PoolVector2Array, (e, v) => {
      e.header(Type.PackedVector2Array);
      e.out.u32(v.values.length);
      for (const element of v.values) e.vector2(element);
    }),
    writes(PoolVector3Array, (e, v) => {
      e.header(Type.PackedVector3Array);
      e.out.u32(v.values.length);
      for (const element of v.values) e.vector3(element);
    }),
    writes(PoolColorArray, (e, v) => {
      e.header(Type.PackedColorArray);
      e.out.u32(v.values.length);
      for (const element of v.values) e.color(element);
    }),
    writes(PackedVector4Array, (e, v) => {
      e.header(Type.PackedVector4Array);
      e.out.u32(v.values.length);
      for (const element of v.values) e.vector4(element);
    }),
  ]);

  private object(value: object, depth: number): void {
    for (
      let proto: object | null = Object.getPrototypeOf(value);
      proto !== null;
      proto = Object.getPrototypeOf(proto)
    ) {
      const write = Encoder.writers.get(proto);
      if (write !== undefined) return write(this, value as never);
    }
    const out = this.out;
    if (Array.isArray(value)) {
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
      throw unencodable(kindOf(value));
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
