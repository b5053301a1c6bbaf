import {
  AABB,
  Basis,
  Color,
  GodotFloat,
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
} from './godotTypes.js';
import { VariantError } from './VariantError.js';

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
}

/** The engine's default `encode_buffer_max_size`: 8 MiB. */
export const DEFAULT_VARIANT_MAX_SIZE = 8 * 1024 * 1024;
/** The default {@link VariantOptions.maxDepth}. */
export const DEFAULT_VARIANT_MAX_DEPTH = 256;

/** Godot 3's type ids (`Variant::Type`, core/variant.h), as the low byte of each header. */
const Type = {
  Nil: 0,
  Bool: 1,
  Int: 2,
  Real: 3,
  String: 4,
  Vector2: 5,
  Rect2: 6,
  Vector3: 7,
  Transform2D: 8,
  Plane: 9,
  Quat: 10,
  AABB: 11,
  Basis: 12,
  Transform: 13,
  Color: 14,
  NodePath: 15,
  Rid: 16,
  Object: 17,
  Dictionary: 18,
  Array: 19,
  PoolByteArray: 20,
  PoolIntArray: 21,
  PoolRealArray: 22,
  PoolStringArray: 23,
  PoolVector2Array: 24,
  PoolVector3Array: 25,
  PoolColorArray: 26,
} as const;
const TYPE_COUNT = 27;

/** marshalls.cpp: the header's low byte is the type, bit 16 says "64-bit" (int, float) or "object as id". */
const HEADER_TYPE_MASK = 0xff;
const HEADER_FLAG_64 = 1 << 16;
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

function resolveOptions(options: VariantOptions | undefined): Required<VariantOptions> {
  const maxSize = options?.maxSize ?? DEFAULT_VARIANT_MAX_SIZE;
  const maxDepth = options?.maxDepth ?? DEFAULT_VARIANT_MAX_DEPTH;
  if (!Number.isSafeInteger(maxSize) || maxSize < 4) {
    throw new VariantError(
      'ERR_VARIANT_INVALID_ARG',
      `maxSize must be an integer of at least 4, not ${String(maxSize)}`,
    );
  }
  if (!Number.isSafeInteger(maxDepth) || maxDepth < 0) {
    throw new VariantError(
      'ERR_VARIANT_INVALID_ARG',
      `maxDepth must be a non-negative integer, not ${String(maxDepth)}`,
    );
  }
  return { maxSize, maxDepth };
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

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'object') return `an instance of ${value.constructor?.name ?? 'a null-prototype class'}`;
  return `a ${typeof value}`;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

class Encoder {
  constructor(
    private readonly out: Writer,
    private readonly maxDepth: number,
  ) {}

  private string(text: string): void {
    const data = utf8(text);
    this.out.u32(data.length);
    this.out.padded(data);
  }

  private float(value: number): void {
    // As the engine does: 32 bits when they hold the value exactly, else 64 (NaN takes 64).
    if (Math.fround(value) === value) {
      this.out.u32(Type.Real);
      this.out.f32(value);
    } else {
      this.out.u32(Type.Real | HEADER_FLAG_64);
      this.out.f64(value);
    }
  }

  private int(value: bigint): void {
    if (value < INT64_MIN || value > INT64_MAX) throw unencodable(`the integer ${value} (beyond 64 bits)`);
    if (value >= BigInt(INT32_MIN) && value <= BigInt(INT32_MAX)) {
      this.out.u32(Type.Int);
      this.out.i32(Number(value));
    } else {
      this.out.u32(Type.Int | HEADER_FLAG_64);
      this.out.i64(value);
    }
  }

  private vector2(v: Vector2): void {
    this.out.f32(v.x);
    this.out.f32(v.y);
  }

  private vector3(v: Vector3): void {
    this.out.f32(v.x);
    this.out.f32(v.y);
    this.out.f32(v.z);
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
        this.out.u32(Type.Bool);
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
        this.out.u32(Type.String);
        this.string(value);
        return;
      case 'object':
        if (value === null) {
          this.out.u32(Type.Nil);
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
      out.u32(Type.Vector2);
      this.vector2(value);
    } else if (value instanceof Rect2) {
      out.u32(Type.Rect2);
      this.vector2(value.position);
      this.vector2(value.size);
    } else if (value instanceof Vector3) {
      out.u32(Type.Vector3);
      this.vector3(value);
    } else if (value instanceof Transform2D) {
      out.u32(Type.Transform2D);
      this.vector2(value.x);
      this.vector2(value.y);
      this.vector2(value.origin);
    } else if (value instanceof Plane) {
      out.u32(Type.Plane);
      this.vector3(value.normal);
      out.f32(value.d);
    } else if (value instanceof Quat) {
      out.u32(Type.Quat);
      out.f32(value.x);
      out.f32(value.y);
      out.f32(value.z);
      out.f32(value.w);
    } else if (value instanceof AABB) {
      out.u32(Type.AABB);
      this.vector3(value.position);
      this.vector3(value.size);
    } else if (value instanceof Basis) {
      out.u32(Type.Basis);
      this.basis(value);
    } else if (value instanceof Transform) {
      out.u32(Type.Transform);
      this.basis(value.basis);
      this.vector3(value.origin);
    } else if (value instanceof Color) {
      out.u32(Type.Color);
      this.color(value);
    } else if (value instanceof NodePath) {
      out.u32(Type.NodePath);
      out.u32((value.names.length | NODE_PATH_NEW_FORMAT) >>> 0);
      out.u32(value.subnames.length);
      out.u32(value.absolute ? NODE_PATH_ABSOLUTE : 0);
      for (const name of value.names) this.string(name);
      for (const name of value.subnames) this.string(name);
    } else if (value instanceof Uint8Array) {
      out.u32(Type.PoolByteArray);
      out.u32(value.length);
      out.padded(value);
    } else if (value instanceof Int32Array) {
      out.u32(Type.PoolIntArray);
      out.u32(value.length);
      for (const element of value) out.i32(element);
    } else if (value instanceof Float32Array) {
      out.u32(Type.PoolRealArray);
      out.u32(value.length);
      for (const element of value) out.f32(element);
    } else if (value instanceof PoolStringArray) {
      out.u32(Type.PoolStringArray);
      out.u32(value.values.length);
      for (const element of value.values) {
        // Godot 3 writes each of these strings with its terminating NUL.
        const data = utf8(element);
        const terminated = new Uint8Array(data.length + 1);
        terminated.set(data);
        out.u32(terminated.length);
        out.padded(terminated);
      }
    } else if (value instanceof PoolVector2Array) {
      out.u32(Type.PoolVector2Array);
      out.u32(value.values.length);
      for (const element of value.values) this.vector2(element);
    } else if (value instanceof PoolVector3Array) {
      out.u32(Type.PoolVector3Array);
      out.u32(value.values.length);
      for (const element of value.values) this.vector3(element);
    } else if (value instanceof PoolColorArray) {
      out.u32(Type.PoolColorArray);
      out.u32(value.values.length);
      for (const element of value.values) this.color(element);
    } else if (Array.isArray(value)) {
      const inner = this.enterContainer(depth);
      out.u32(Type.Array);
      out.u32(value.length);
      // An index loop, not for-of: holes must reach value() as undefined and be refused.
      for (let i = 0; i < value.length; i++) this.value(value[i], inner);
    } else if (value instanceof Map) {
      const inner = this.enterContainer(depth);
      out.u32(Type.Dictionary);
      out.u32(value.size);
      for (const [key, element] of value) {
        this.value(key, inner);
        this.value(element, inner);
      }
    } else if (isPlainObject(value)) {
      const inner = this.enterContainer(depth);
      const keys = Object.keys(value);
      out.u32(Type.Dictionary);
      out.u32(keys.length);
      for (const key of keys) {
        out.u32(Type.String);
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
 * Encodes a value in Godot 3's binary Variant format, as the engine's `var2bytes(value)` and
 * `PacketPeer.put_var()` do. Integers (JavaScript numbers without a fraction, and bigints) become
 * Godot ints, 32-bit when they fit; other numbers become floats, 32-bit when that is exact;
 * `GodotFloat` forces a float. A `Map` or a plain object becomes a `Dictionary` (a plain object's
 * keys in `Object.keys()` order, so integer-like keys first). Strings go as UTF-8.
 *
 * ```ts
 * import { encodeVariant, Vector2 } from 'rx-websocket-peer';
 * const bytes = encodeVariant({ position: new Vector2(1, 2), hp: 100 });
 * ```
 *
 * @param value The value; see {@link Variant} for the types it may hold.
 * @param options `maxSize` (default 8 MiB) and `maxDepth` (default 256).
 * @returns A new `Uint8Array` holding the encoding.
 * @throws {VariantError} Only this: `ERR_VARIANT_UNENCODABLE`, `ERR_VARIANT_TOO_LARGE`,
 *   `ERR_VARIANT_DEPTH` (also a cycle), `ERR_VARIANT_INVALID_ARG`.
 */
export function encodeVariant(value: Variant, options?: VariantOptions): Uint8Array {
  try {
    const { maxSize, maxDepth } = resolveOptions(options);
    const out = new Writer(maxSize);
    new Encoder(out, maxDepth).value(value, 0);
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
  ) {}

  private vector2(): Vector2 {
    const r = this.input;
    return new Vector2(r.f32('Vector2'), r.f32('Vector2'));
  }

  private vector3(): Vector3 {
    const r = this.input;
    return new Vector3(r.f32('Vector3'), r.f32('Vector3'), r.f32('Vector3'));
  }

  private color(): Color {
    const r = this.input;
    return new Color(r.f32('Color'), r.f32('Color'), r.f32('Color'), r.f32('Color'));
  }

  /** Rows on the wire, columns in ours. */
  private basis(): Basis {
    const r = this.input;
    const row = () => [r.f32('Basis'), r.f32('Basis'), r.f32('Basis')] as const;
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

  value(depth: number): Variant {
    const r = this.input;
    const header = r.u32('a Variant header');
    const type = header & HEADER_TYPE_MASK;
    const wide = (header & HEADER_FLAG_64) !== 0;
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
      case Type.Real:
        return wide ? r.f64('float') : r.f32('float');
      case Type.String:
        return r.string('String');
      case Type.Vector2:
        return this.vector2();
      case Type.Rect2:
        return new Rect2(this.vector2(), this.vector2());
      case Type.Vector3:
        return this.vector3();
      case Type.Transform2D:
        return new Transform2D(this.vector2(), this.vector2(), this.vector2());
      case Type.Plane:
        return new Plane(this.vector3(), r.f32('Plane'));
      case Type.Quat:
        return new Quat(r.f32('Quat'), r.f32('Quat'), r.f32('Quat'), r.f32('Quat'));
      case Type.AABB:
        return new AABB(this.vector3(), this.vector3());
      case Type.Basis:
        return this.basis();
      case Type.Transform:
        return new Transform(this.basis(), this.vector3());
      case Type.Color:
        return this.color();
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
      case Type.Dictionary: {
        const inner = this.enterContainer(depth);
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
        const count = r.count(4, 'Array', COUNT_MASK);
        const array: Variant[] = [];
        for (let i = 0; i < count; i++) array.push(this.value(inner));
        return array;
      }
      case Type.PoolByteArray: {
        const data = r.paddedBytes('PoolByteArray');
        return data.slice();
      }
      case Type.PoolIntArray: {
        const count = r.count(4, 'PoolIntArray');
        const array = new Int32Array(count);
        for (let i = 0; i < count; i++) array[i] = r.i32('PoolIntArray');
        return array;
      }
      case Type.PoolRealArray: {
        const count = r.count(4, 'PoolRealArray');
        const array = new Float32Array(count);
        for (let i = 0; i < count; i++) array[i] = r.f32('PoolRealArray');
        return array;
      }
      case Type.PoolStringArray: {
        const count = r.count(4, 'PoolStringArray');
        const values: string[] = [];
        for (let i = 0; i < count; i++) {
          // Each string is written with its NUL terminator, which decodeUtf8() stops at.
          values.push(decodeUtf8(r.paddedBytes('PoolStringArray string'), 'PoolStringArray string'));
        }
        return new PoolStringArray(values);
      }
      case Type.PoolVector2Array: {
        const count = r.count(8, 'PoolVector2Array');
        const values: Vector2[] = [];
        for (let i = 0; i < count; i++) values.push(this.vector2());
        return new PoolVector2Array(values);
      }
      case Type.PoolVector3Array: {
        const count = r.count(12, 'PoolVector3Array');
        const values: Vector3[] = [];
        for (let i = 0; i < count; i++) values.push(this.vector3());
        return new PoolVector3Array(values);
      }
      case Type.PoolColorArray: {
        const count = r.count(16, 'PoolColorArray');
        const values: Color[] = [];
        for (let i = 0; i < count; i++) values.push(this.color());
        return new PoolColorArray(values);
      }
      default:
        throw new VariantError(
          'ERR_VARIANT_TYPE',
          `unknown type id ${type} at offset ${r.offset - 4} (Godot 3 has ${TYPE_COUNT})`,
        );
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
 * Decodes one value in Godot 3's binary Variant format (the engine's `bytes2var(bytes)` and
 * `PacketPeer.get_var()`), which must fill `bytes` exactly. Godot ints come back as numbers, or
 * as bigints beyond ±2^53; floats as numbers; a `Dictionary` as a `Map`. An `Object` is always
 * refused, never instantiated.
 *
 * Whatever the bytes, this returns a value or throws a {@link VariantError}: it reads no further
 * than the input, checks a claimed count against the bytes left before allocating for it, and
 * nests no deeper than `maxDepth`.
 *
 * ```ts
 * import { decodeVariant } from 'rx-websocket-peer';
 * decodeVariant(new Uint8Array([2, 0, 0, 0, 42, 0, 0, 0])); // 42
 * ```
 *
 * @param bytes The encoding (a `Uint8Array`, another `ArrayBufferView` or an `ArrayBuffer`).
 * @param options `maxSize` (default 8 MiB) and `maxDepth` (default 256).
 * @throws {VariantError} Only this: `ERR_VARIANT_TRUNCATED`, `ERR_VARIANT_TYPE`,
 *   `ERR_VARIANT_OBJECT`, `ERR_VARIANT_INVALID`, `ERR_VARIANT_TRAILING`,
 *   `ERR_VARIANT_TOO_LARGE`, `ERR_VARIANT_DEPTH`, `ERR_VARIANT_INVALID_ARG`.
 */
export function decodeVariant(bytes: Uint8Array | ArrayBuffer | ArrayBufferView, options?: VariantOptions): Variant {
  try {
    const { maxSize, maxDepth } = resolveOptions(options);
    const input = asBytes(bytes);
    if (input.length > maxSize) {
      throw new VariantError('ERR_VARIANT_TOO_LARGE', `${input.length} bytes exceed maxSize (${maxSize} bytes)`);
    }
    const reader = new Reader(input);
    const value = new Decoder(reader, maxDepth).value(0);
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
