/**
 * TypeScript representations of Godot's built-in types, as `encodeVariant()` takes them and
 * `decodeVariant()` returns them.
 *
 * Godot 3, and Godot 4 in its default (single-precision) build, send every component of the
 * vector and matrix types as a 32-bit float (`real_t`), so a component goes through
 * `Math.fround()` on its way to the engine: `new Vector2(0.1, 0.2)` comes back as
 * `Vector2 { x: 0.10000000149011612, y: 0.20000000298023224 }`. The integer vectors of Godot 4
 * (`Vector2i`...) hold 32-bit signed integers. The classes are plain immutable values: no vector
 * maths, fields named as in GDScript.
 *
 * Where Godot 4 renamed a type and kept its encoding, the Godot 4 name is an alias of the same
 * class: `Quaternion` is `Quat`, `Transform3D` is `Transform`, `PackedStringArray` is
 * `PoolStringArray`, and so on.
 */

/** A 2D vector (`Vector2`). */
export class Vector2 {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

/** A 3D vector (`Vector3`). */
export class Vector3 {
  constructor(
    readonly x: number,
    readonly y: number,
    readonly z: number,
  ) {}
}

/** An axis-aligned 2D rectangle (`Rect2`): a position and a size. */
export class Rect2 {
  constructor(
    readonly position: Vector2,
    readonly size: Vector2,
  ) {}
}

/**
 * A 2D affine transform (`Transform2D`), by its columns as GDScript names them: `x` and `y` are
 * the basis axes and `origin` the translation, as `Transform2D(x, y, origin)` takes them.
 */
export class Transform2D {
  constructor(
    readonly x: Vector2,
    readonly y: Vector2,
    readonly origin: Vector2,
  ) {}
}

/** A plane (`Plane`) in Hessian normal form: `normal · p = d`. */
export class Plane {
  constructor(
    readonly normal: Vector3,
    readonly d: number,
  ) {}
}

/** A quaternion (`Quat`; `Quaternion` in Godot 4). */
export class Quat {
  constructor(
    readonly x: number,
    readonly y: number,
    readonly z: number,
    readonly w: number,
  ) {}
}

/** An axis-aligned bounding box (`AABB`): a position and a size. */
export class AABB {
  constructor(
    readonly position: Vector3,
    readonly size: Vector3,
  ) {}
}

/**
 * A 3×3 matrix (`Basis`) by its columns, as GDScript's `Basis(x_axis, y_axis, z_axis)` and
 * `basis.x`/`.y`/`.z` name them. (The wire format is row by row; the codec transposes.)
 */
export class Basis {
  constructor(
    readonly x: Vector3,
    readonly y: Vector3,
    readonly z: Vector3,
  ) {}
}

/** A 3D affine transform (`Transform`; `Transform3D` in Godot 4): a basis and an origin. */
export class Transform {
  constructor(
    readonly basis: Basis,
    readonly origin: Vector3,
  ) {}
}

/** An RGBA colour (`Color`), components usually in 0..1. */
export class Color {
  constructor(
    readonly r: number,
    readonly g: number,
    readonly b: number,
    readonly a: number = 1,
  ) {}
}

/**
 * A path to a node and, after colons, to a property (`NodePath`).
 *
 * ```ts
 * import { NodePath } from 'rx-websocket-peer';
 * const path = NodePath.parse('/root/Main/Player:position:x');
 * // path.names: ['root', 'Main', 'Player'], path.subnames: ['position', 'x'], path.absolute: true
 * ```
 */
export class NodePath {
  /**
   * @param names The node names, in order (`['..', 'Sprite']`).
   * @param subnames The property names after the node path (`['position', 'x']`). Default: none.
   * @param absolute Whether the path starts at the scene tree's root (`/`). Default: `false`.
   */
  constructor(
    readonly names: readonly string[],
    readonly subnames: readonly string[] = [],
    readonly absolute: boolean = false,
  ) {}

  /** Parses a path in GDScript's notation: `'/root/Node'`, `'../Sprite:position:x'`, `''`. */
  static parse(path: string): NodePath {
    const absolute = path.startsWith('/');
    const [nodes = '', ...subnames] = path.split(':');
    const names = nodes.split('/').filter((name) => name !== '');
    return new NodePath(
      names,
      subnames.filter((name) => name !== ''),
      absolute,
    );
  }

  /** The path in GDScript's notation, as `str(node_path)` prints it. */
  toString(): string {
    const subnames = this.subnames.length > 0 ? `:${this.subnames.join(':')}` : '';
    return `${this.absolute ? '/' : ''}${this.names.join('/')}${subnames}`;
  }
}

/**
 * A number that encodes as a Godot float even when it is an integer: `encodeVariant(2)` sends an
 * `int`, `encodeVariant(new GodotFloat(2))` a `float`. Decoding gives plain numbers for both.
 */
export class GodotFloat {
  constructor(readonly value: number) {}
}

/** A `PoolStringArray` (`PackedStringArray` in Godot 4); a plain `string[]` encodes as an `Array`. */
export class PoolStringArray {
  constructor(readonly values: readonly string[]) {}
}

/** A `PoolVector2Array` (`PackedVector2Array` in Godot 4). */
export class PoolVector2Array {
  constructor(readonly values: readonly Vector2[]) {}
}

/** A `PoolVector3Array` (`PackedVector3Array` in Godot 4). */
export class PoolVector3Array {
  constructor(readonly values: readonly Vector3[]) {}
}

/** A `PoolColorArray` (`PackedColorArray` in Godot 4). */
export class PoolColorArray {
  constructor(readonly values: readonly Color[]) {}
}

// ---------------------------------------------------------------------------------------------
// Godot 4. Encoding one of these needs `{ engine: 4 }`: Godot 3 has no type for them.

/** A 2D vector of 32-bit signed integers (`Vector2i`, Godot 4). */
export class Vector2i {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

/** A 3D vector of 32-bit signed integers (`Vector3i`, Godot 4). */
export class Vector3i {
  constructor(
    readonly x: number,
    readonly y: number,
    readonly z: number,
  ) {}
}

/** A 4D vector (`Vector4`, Godot 4). */
export class Vector4 {
  constructor(
    readonly x: number,
    readonly y: number,
    readonly z: number,
    readonly w: number,
  ) {}
}

/** A 4D vector of 32-bit signed integers (`Vector4i`, Godot 4). */
export class Vector4i {
  constructor(
    readonly x: number,
    readonly y: number,
    readonly z: number,
    readonly w: number,
  ) {}
}

/** An axis-aligned 2D rectangle of integers (`Rect2i`, Godot 4): a position and a size. */
export class Rect2i {
  constructor(
    readonly position: Vector2i,
    readonly size: Vector2i,
  ) {}
}

/**
 * A 4×4 matrix (`Projection`, Godot 4) by its columns, as GDScript's
 * `Projection(x_axis, y_axis, z_axis, w_axis)` and `projection.x`…`.w` name them. (The wire
 * format is column by column too.)
 */
export class Projection {
  constructor(
    readonly x: Vector4,
    readonly y: Vector4,
    readonly z: Vector4,
    readonly w: Vector4,
  ) {}
}

/**
 * An interned name (`StringName`, Godot 4; `&"name"` in GDScript). It travels like a `String`
 * under its own type id, so it decodes as this class, not as a plain `string`, and a `Map` key
 * `new StringName('hp')` stays a `StringName` key on the engine's side.
 *
 * ```ts
 * import { encodeVariant, StringName } from 'rx-websocket-peer';
 * const bytes = encodeVariant(new StringName('jump'), { engine: 4 });
 * ```
 */
export class StringName {
  constructor(readonly value: string) {}

  /** The name itself. */
  toString(): string {
    return this.value;
  }
}

/** A `PackedVector4Array` (Godot 4.3 and later). */
export class PackedVector4Array {
  constructor(readonly values: readonly Vector4[]) {}
}

/** Godot 4's name for {@link Quat}: the same class, the same encoding. */
export const Quaternion = Quat;
/** Godot 4's name for {@link Quat}. */
export type Quaternion = Quat;

/** Godot 4's name for {@link Transform}: the same class, the same encoding. */
export const Transform3D = Transform;
/** Godot 4's name for {@link Transform}. */
export type Transform3D = Transform;

/** Godot 4's name for {@link PoolStringArray}: the same class. */
export const PackedStringArray = PoolStringArray;
/** Godot 4's name for {@link PoolStringArray}. */
export type PackedStringArray = PoolStringArray;

/** Godot 4's name for {@link PoolVector2Array}: the same class. */
export const PackedVector2Array = PoolVector2Array;
/** Godot 4's name for {@link PoolVector2Array}. */
export type PackedVector2Array = PoolVector2Array;

/** Godot 4's name for {@link PoolVector3Array}: the same class. */
export const PackedVector3Array = PoolVector3Array;
/** Godot 4's name for {@link PoolVector3Array}. */
export type PackedVector3Array = PoolVector3Array;

/** Godot 4's name for {@link PoolColorArray}: the same class. */
export const PackedColorArray = PoolColorArray;
/** Godot 4's name for {@link PoolColorArray}. */
export type PackedColorArray = PoolColorArray;

/** A plain object whose properties encode as a Godot `Dictionary` with string keys. */
export interface VariantRecord {
  [key: string]: Variant;
}

/**
 * Every value the Godot codec handles. Godot type → TypeScript (Godot 4 names in parentheses
 * where they differ; the types marked 4 exist in Godot 4 only and need `{ engine: 4 }`):
 *
 * | Godot                                  | decodes to                      | also encodes from          |
 * |----------------------------------------|---------------------------------|----------------------------|
 * | `null`                                 | `null`                          |                            |
 * | `bool`                                 | `boolean`                       |                            |
 * | `int` (32/64-bit)                      | `number`; `bigint` beyond ±2^53 | integer `number`, `bigint` |
 * | `float` (32/64-bit)                    | `number`                        | `GodotFloat`               |
 * | `String`                               | `string`                        |                            |
 * | `Vector2` … `Color` (`Quaternion`…)    | the classes above (aliases)     |                            |
 * | 4: `Vector2i` … `Projection`           | the classes above               |                            |
 * | 4: `StringName`                        | `StringName`                    |                            |
 * | `NodePath`                             | `NodePath`                      |                            |
 * | `Dictionary` (also typed, 4)           | `Map`                           | plain object               |
 * | `Array` (also typed, 4)                | `Array`                         |                            |
 * | `PoolByteArray` (`PackedByteArray`)    | `Uint8Array`                    |                            |
 * | `PoolIntArray` (`PackedInt32Array`)    | `Int32Array`                    |                            |
 * | 4: `PackedInt64Array`                  | `BigInt64Array`                 |                            |
 * | `PoolRealArray` (`PackedFloat32Array`) | `Float32Array`                  |                            |
 * | 4: `PackedFloat64Array`                | `Float64Array`                  |                            |
 * | `PoolStringArray`… (`Packed…`)         | `PoolStringArray`… (aliases)    |                            |
 * | 4: `PackedVector4Array`                | `PackedVector4Array`            |                            |
 */
export type Variant =
  | null
  | boolean
  | number
  | bigint
  | string
  | GodotFloat
  | Vector2
  | Rect2
  | Vector3
  | Transform2D
  | Plane
  | Quat
  | AABB
  | Basis
  | Transform
  | Color
  | NodePath
  | Map<Variant, Variant>
  | VariantRecord
  | Variant[]
  | Uint8Array
  | Int32Array
  | Float32Array
  | PoolStringArray
  | PoolVector2Array
  | PoolVector3Array
  | PoolColorArray
  | Vector2i
  | Vector3i
  | Vector4
  | Vector4i
  | Rect2i
  | Projection
  | StringName
  | BigInt64Array
  | Float64Array
  | PackedVector4Array;
