import { expect } from 'chai';
import fc from 'fast-check';
import { JsonCodecError, type JsonCodecErrorCode } from '../../src/codec/JsonCodecError.js';
import { DEFAULT_JSON_MAX_SIZE, decodeJson, encodeJson } from '../../src/codec/json.js';

/** Runs `fn` and returns the JsonCodecError it throws, failing on anything else. */
function jsonError(fn: () => unknown): JsonCodecError {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.instanceOf(JsonCodecError);
    return error as JsonCodecError;
  }
  expect.fail('expected a JsonCodecError');
}

function expectCode(fn: () => unknown, code: JsonCodecErrorCode): void {
  expect(jsonError(fn).code).to.equal(code);
}

/** Either a value or a JsonCodecError: any other throw fails the property. */
function decodesOrRefuses(text: string): boolean {
  try {
    decodeJson(text);
    return true;
  } catch (error) {
    if (error instanceof JsonCodecError) return true;
    throw error;
  }
}

describe('codec/json', () => {
  describe('encodeJson()', () => {
    it('encodes as JSON.stringify does', () => {
      expect(encodeJson({ type: 'move', to: [1, 2], ok: true, none: null })).to.equal(
        '{"type":"move","to":[1,2],"ok":true,"none":null}',
      );
      expect(encodeJson('é\ud800')).to.equal('"é\\ud800"');
      // As JSON.stringify does, an undefined property is left out.
      expect(encodeJson({ a: 1, b: undefined })).to.equal('{"a":1}');
      expect(encodeJson(Object.assign(Object.create(null) as object, { a: 1 }))).to.equal('{"a":1}');
    });

    it('refuses what JSON would change or drop with ERR_JSON_UNENCODABLE', () => {
      const cases: unknown[] = [
        undefined,
        NaN,
        Infinity,
        1n,
        () => 1,
        Symbol('s'),
        new Date(0),
        new Map([[1, 2]]),
        new Uint8Array(1),
        [undefined],
        // eslint-disable-next-line no-sparse-arrays
        [1, , 3],
        { toJSON: () => 'x' },
        { nested: { bad: NaN } },
      ];
      for (const value of cases) expectCode(() => encodeJson(value), 'ERR_JSON_UNENCODABLE');
    });

    it('refuses cycles and nesting beyond maxDepth with ERR_JSON_DEPTH', () => {
      const cycle: unknown[] = [];
      cycle.push(cycle);
      expectCode(() => encodeJson(cycle), 'ERR_JSON_DEPTH');
      let deep: unknown = 1;
      for (let i = 0; i < 100_000; i++) deep = [deep];
      expectCode(() => encodeJson(deep), 'ERR_JSON_DEPTH');
      expect(encodeJson([[1]], { maxDepth: 2 })).to.equal('[[1]]');
      expectCode(() => encodeJson([[1]], { maxDepth: 1 }), 'ERR_JSON_DEPTH');
    });

    it('refuses text longer than maxSize bytes of UTF-8 with ERR_JSON_TOO_LARGE', () => {
      expect(encodeJson('é', { maxSize: 4 })).to.equal('"é"');
      expectCode(() => encodeJson('é', { maxSize: 3 }), 'ERR_JSON_TOO_LARGE');
      expect(encodeJson('😀', { maxSize: 6 })).to.equal('"😀"');
      expectCode(() => encodeJson('😀', { maxSize: 5 }), 'ERR_JSON_TOO_LARGE');
      expectCode(() => encodeJson('x'.repeat(DEFAULT_JSON_MAX_SIZE)), 'ERR_JSON_TOO_LARGE');
    });

    it('refuses bad options with ERR_JSON_INVALID_ARG', () => {
      expectCode(() => encodeJson(1, { maxSize: 0 }), 'ERR_JSON_INVALID_ARG');
      expectCode(() => encodeJson(1, { maxDepth: 1.5 }), 'ERR_JSON_INVALID_ARG');
    });

    it('refuses an unknown option key with ERR_JSON_INVALID_ARG, naming the nearest known one, both ways', () => {
      // The codec's own error, as for any bad option: it throws nothing but JsonCodecError.
      const refused = (fn: () => unknown, message: string): void => {
        const error = jsonError(fn);
        expect(error.code).to.equal('ERR_JSON_INVALID_ARG');
        expect(error.message).to.equal(message);
      };
      refused(
        () => encodeJson(1, { maxDeph: 4 } as never),
        "encodeJson(): unknown option 'maxDeph' (did you mean 'maxDepth'?)",
      );
      refused(
        () => decodeJson('1', { size: 8 } as never),
        "decodeJson(): unknown option 'size' (did you mean 'maxSize'?)",
      );
      refused(() => encodeJson(1, { space: 2 } as never), "encodeJson(): unknown option 'space'");
      refused(() => decodeJson('1', 'utf8' as never), 'decodeJson(): options must be an object');
      const known = { maxSize: undefined, maxDepth: undefined };
      expect(decodeJson(encodeJson([1], known), known)).to.deep.equal([1]);
      expect(decodeJson(encodeJson([1], undefined), undefined)).to.deep.equal([1]);
    });
  });

  describe('decodeJson()', () => {
    it('decodes JSON', () => {
      expect(decodeJson('{"type":"move","to":[1,2]}')).to.deep.equal({ type: 'move', to: [1, 2] });
      expect(decodeJson(' "[{\\"" ')).to.equal('[{"');
    });

    it('keeps "__proto__" an own property, never a prototype', () => {
      const value = decodeJson('{"__proto__":{"polluted":true}}') as Record<string, unknown>;
      expect(Object.getPrototypeOf(value)).to.equal(Object.prototype);
      expect(Object.keys(value)).to.deep.equal(['__proto__']);
      expect(({} as Record<string, unknown>)['polluted']).to.equal(undefined);
    });

    const malformed: [string, string, JsonCodecErrorCode][] = [
      ['empty text', '', 'ERR_JSON_SYNTAX'],
      ['a cut object', '{"a":', 'ERR_JSON_SYNTAX'],
      ['NaN', 'NaN', 'ERR_JSON_SYNTAX'],
      ['two values', '1 2', 'ERR_JSON_SYNTAX'],
      ['a single-quoted string', "'a'", 'ERR_JSON_SYNTAX'],
      ['nesting of 257', '['.repeat(257) + ']'.repeat(257), 'ERR_JSON_DEPTH'],
      ['a million unclosed brackets', '['.repeat(1_000_000), 'ERR_JSON_DEPTH'],
      ['text over 8 MiB', `"${'x'.repeat(DEFAULT_JSON_MAX_SIZE)}"`, 'ERR_JSON_TOO_LARGE'],
    ];
    for (const [what, text, code] of malformed) {
      it(`refuses ${what} with ${code}`, () => {
        expectCode(() => decodeJson(text), code);
      });
    }

    it('counts depth outside strings only, at any escape', () => {
      expect(decodeJson('"' + '['.repeat(1000) + '"')).to.equal('['.repeat(1000));
      expect(decodeJson('["\\\\", [1]]', { maxDepth: 2 })).to.deep.equal(['\\', [1]]);
      expectCode(() => decodeJson('["\\"", [[1]]]', { maxDepth: 2 }), 'ERR_JSON_DEPTH');
      expect(decodeJson('['.repeat(256) + ']'.repeat(256))).to.be.an('array');
    });

    it('measures maxSize in bytes of UTF-8', () => {
      expect(decodeJson('"é"', { maxSize: 4 })).to.equal('é');
      expectCode(() => decodeJson('"é"', { maxSize: 3 }), 'ERR_JSON_TOO_LARGE');
    });

    it('refuses what is not a string with ERR_JSON_INVALID_ARG', () => {
      for (const input of [undefined, null, 42, new Uint8Array([0x31]), {}]) {
        expectCode(() => decodeJson(input as unknown as string), 'ERR_JSON_INVALID_ARG');
      }
    });
  });

  describe('properties (fast-check)', () => {
    it('decodeJson() on any text returns a value or throws a JsonCodecError, nothing else', () => {
      fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), decodesOrRefuses), { numRuns: 1000 });
      const jsonish = fc.array(
        fc.constantFrom('[', ']', '{', '}', '"', '\\', ':', ',', '1', 'e', '-', 'null', ' ', 'ü'),
        {
          maxLength: 300,
        },
      );
      fc.assert(
        fc.property(
          jsonish.map((parts) => parts.join('')),
          decodesOrRefuses,
        ),
        { numRuns: 1000 },
      );
    });

    it('decodeJson() on damaged JSON returns a value or throws a JsonCodecError, nothing else', () => {
      const damaged = fc
        .tuple(fc.json(), fc.nat(), fc.nat(), fc.string({ maxLength: 3 }))
        .map(([text, at, cut, insert]) => {
          const i = at % (text.length + 1);
          return text.slice(0, i) + insert + text.slice(i + (cut % 3));
        });
      fc.assert(fc.property(damaged, decodesOrRefuses), { numRuns: 1000 });
    });

    it('encode → decode gives the value back (as JSON would)', () => {
      fc.assert(
        fc.property(fc.jsonValue(), (value) => {
          expect(decodeJson(encodeJson(value))).to.deep.equal(JSON.parse(JSON.stringify(value)));
        }),
        { numRuns: 500 },
      );
    });
  });
});
