import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import fc from 'fast-check';
import { firstValueFrom, of } from 'rxjs';
import {
  AABB,
  Basis,
  Color,
  GodotFloat,
  NodePath,
  PackedColorArray,
  PackedStringArray,
  PackedVector2Array,
  PackedVector3Array,
  PackedVector4Array,
  Plane,
  PoolVector2Array,
  Projection,
  Quat,
  Quaternion,
  Rect2,
  Rect2i,
  StringName,
  Transform,
  Transform2D,
  Transform3D,
  Vector2,
  Vector2i,
  Vector3,
  Vector3i,
  Vector4,
  Vector4i,
  type Variant,
} from '../../src/codec/godotTypes.js';
import { decodeVariant, encodeVariant, type VariantOptions } from '../../src/codec/variant.js';
import type { VariantErrorCode } from '../../src/codec/VariantError.js';
import {
  damaged,
  decodesOrRefuses,
  expectCode,
  f32,
  fromHex,
  text,
  toHex,
  variantError,
  variantOf,
  assertPrefixesRefused,
  assertRoundTrips,
  godot3Scalars,
} from './variantHelpers.js';
import { decodeVariants, encodeVariants } from '../../src/operators/variants.js';

interface Vector {
  name: string;
  type: number;
  godot: string;
  layout: string;
  fields: [string, string][];
  hex: string;
  decodeOnly?: boolean;
  note?: string;
}

// Hand-built from Godot 4's core/io/marshalls.cpp, NOT made by the engine: no Godot 4 is packaged
// in Debian. Each vector names the function and case its layout comes from (see the file's "about").
const fixture = JSON.parse(readFileSync(new URL('../fixtures/godot/vectors4.json', import.meta.url), 'utf8')) as {
  engine: string;
  about: string[];
  vectors: Vector[];
};
const vectors = new Map(fixture.vectors.map((vector) => [vector.name, vector]));
const godot3 = JSON.parse(readFileSync(new URL('../fixtures/godot/vectors3.json', import.meta.url), 'utf8')) as {
  vectors: { name: string; hex: string }[];
};

const e4: VariantOptions = { engine: 4 };
const f = Math.fround;

/** What each decodable vector stands for. */
const expected: Record<string, Variant> = {
  nil: null,
  bool_true: true,
  int_42: 42,
  int_minus_one: -1,
  int_2_pow_40: 2 ** 40,
  int_min64: -(2n ** 63n),
  float_half: 0.5,
  float_tenth: 0.1,
  string_empty: '',
  string_non_ascii: 'héllo ✓',
  vector2: new Vector2(1.5, -2.25),
  vector2_double: new Vector2(0.1, 0.2),
  vector2i: new Vector2i(1, -2),
  rect2: new Rect2(new Vector2(1, 2), new Vector2(3, 4)),
  rect2i: new Rect2i(new Vector2i(1, 2), new Vector2i(-3, 4)),
  vector3: new Vector3(1, 2.5, -3),
  vector3i: new Vector3i(1, -2, 2147483647),
  transform2d: new Transform2D(new Vector2(1, 2), new Vector2(3, 4), new Vector2(5, 6)),
  vector4: new Vector4(1, -2, 3.5, 0.25),
  vector4_double: new Vector4(0.1, 1, 2, 3),
  vector4i: new Vector4i(1, -2, 3, -2147483648),
  plane: new Plane(new Vector3(0, 1, 0), 2.5),
  quaternion: new Quaternion(0.5, -0.5, 0.25, 1),
  aabb: new AABB(new Vector3(1, 2, 3), new Vector3(4, 5, 6)),
  basis: new Basis(new Vector3(1, 2, 3), new Vector3(4, 5, 6), new Vector3(7, 8, 9)),
  transform3d: new Transform3D(
    new Basis(new Vector3(1, 2, 3), new Vector3(4, 5, 6), new Vector3(7, 8, 9)),
    new Vector3(10, 11, 12),
  ),
  transform3d_double: new Transform3D(
    new Basis(new Vector3(1.1, 2.1, 3.1), new Vector3(4.1, 5.1, 6.1), new Vector3(7.1, 8.1, 9.1)),
    new Vector3(10.1, 11.1, 12.1),
  ),
  projection: new Projection(
    new Vector4(1, 2, 3, 4),
    new Vector4(5, 6, 7, 8),
    new Vector4(9, 10, 11, 12),
    new Vector4(13, 14, 15, 16),
  ),
  projection_double: new Projection(
    new Vector4(0.1, 2, 3, 4),
    new Vector4(5, 6, 7, 8),
    new Vector4(9, 10, 11, 12),
    new Vector4(13, 14, 15, 16),
  ),
  color: new Color(0.25, 0.5, 0.75, 1),
  string_name: new StringName('jump'),
  string_name_padded: new StringName('hp'),
  nodepath_absolute_subnames: new NodePath(['root', 'Main'], ['position', 'x'], true),
  nodepath_empty: new NodePath([], [], false),
  dictionary: new Map<Variant, Variant>([
    ['a', 1],
    [2, 'b'],
  ]),
  dictionary_empty: new Map(),
  dictionary_typed: new Map([['hp', 100]]),
  dictionary_typed_class_value: new Map(),
  array: [1, 'two', 3.5, null, true],
  array_nested: [[1], new Map([['k', []]])],
  array_typed_int: [1, -2, 3],
  array_typed_class: [],
  array_typed_script: [],
  packed_byte_array: new Uint8Array([0, 1, 127, 128, 255]),
  packed_byte_array_empty: new Uint8Array([]),
  packed_int32_array: new Int32Array([0, 1, -1, 2147483647, -2147483648]),
  packed_int64_array: BigInt64Array.from([0n, -1n, 2n ** 40n, 2n ** 63n - 1n, -(2n ** 63n)]),
  packed_int64_array_empty: new BigInt64Array(0),
  packed_float32_array: new Float32Array([0.5, -1.25]),
  packed_float64_array: new Float64Array([0.1, -1e300, 2]),
  packed_string_array: new PackedStringArray(['', 'a', 'héllo', 'abc']),
  packed_vector2_array: new PackedVector2Array([new Vector2(1, 2), new Vector2(-0.5, 0.25)]),
  packed_vector2_array_double: new PackedVector2Array([new Vector2(0.1, 0.2)]),
  packed_vector3_array: new PackedVector3Array([new Vector3(1, 2, 3), new Vector3(-4, 5.5, 0)]),
  packed_color_array: new PackedColorArray([new Color(1, 0, 0, 1), new Color(0, 0.5, 1, 0.25)]),
  packed_vector4_array: new PackedVector4Array([new Vector4(1, 2, 3, 4)]),
  packed_vector4_array_double: new PackedVector4Array([new Vector4(0.1, 2, 3, 4)]),
};

/** What the engine can send but the codec refuses, and with which code. */
const refused: Record<string, VariantErrorCode> = {
  rid: 'ERR_VARIANT_TYPE',
  object_as_id: 'ERR_VARIANT_OBJECT',
  object_full: 'ERR_VARIANT_OBJECT',
  callable: 'ERR_VARIANT_TYPE',
  signal: 'ERR_VARIANT_TYPE',
};

function header(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
}

describe('codec/variant with { engine: 4 }', () => {
  describe('Godot 4 test vectors (hand-built from marshalls.cpp, not engine-made)', () => {
    it('say they are not engine-made, and cover every name this spec knows', () => {
      expect(fixture.engine).to.match(/NOT made by a Godot 4 engine/);
      expect(fixture.about.join(' ')).to.contain('core/io/marshalls.cpp');
      expect([...vectors.keys()].sort()).to.deep.equal([...Object.keys(expected), ...Object.keys(refused)].sort());
    });

    it('spell out every byte: hex is the fields in order, each field names its source', () => {
      for (const vector of vectors.values()) {
        expect(vector.fields.map(([, hex]) => hex).join(''), vector.name).to.equal(vector.hex);
        expect(vector.layout, vector.name).to.match(/^marshalls\.cpp encode_variant\(\)\/decode_variant\(\), case /);
        expect(vector.hex.length % 8, `${vector.name}: padded to 4 bytes`).to.equal(0);
        expect(header(fromHex(vector.hex)) & 0xff, vector.name).to.equal(vector.type);
      }
    });

    for (const [name, value] of Object.entries(expected)) {
      describe(name, () => {
        const vector = () => vectors.get(name) as Vector;

        it('decodes to the expected value', () => {
          expect(decodeVariant(fromHex(vector().hex), e4)).to.deep.equal(value);
        });

        it(vectors.get(name)?.decodeOnly ? 're-encodes in the form the codec makes' : 'encodes byte-exact', () => {
          const decoded = decodeVariant(fromHex(vector().hex), e4);
          const again = encodeVariant(decoded, e4);
          if (!vector().decodeOnly) {
            expect(toHex(encodeVariant(value, e4))).to.equal(vector().hex);
            expect(toHex(again)).to.equal(vector().hex);
            return;
          }
          // Typed containers come back untyped; double-precision vectors come back as float32.
          expect(header(again)).to.equal(vector().type);
          expect(toHex(encodeVariant(decodeVariant(again, e4), e4))).to.equal(toHex(again));
          if (name.includes('typed')) expect(decodeVariant(again, e4)).to.deep.equal(value);
          else expect(again.length).to.be.lessThan(fromHex(vector().hex).length);
        });
      });
    }

    it('a double-precision vector re-encodes as float32 components, as a single-precision build sends it', () => {
      const decoded = decodeVariant(fromHex(vectors.get('vector2_double')?.hex ?? ''), e4);
      expect(decodeVariant(encodeVariant(decoded, e4), e4)).to.deep.equal(new Vector2(f(0.1), f(0.2)));
    });

    it('a plain object encodes as the same Dictionary as a Map', () => {
      expect(toHex(encodeVariant({ k: [] }, e4))).to.equal(toHex(encodeVariant(new Map([['k', []]]), e4)));
      expect(toHex(encodeVariant([[1], { k: [] }], e4))).to.equal(vectors.get('array_nested')?.hex);
    });

    it('RID, Object, Callable and Signal are refused, and an Object is never instantiated', () => {
      for (const [name, code] of Object.entries(refused)) {
        expectCode(() => decodeVariant(fromHex(vectors.get(name)?.hex ?? ''), e4), code);
      }
      // Inside a container too: [Callable()].
      expectCode(() => decodeVariant(fromHex('1c000000' + '01000000' + '19000000'), e4), 'ERR_VARIANT_TYPE');
      expectCode(
        () => decodeVariant(fromHex('1c000000' + '01000000' + (vectors.get('object_full')?.hex ?? '')), e4),
        'ERR_VARIANT_OBJECT',
      );
    });
  });

  describe('the engine option', () => {
    it('defaults to Godot 3', () => {
      const value = [
        new Vector3(1, 2, 3),
        new Transform(
          new Basis(new Vector3(1, 0, 0), new Vector3(0, 1, 0), new Vector3(0, 0, 1)),
          new Vector3(0, 0, 0),
        ),
      ];
      expect(toHex(encodeVariant(value))).to.equal(toHex(encodeVariant(value, { engine: 3 })));
      expect(toHex(encodeVariant(value))).to.equal(toHex(encodeVariant(value, {})));
      expect(header(encodeVariant(new Vector3(1, 2, 3)))).to.equal(7);
    });

    it('puts the same value under each engine’s type id', () => {
      // [value, Godot 3 id (core/variant.h), Godot 4 id (core/variant/variant.h)]
      const table: [Variant, number, number][] = [
        [null, 0, 0],
        [true, 1, 1],
        [1, 2, 2],
        [0.5, 3, 3],
        ['s', 4, 4],
        [new Vector2(1, 2), 5, 5],
        [new Rect2(new Vector2(1, 2), new Vector2(3, 4)), 6, 7],
        [new Vector3(1, 2, 3), 7, 9],
        [new Transform2D(new Vector2(1, 0), new Vector2(0, 1), new Vector2(0, 0)), 8, 11],
        [new Plane(new Vector3(0, 1, 0), 0), 9, 14],
        [new Quat(0, 0, 0, 1), 10, 15],
        [new AABB(new Vector3(0, 0, 0), new Vector3(1, 1, 1)), 11, 16],
        [new Basis(new Vector3(1, 0, 0), new Vector3(0, 1, 0), new Vector3(0, 0, 1)), 12, 17],
        [
          new Transform(
            new Basis(new Vector3(1, 0, 0), new Vector3(0, 1, 0), new Vector3(0, 0, 1)),
            new Vector3(0, 0, 0),
          ),
          13,
          18,
        ],
        [new Color(1, 1, 1), 14, 20],
        [new NodePath(['a']), 15, 22],
        [new Map(), 18, 27],
        [[], 19, 28],
        [new Uint8Array(1), 20, 29],
        [new Int32Array(1), 21, 30],
        [new Float32Array(1), 22, 32],
        [new PackedStringArray(['a']), 23, 34],
        [new PackedVector2Array([]), 24, 35],
        [new PackedVector3Array([]), 25, 36],
        [new PackedColorArray([]), 26, 37],
      ];
      for (const [value, id3, id4] of table) {
        const three = encodeVariant(value, { engine: 3 });
        const four = encodeVariant(value, e4);
        expect(header(three) & 0xff, String(id3)).to.equal(id3);
        expect(header(four) & 0xff, String(id4)).to.equal(id4);
        // The payloads are the same: only the type ids moved.
        expect(toHex(three.subarray(4))).to.equal(toHex(four.subarray(4)));
        expect(decodeVariant(four, e4)).to.deep.equal(decodeVariant(three));
      }
    });

    it('the Godot 4 names are the Godot 3 classes', () => {
      expect(Quaternion).to.equal(Quat);
      expect(Transform3D).to.equal(Transform);
      expect(new PackedVector2Array([])).to.be.instanceOf(PoolVector2Array);
    });

    it('refuses a Godot 4-only type under engine 3 with ERR_VARIANT_UNENCODABLE, saying to pass { engine: 4 }', () => {
      const only4: Variant[] = [
        new Vector2i(1, 2),
        new Vector3i(1, 2, 3),
        new Vector4(1, 2, 3, 4),
        new Vector4i(1, 2, 3, 4),
        new Rect2i(new Vector2i(0, 0), new Vector2i(1, 1)),
        new Projection(
          new Vector4(1, 0, 0, 0),
          new Vector4(0, 1, 0, 0),
          new Vector4(0, 0, 1, 0),
          new Vector4(0, 0, 0, 1),
        ),
        new StringName('a'),
        new BigInt64Array(1),
        new Float64Array(1),
        new PackedVector4Array([]),
        [1, [new Vector2i(1, 2)]],
        new Map([[new StringName('k'), 1]]),
      ];
      for (const value of only4) {
        const error = variantError(() => encodeVariant(value));
        expect(error.code).to.equal('ERR_VARIANT_UNENCODABLE');
        // The one message this suite reads: the hint is the point of the error.
        expect(error.message).to.contain('{ engine: 4 }');
        expect(() => encodeVariant(value, e4)).not.to.throw();
      }
    });

    it('refuses a bad engine with ERR_VARIANT_INVALID_ARG, both ways', () => {
      for (const engine of [5, 2, 0, '4', '3', NaN, 3.5, 4n, {}]) {
        const options = { engine } as unknown as VariantOptions;
        expectCode(() => encodeVariant(1, options), 'ERR_VARIANT_INVALID_ARG');
        expectCode(() => decodeVariant(fromHex('00000000'), options), 'ERR_VARIANT_INVALID_ARG');
      }
    });

    it('Godot 4 bytes decoded as Godot 3 give a VariantError or a value, never anything else', () => {
      for (const vector of vectors.values())
        expect(decodesOrRefuses(fromHex(vector.hex), { engine: 3 })).to.equal(true);
      // An id Godot 3 lacks says where to look.
      const error = variantError(() => decodeVariant(fromHex(vectors.get('array')?.hex ?? '')));
      expect(error.code).to.equal('ERR_VARIANT_TYPE');
      expect(error.message).to.contain('{ engine: 4 }');
      expectCode(() => decodeVariant(fromHex(vectors.get('packed_int64_array')?.hex ?? '')), 'ERR_VARIANT_TYPE');
    });

    it('Godot 3 bytes decoded as Godot 4 give a VariantError or a value, never anything else', () => {
      for (const vector of godot3.vectors) expect(decodesOrRefuses(fromHex(vector.hex), e4)).to.equal(true);
    });

    it('flows through decodeVariants() and encodeVariants()', async () => {
      const packet = await firstValueFrom(of<Variant>(new Vector2i(3, 4)).pipe(encodeVariants(e4)));
      expect(toHex(packet.data as Uint8Array)).to.equal('060000000300000004000000');
      expect(await firstValueFrom(of(packet).pipe(decodeVariants(e4)))).to.deep.equal(new Vector2i(3, 4));
    });
  });

  describe('encodeVariant()', () => {
    it('sends ints and floats as Godot 3 does: 32-bit when exact, else 64', () => {
      expect(toHex(encodeVariant(7, e4))).to.equal('0200000007000000');
      expect(toHex(encodeVariant(2 ** 40, e4))).to.equal(vectors.get('int_2_pow_40')?.hex);
      expect(toHex(encodeVariant(0.1, e4))).to.equal(vectors.get('float_tenth')?.hex);
      expect(toHex(encodeVariant(new GodotFloat(2), e4))).to.equal('0300000000000040');
    });

    it('refuses a Vector2i, Vector3i, Vector4i or Rect2i component that is no 32-bit integer', () => {
      for (const bad of [2.5, 2 ** 31, -(2 ** 31) - 1, NaN, Infinity, '1', 1n, undefined]) {
        const n = bad as number;
        expectCode(() => encodeVariant(new Vector2i(0, n), e4), 'ERR_VARIANT_UNENCODABLE');
        expectCode(() => encodeVariant(new Vector3i(n, 0, 0), e4), 'ERR_VARIANT_UNENCODABLE');
        expectCode(() => encodeVariant(new Vector4i(0, 0, 0, n), e4), 'ERR_VARIANT_UNENCODABLE');
        expectCode(
          () => encodeVariant(new Rect2i(new Vector2i(0, 0), new Vector2i(n, 0)), e4),
          'ERR_VARIANT_UNENCODABLE',
        );
      }
      expect(toHex(encodeVariant(new Vector2i(-0, 2 ** 31 - 1), e4))).to.equal('0600000000000000ffffff7f');
    });

    it('refuses a StringName with a NUL, a lone surrogate or no string, as it refuses such a String', () => {
      for (const value of ['a\0b', 'lone \ud800', 42, undefined]) {
        expectCode(() => encodeVariant(new StringName(value as string), e4), 'ERR_VARIANT_UNENCODABLE');
      }
    });

    it('keeps maxSize and maxDepth', () => {
      expect(encodeVariant(new BigInt64Array(2), { engine: 4, maxSize: 24 }).length).to.equal(24);
      expectCode(() => encodeVariant(new BigInt64Array(3), { engine: 4, maxSize: 24 }), 'ERR_VARIANT_TOO_LARGE');
      expectCode(() => encodeVariant([[new Vector2i(1, 2)]], { engine: 4, maxDepth: 1 }), 'ERR_VARIANT_DEPTH');
      const cycle: Variant[] = [];
      cycle.push(cycle);
      expectCode(() => encodeVariant(cycle, e4), 'ERR_VARIANT_DEPTH');
    });
  });

  describe('decodeVariant()', () => {
    const malformed: [string, string, VariantErrorCode][] = [
      ['type id 39 (one past PackedVector4Array)', '27000000', 'ERR_VARIANT_TYPE'],
      ['type id 255', 'ff000000', 'ERR_VARIANT_TYPE'],
      ['a Vector2i cut short', '0600000001000000', 'ERR_VARIANT_TRUNCATED'],
      ['a double-precision Vector2 with float32 room', '05000100' + '00'.repeat(8), 'ERR_VARIANT_TRUNCATED'],
      ['a Projection cut short', '13000000' + '00'.repeat(60), 'ERR_VARIANT_TRUNCATED'],
      ['a typed Array without its element type', '1c000100', 'ERR_VARIANT_TRUNCATED'],
      ['a typed Array whose element type id is 39', '1c000100' + '27000000' + '00000000', 'ERR_VARIANT_INVALID'],
      ['a typed Array whose element type id is -1', '1c000100' + 'ffffffff' + '00000000', 'ERR_VARIANT_INVALID'],
      [
        'a class-typed Array whose class name is longer than the input',
        '1c000200' + 'ffffff7f',
        'ERR_VARIANT_TRUNCATED',
      ],
      [
        'a script-typed Array whose path is not UTF-8',
        '1c000300' + '02000000' + 'c3280000' + '00000000',
        'ERR_VARIANT_INVALID',
      ],
      ['a typed Dictionary without its value type', '1b000500' + '04000000', 'ERR_VARIANT_TRUNCATED'],
      ['a typed Array claiming 2^31-1 elements', '1c000100' + '02000000' + 'ffffff7f', 'ERR_VARIANT_TRUNCATED'],
      ['a PackedInt64Array claiming 2^29 elements', '1f000000' + '00000020' + '00'.repeat(16), 'ERR_VARIANT_TRUNCATED'],
      [
        'a PackedInt64Array claiming one element in 4 bytes',
        '1f000000' + '01000000' + '00000000',
        'ERR_VARIANT_TRUNCATED',
      ],
      ['a PackedFloat64Array claiming 2^32-1 elements', '21000000' + 'ffffffff', 'ERR_VARIANT_TRUNCATED'],
      [
        'a double PackedVector4Array claiming one in 16 bytes',
        '26000100' + '01000000' + '00'.repeat(16),
        'ERR_VARIANT_TRUNCATED',
      ],
      [
        'a double PackedVector2Array claiming 2^28 elements',
        '23000100' + '00000010' + '00'.repeat(64),
        'ERR_VARIANT_TRUNCATED',
      ],
      ['a StringName longer than the input', '15000000' + '09000000' + '61626364', 'ERR_VARIANT_TRUNCATED'],
      ['a StringName of invalid UTF-8', '15000000' + '02000000' + 'c3280000', 'ERR_VARIANT_INVALID'],
      ['a Signal, even cut short', '1a000000', 'ERR_VARIANT_TYPE'],
      ['a value followed by more bytes', '0000000000', 'ERR_VARIANT_TRAILING'],
    ];
    for (const [what, hex, code] of malformed) {
      it(`refuses ${what} with ${code}`, () => {
        expectCode(() => decodeVariant(fromHex(hex), e4), code);
      });
    }

    it('ignores the 64-bit flag on a Color, as the engine does', () => {
      const flagged = fromHex('14000100' + (vectors.get('color')?.hex ?? '').slice(8));
      expect(decodeVariant(flagged, e4)).to.deep.equal(expected['color']);
    });

    it('reads a String, StringName or PackedStringArray string up to its first NUL, as the engine does', () => {
      expect(decodeVariant(fromHex('040000000300000061006200'), e4)).to.equal('a');
      expect(decodeVariant(fromHex('150000000300000061006200'), e4)).to.deep.equal(new StringName('a'));
      expect(decodeVariant(fromHex('22000000010000000300000061006200'), e4)).to.deep.equal(
        new PackedStringArray(['a']),
      );
    });

    it('copies PackedInt64Array and PackedFloat64Array data from any offset: no alias, no alignment needed', () => {
      const hex = vectors.get('packed_int64_array')?.hex ?? '';
      const bytes = fromHex(`ff${hex}`);
      const decoded = decodeVariant(bytes.subarray(1), e4) as BigInt64Array;
      bytes.fill(0);
      expect(decoded).to.deep.equal(expected['packed_int64_array']);
      const floats = fromHex(`ffffff${vectors.get('packed_float64_array')?.hex ?? ''}`);
      expect(decodeVariant(floats.subarray(3), e4)).to.deep.equal(expected['packed_float64_array']);
    });

    it('counts typed containers against maxDepth, and nests no deeper, without exhausting the stack', () => {
      // Array[Array] inside Array[Array]...: header with element kind "builtin", element type 28, count.
      const typedNest = (levels: number) =>
        fromHex(('1c000100' + '1c000000' + '01000000').repeat(levels) + '1c000100' + '1c000000' + '00000000');
      expect(() => decodeVariant(typedNest(255), e4)).not.to.throw();
      expectCode(() => decodeVariant(typedNest(256), e4), 'ERR_VARIANT_DEPTH');
      expectCode(() => decodeVariant(typedNest(100_000), e4), 'ERR_VARIANT_DEPTH');
      expectCode(() => decodeVariant(typedNest(2), { engine: 4, maxDepth: 2 }), 'ERR_VARIANT_DEPTH');
    });

    it('refuses input larger than maxSize with ERR_VARIANT_TOO_LARGE', () => {
      const bytes = encodeVariant(new Float64Array(4), e4);
      expect(decodeVariant(bytes, { engine: 4, maxSize: bytes.length })).to.deep.equal(new Float64Array(4));
      expectCode(() => decodeVariant(bytes, { engine: 4, maxSize: bytes.length - 1 }), 'ERR_VARIANT_TOO_LARGE');
    });
  });

  describe('properties (fast-check)', () => {
    const goodEncodings = [...vectors.values()].map((vector) => fromHex(vector.hex));

    /** A valid encoding, damaged: bytes flipped, cut, extended, or a word set to an extreme. */
    const mutated = damaged(
      goodEncodings,
      [0, 1, 2, 0x26, 0x27, 0x10000, 0x30000, 0xf0000, 0x1c0001, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff],
    );

    it('decodeVariant() on random bytes returns a value or throws a VariantError, nothing else', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 4096 }), (bytes) => decodesOrRefuses(bytes, e4)),
        { numRuns: 1000 },
      );
      // Random bytes behind a valid-looking header, with any of the flag bits 16-19 set.
      const headed = fc
        .tuple(fc.integer({ min: 0, max: 45 }), fc.integer({ min: 0, max: 15 }), fc.uint8Array({ maxLength: 256 }))
        .map(([type, flags, rest]) => Uint8Array.from([type, 0, flags, 0, ...rest]));
      fc.assert(
        fc.property(headed, (bytes) => decodesOrRefuses(bytes, e4)),
        { numRuns: 3000 },
      );
    });

    it('decodeVariant() on damaged Godot 4 encodings returns a value or throws a VariantError, nothing else', () => {
      fc.assert(
        fc.property(mutated, (bytes) => decodesOrRefuses(bytes, e4) && decodesOrRefuses(bytes, { engine: 3 })),
        { numRuns: 3000 },
      );
    });

    const i32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    const vector2i = fc.tuple(i32, i32).map(([x, y]) => new Vector2i(x, y));
    const vector4 = fc.tuple(f32, f32, f32, f32).map(([x, y, z, w]) => new Vector4(x, y, z, w));
    // Godot strings hold no NUL (the encoder refuses one).
    // Godot 3's types (Quaternion, Transform3D and the Packed arrays are their classes), and Godot 4's own.
    const scalar: fc.Arbitrary<Variant> = fc.oneof(
      ...godot3Scalars,
      text.map((s) => new StringName(s)),
      vector2i,
      fc.tuple(i32, i32, i32).map(([x, y, z]) => new Vector3i(x, y, z)),
      vector4,
      fc.tuple(i32, i32, i32, i32).map(([x, y, z, w]) => new Vector4i(x, y, z, w)),
      fc.tuple(vector2i, vector2i).map(([p, s]) => new Rect2i(p, s)),
      fc.tuple(vector4, vector4, vector4, vector4).map(([x, y, z, w]) => new Projection(x, y, z, w)),
      fc.bigInt64Array({ maxLength: 4 }),
      fc.float64Array({ maxLength: 4 }),
      fc.array(vector4, { maxLength: 3 }).map((values) => new PackedVector4Array(values)),
    );
    const variant = variantOf(scalar);

    it('encode → decode gives the value back, and re-encoding gives the same bytes', () => {
      assertRoundTrips(variant, e4);
    });

    it('every prefix of a valid encoding is refused with ERR_VARIANT_TRUNCATED', () => {
      assertPrefixesRefused(variant, e4);
    });
  });
});
