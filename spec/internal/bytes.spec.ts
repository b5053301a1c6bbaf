import { Buffer, isUtf8 } from 'node:buffer';
import { expect } from 'chai';
import { asBytes, isValidUtf8, utf8Length } from '../../src/internal/bytes.js';
import { prng } from '../helpers.js';

describe('bytes', () => {
  describe('utf8Length', () => {
    const cases: Array<[string, string]> = [
      ['empty', ''],
      ['ASCII', 'hello, world'],
      ['NUL and DEL', '\u0000\u007f'],
      ['2-byte edges', '\u0080\u07ff'],
      ['3-byte edges', '\u0800\uffff\ufffd'],
      ['euro', '€'],
      ['accented', 'déjà vu'],
      ['CJK', '日本語のテキスト'],
      ['emoji', '😀'],
      ['emoji with modifiers', '👩🏽‍💻🏳️‍🌈'],
      ['U+10000 and U+10FFFF', '\ud800\udc00\udbff\udfff'],
      ['mixed', 'a\u00e9\u20ac\ud83d\ude00z'],
      ['lone high surrogate', '\ud800'],
      ['lone low surrogate', '\udc00'],
      ['high surrogate at the end', 'abc\udbff'],
      ['high surrogate before ASCII', '\ud800a'],
      ['two high surrogates', '\ud800\ud800'],
      ['low then high', '\udc00\ud800'],
      ['pair then lone high', '\ud83d\ude00\ud83d'],
      ['lone low then pair', '\ude00\ud83d\ude00'],
      ['high, high, low', '\ud800\ud800\udc00'],
    ];

    for (const [name, text] of cases) {
      it(`matches Buffer.byteLength for ${name}`, () => {
        expect(utf8Length(text)).to.equal(Buffer.byteLength(text, 'utf8'));
      });
    }

    it('counts a lone surrogate as U+FFFD, 3 bytes, as Buffer encodes it', () => {
      expect([...Buffer.from('\ud800')]).to.deep.equal([0xef, 0xbf, 0xbd]);
      expect(utf8Length('\ud800')).to.equal(3);
      expect(utf8Length('\udfff')).to.equal(3);
      expect(utf8Length('\ud83d\ude00')).to.equal(4);
    });

    it('matches Buffer.byteLength on 5,000 random strings of UTF-16 code units', () => {
      const random = prng(0x5eed);
      const pick = (): number => {
        const r = random();
        if (r < 0.25) return Math.floor(random() * 0x80);
        if (r < 0.4) return 0x80 + Math.floor(random() * 0x780);
        if (r < 0.6) return 0x800 + Math.floor(random() * 0xd000);
        if (r < 0.8) return 0xd800 + Math.floor(random() * 0x400); // high surrogates
        if (r < 0.95) return 0xdc00 + Math.floor(random() * 0x400); // low surrogates
        return 0xe000 + Math.floor(random() * 0x2000);
      };
      const mismatches: string[] = [];
      for (let n = 0; n < 5000; n++) {
        const units = Array.from({ length: Math.floor(random() * 12) }, pick);
        const text = String.fromCharCode(...units);
        if (utf8Length(text) !== Buffer.byteLength(text, 'utf8')) mismatches.push(JSON.stringify(text));
      }
      expect(mismatches).to.deep.equal([]);
    });
  });

  describe('isValidUtf8', () => {
    const cases: Array<[string, number[], boolean]> = [
      ['empty', [], true],
      ['ASCII', [0x68, 0x69, 0x00, 0x7f], true],
      ['2-byte U+0080', [0xc2, 0x80], true],
      ['2-byte U+07FF', [0xdf, 0xbf], true],
      ['3-byte U+0800', [0xe0, 0xa0, 0x80], true],
      ['3-byte euro', [0xe2, 0x82, 0xac], true],
      ['3-byte U+D7FF, just below the surrogates', [0xed, 0x9f, 0xbf], true],
      ['3-byte U+E000, just above the surrogates', [0xee, 0x80, 0x80], true],
      ['3-byte U+FFFF', [0xef, 0xbf, 0xbf], true],
      ['4-byte U+10000', [0xf0, 0x90, 0x80, 0x80], true],
      ['4-byte emoji', [0xf0, 0x9f, 0x98, 0x80], true],
      ['4-byte U+10FFFF', [0xf4, 0x8f, 0xbf, 0xbf], true],
      ['mixed valid', [0x61, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80, 0x7a], true],
      ['lone continuation byte', [0x80], false],
      ['continuation after ASCII', [0x61, 0xbf], false],
      ['overlong NUL C0 80', [0xc0, 0x80], false],
      ['overlong C1 BF', [0xc1, 0xbf], false],
      ['overlong E0 80 80', [0xe0, 0x80, 0x80], false],
      ['overlong E0 9F BF', [0xe0, 0x9f, 0xbf], false],
      ['overlong F0 80 80 80', [0xf0, 0x80, 0x80, 0x80], false],
      ['overlong F0 8F BF BF', [0xf0, 0x8f, 0xbf, 0xbf], false],
      ['surrogate ED A0 80', [0xed, 0xa0, 0x80], false],
      ['surrogate ED BF BF', [0xed, 0xbf, 0xbf], false],
      ['surrogate pair as CESU-8', [0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80], false],
      ['past U+10FFFF F4 90 80 80', [0xf4, 0x90, 0x80, 0x80], false],
      ['F5 lead', [0xf5, 0x80, 0x80, 0x80], false],
      ['F7 lead', [0xf7, 0xbf, 0xbf, 0xbf], false],
      ['F8 lead', [0xf8, 0x88, 0x80, 0x80, 0x80], false],
      ['FE', [0xfe], false],
      ['FF', [0xff], false],
      ['truncated 2-byte at the end', [0x61, 0xc3], false],
      ['truncated 3-byte at the end', [0x61, 0xe2, 0x82], false],
      ['truncated 3-byte, lead only', [0xe2], false],
      ['truncated 4-byte at the end', [0xf0, 0x9f, 0x98], false],
      ['truncated 4-byte, two bytes', [0xf0, 0x9f], false],
      ['2-byte with ASCII second byte', [0xc3, 0x41], false],
      ['3-byte with a bad third byte', [0xe2, 0x82, 0x41], false],
      ['4-byte with a bad fourth byte', [0xf0, 0x9f, 0x98, 0xc0], false],
      ['4-byte with a bad third byte', [0xf0, 0x9f, 0x28, 0x80], false],
      ['3-byte cut short by a new lead', [0xe2, 0x82, 0xe2, 0x82, 0xac], false],
    ];

    for (const [name, bytes, valid] of cases) {
      it(`${valid ? 'accepts' : 'refuses'} ${name}, as Node's isUtf8 does`, () => {
        const array = Uint8Array.from(bytes);
        expect(isUtf8(array), 'node:buffer isUtf8').to.equal(valid);
        expect(isValidUtf8(array)).to.equal(valid);
      });
    }

    it('looks only at the bytes of a view, not at the rest of its buffer', () => {
      const backing = Uint8Array.from([0xff, 0xe2, 0x82, 0xac, 0xc3]);
      expect(isValidUtf8(backing.subarray(1, 4))).to.equal(true);
      expect(isValidUtf8(backing.subarray(1, 3))).to.equal(false);
      expect(isValidUtf8(backing.subarray(2, 4))).to.equal(false);
      expect(isValidUtf8(Buffer.from('naïve €😀'))).to.equal(true);
    });

    it('agrees with Node\u2019s isUtf8 on 20,000 random byte arrays', () => {
      const random = prng(20_000);
      const byte = (): number => {
        const r = random();
        if (r < 0.2) return Math.floor(random() * 0x80); // ASCII
        if (r < 0.6) return 0x80 + Math.floor(random() * 0x40); // continuation
        if (r < 0.75) return 0xc0 + Math.floor(random() * 0x20); // 2-byte leads, C0 and C1 included
        if (r < 0.88) return 0xe0 + Math.floor(random() * 0x10); // 3-byte leads
        return 0xf0 + Math.floor(random() * 0x10); // 4-byte leads and F5-FF
      };
      // Random bytes alone rarely make valid multi-byte text, so half the arrays are built from
      // well-formed characters (edges of each length included) with random bytes mixed in.
      const edges = [0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfffd, 0xffff, 0x10000, 0x10ffff];
      const char = (): number[] => {
        const r = random();
        const cp =
          r < 0.3
            ? (edges[Math.floor(random() * edges.length)] as number)
            : r < 0.5
              ? 0x80 + Math.floor(random() * 0x780)
              : r < 0.8
                ? 0x800 + Math.floor(random() * 0xd000)
                : 0x10000 + Math.floor(random() * 0x100000);
        return [...Buffer.from(String.fromCodePoint(cp))];
      };
      const mixed = (length: number): Uint8Array => {
        const out: number[] = [];
        while (out.length < length) {
          if (random() < 0.85) out.push(...char());
          else out.push(byte());
        }
        return Uint8Array.from(out.slice(0, length));
      };
      const mismatches: string[] = [];
      let validNonAscii = 0;
      let invalid = 0;
      for (let n = 0; n < 20_000; n++) {
        const length = Math.floor(random() * 17);
        const bytes = n % 2 === 0 ? Uint8Array.from({ length }, byte) : mixed(length);
        const expected = isUtf8(bytes);
        if (isValidUtf8(bytes) !== expected) mismatches.push(Buffer.from(bytes).toString('hex'));
        if (expected && bytes.some((b) => b >= 0x80)) validNonAscii++;
        if (!expected) invalid++;
      }
      expect(mismatches.slice(0, 20), `${mismatches.length} mismatches`).to.deep.equal([]);
      // Make sure the sample covers both answers, multi-byte valid text included.
      expect(validNonAscii).to.be.greaterThan(1000);
      expect(invalid).to.be.greaterThan(5000);
    });

    it('agrees with Node\u2019s isUtf8 around every 2-, 3- and 4-byte lead and second byte', () => {
      const mismatches: string[] = [];
      for (let lead = 0x80; lead <= 0xff; lead++) {
        for (let second = 0; second <= 0xff; second++) {
          for (const tail of [[], [0x80], [0xbf, 0xbf], [0x80, 0x41], [0x41, 0x80]]) {
            const bytes = Uint8Array.from([lead, second, ...tail]);
            if (isValidUtf8(bytes) !== isUtf8(bytes)) mismatches.push(Buffer.from(bytes).toString('hex'));
          }
        }
      }
      expect(mismatches.slice(0, 20), `${mismatches.length} mismatches`).to.deep.equal([]);
    });
  });

  describe('asBytes', () => {
    it('returns a Uint8Array as it is', () => {
      const bytes = Uint8Array.from([1, 2, 3]);
      expect(asBytes(bytes)).to.equal(bytes);
      const view = new Uint8Array(new ArrayBuffer(8), 2, 3);
      expect(asBytes(view)).to.equal(view);
    });

    it('returns a Buffer as it is', () => {
      const buffer = Buffer.from('hello');
      expect(asBytes(buffer)).to.equal(buffer);
    });

    it('views an ArrayBuffer whole, over the same memory', () => {
      const buffer = new ArrayBuffer(6);
      const bytes = asBytes(buffer);
      expect(bytes).to.be.instanceOf(Uint8Array);
      expect(bytes?.buffer).to.equal(buffer);
      expect(bytes?.byteOffset).to.equal(0);
      expect(bytes?.byteLength).to.equal(6);
      new Uint8Array(buffer)[5] = 0xab;
      expect(bytes?.[5]).to.equal(0xab);
    });

    it('views an empty ArrayBuffer as an empty Uint8Array', () => {
      const bytes = asBytes(new ArrayBuffer(0));
      expect(bytes).to.be.instanceOf(Uint8Array);
      expect(bytes?.length).to.equal(0);
    });

    it('views a DataView over the same memory, with its offset and length', () => {
      const buffer = new ArrayBuffer(16);
      const dataView = new DataView(buffer, 3, 5);
      dataView.setUint8(0, 0x11);
      dataView.setUint8(4, 0x44);
      const bytes = asBytes(dataView);
      expect(bytes).to.be.instanceOf(Uint8Array);
      expect(bytes?.buffer).to.equal(buffer);
      expect(bytes?.byteOffset).to.equal(3);
      expect(bytes?.length).to.equal(5);
      expect([...(bytes ?? [])]).to.deep.equal([0x11, 0, 0, 0, 0x44]);
      bytes?.set([0x99], 1);
      expect(dataView.getUint8(1)).to.equal(0x99);
    });

    it('views an Int16Array by its bytes, not its elements', () => {
      const buffer = new ArrayBuffer(16);
      const int16 = new Int16Array(buffer, 4, 3);
      int16.set([1, -1, 0x1234]);
      const bytes = asBytes(int16);
      expect(bytes).to.be.instanceOf(Uint8Array);
      expect(bytes).to.not.equal(int16);
      expect(bytes?.buffer).to.equal(buffer);
      expect(bytes?.byteOffset).to.equal(4);
      expect(bytes?.length).to.equal(6);
      expect([...(bytes ?? [])]).to.deep.equal([...new Uint8Array(buffer, 4, 6)]);
      bytes?.fill(0);
      expect([...int16]).to.deep.equal([0, 0, 0]);
    });

    it('views other typed arrays (Uint8ClampedArray, Float64Array) as Uint8Array', () => {
      const clamped = Uint8ClampedArray.from([1, 255]);
      const fromClamped = asBytes(clamped);
      expect(fromClamped).to.be.instanceOf(Uint8Array);
      expect(fromClamped?.buffer).to.equal(clamped.buffer);
      expect([...(fromClamped ?? [])]).to.deep.equal([1, 255]);

      const floats = new Float64Array(2);
      const fromFloats = asBytes(floats);
      expect(fromFloats?.buffer).to.equal(floats.buffer);
      expect(fromFloats?.length).to.equal(16);
    });

    for (const data of [
      'bytes',
      '',
      42,
      null,
      undefined,
      true,
      {},
      [1, 2, 3],
      { buffer: new ArrayBuffer(2) },
      { byteLength: 1 },
    ] as unknown[]) {
      it(`returns undefined for ${Array.isArray(data) ? 'an array' : data === null ? 'null' : typeof data} ${JSON.stringify(data) ?? ''}`, () => {
        expect(asBytes(data)).to.equal(undefined);
      });
    }
  });
});
