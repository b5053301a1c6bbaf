// The decoder: a Reader that never reads past the input, and a Decoder that builds the value.

import {
  AABB,
  Basis,
  Color,
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
} from '../godotTypes.js';
import { VariantError } from '../VariantError.js';
import type { Engine } from './format.js';
import * as format from './format.js';

// Local copies of format.ts's tables and limits, read for every value: V8 optimizes a load of a
// module's own const better than one of an imported binding, which goes through the module's
// import cell each time. Measured (callgrind, Node 20): decodeVariant() of a short array runs 7%
// fewer instructions with them.
const ARRAY_ELEMENT_KIND_SHIFT = format.ARRAY_ELEMENT_KIND_SHIFT;
const CONTAINER_KIND_MASK = format.CONTAINER_KIND_MASK;
const ContainerKind = format.ContainerKind;
const COUNT_MASK = format.COUNT_MASK;
const DICTIONARY_KEY_KIND_SHIFT = format.DICTIONARY_KEY_KIND_SHIFT;
const DICTIONARY_VALUE_KIND_SHIFT = format.DICTIONARY_VALUE_KIND_SHIFT;
const GODOT3_TYPES = format.GODOT3_TYPES;
const GODOT4_TYPE_COUNT = format.GODOT4_TYPE_COUNT;
const HEADER_FLAG_64 = format.HEADER_FLAG_64;
const HEADER_TYPE_MASK = format.HEADER_TYPE_MASK;
const NODE_PATH_ABSOLUTE = format.NODE_PATH_ABSOLUTE;
const NODE_PATH_NEW_FORMAT = format.NODE_PATH_NEW_FORMAT;
const NODE_PATH_OLD_PROPERTY = format.NODE_PATH_OLD_PROPERTY;
const padding = format.padding;
const Type = format.Type;
type Type = format.Type;

// ignoreBOM: a leading U+FEFF is part of the string, not a marker to strip.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** @internal Reads the input, refusing to read past its end (`ERR_VARIANT_TRUNCATED`). */
export class Reader {
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

/** @internal Builds the value the reader's bytes hold, no deeper than maxDepth. */
export class Decoder {
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
