import { expect } from 'chai';
import { Buffer } from 'node:buffer';
import { CloseCode, WriteMode } from '../../src/peer/constants.js';
import {
  isSendableCloseCode,
  payloadLength,
  payloadLengthBound,
  validateClose,
  validateWriteMode,
} from '../../src/peer/validation.js';
import { prng, thrown } from '../helpers.js';

/** Asserts that `fn` throws an instance of `Kind` (and not of the other argument error) with `code`. */
function expectArgumentError(fn: () => unknown, Kind: typeof TypeError | typeof RangeError, code: string): void {
  const error = thrown(fn);
  expect(error).to.be.instanceOf(Kind);
  expect(error).to.not.be.instanceOf(Kind === TypeError ? RangeError : TypeError);
  expect(error).to.have.property('code', code);
}

const VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3001, 4000, 4999];
const INVALID_INTEGER_CODES = [0, -1000, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];

describe('validation', () => {
  describe('isSendableCloseCode', () => {
    for (const code of VALID_CODES) {
      it(`accepts ${code}`, () => {
        expect(isSendableCloseCode(code)).to.equal(true);
      });
    }

    for (const code of INVALID_INTEGER_CODES) {
      it(`refuses ${code}`, () => {
        expect(isSendableCloseCode(code)).to.equal(false);
      });
    }

    it('agrees with RFC 6455 §7.4 over 0-6000', () => {
      const expected = (code: number): boolean =>
        (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
      const mismatches: number[] = [];
      for (let code = 0; code <= 6000; code++) {
        if (isSendableCloseCode(code) !== expected(code)) mismatches.push(code);
      }
      expect(mismatches).to.deep.equal([]);
    });

    it('accepts every named CloseCode but NoStatus and Abnormal', () => {
      for (const [name, code] of Object.entries(CloseCode)) {
        expect(isSendableCloseCode(code), name).to.equal(name !== 'NoStatus' && name !== 'Abnormal');
      }
    });
  });

  describe('validateClose', () => {
    it('passes every sendable code with an empty or short reason', () => {
      for (const code of VALID_CODES) {
        expect(() => validateClose(code, ''), String(code)).to.not.throw();
        expect(() => validateClose(code, 'bye'), String(code)).to.not.throw();
      }
    });

    for (const code of [...INVALID_INTEGER_CODES, 1000.5, 3000.1, Number.NaN, Number.POSITIVE_INFINITY, -0.5]) {
      it(`throws RangeError ERR_INVALID_CLOSE_CODE for ${code}`, () => {
        expectArgumentError(() => validateClose(code, ''), RangeError, 'ERR_INVALID_CLOSE_CODE');
      });
    }

    for (const code of ['1000', undefined, null, true, {}, 1000n] as unknown[]) {
      it(`throws TypeError ERR_INVALID_CLOSE_CODE for a ${code === null ? 'null' : typeof code} code`, () => {
        expectArgumentError(() => validateClose(code, ''), TypeError, 'ERR_INVALID_CLOSE_CODE');
      });
    }

    it('reports the code before the reason', () => {
      const longReason = 'x'.repeat(200);
      expectArgumentError(() => validateClose(1005, longReason), RangeError, 'ERR_INVALID_CLOSE_CODE');
      expectArgumentError(() => validateClose('1000', 42), TypeError, 'ERR_INVALID_CLOSE_CODE');
    });

    for (const reason of [undefined, null, 42, {}, ['a'], Buffer.from('a')] as unknown[]) {
      it(`throws TypeError ERR_INVALID_CLOSE_REASON for a ${reason === null ? 'null' : typeof reason} reason (${String(reason)})`, () => {
        expectArgumentError(() => validateClose(1000, reason), TypeError, 'ERR_INVALID_CLOSE_REASON');
      });
    }

    it('passes a reason of 123 ASCII bytes and refuses 124', () => {
      expect(() => validateClose(1000, 'a'.repeat(123))).to.not.throw();
      expectArgumentError(() => validateClose(1000, 'a'.repeat(124)), RangeError, 'ERR_INVALID_CLOSE_REASON');
    });

    it('counts UTF-8 bytes, not characters: 41 euro signs (123 bytes) pass, 42 (126 bytes) do not', () => {
      expect(Buffer.byteLength('€'.repeat(41))).to.equal(123);
      expect(() => validateClose(1000, '€'.repeat(41))).to.not.throw();
      expectArgumentError(() => validateClose(1000, '€'.repeat(42)), RangeError, 'ERR_INVALID_CLOSE_REASON');
    });

    it('counts an emoji as 4 bytes', () => {
      const emoji = '😀';
      expect(emoji.length).to.equal(2);
      // 119 + 4 = 123 fits, 120 + 4 = 124 does not.
      expect(() => validateClose(1000, 'a'.repeat(119) + emoji)).to.not.throw();
      expectArgumentError(() => validateClose(1000, 'a'.repeat(120) + emoji), RangeError, 'ERR_INVALID_CLOSE_REASON');
      // 30 emoji = 120 bytes in 60 UTF-16 units: fits; 31 = 124 bytes: does not.
      expect(() => validateClose(4000, emoji.repeat(30) + 'abc')).to.not.throw();
      expectArgumentError(() => validateClose(4000, emoji.repeat(31)), RangeError, 'ERR_INVALID_CLOSE_REASON');
    });

    it('counts 2-byte characters as 2 bytes', () => {
      expect(() => validateClose(1000, 'é'.repeat(61) + 'a')).to.not.throw(); // 123
      expectArgumentError(() => validateClose(1000, 'é'.repeat(62)), RangeError, 'ERR_INVALID_CLOSE_REASON'); // 124
    });
  });

  describe('payloadLength and payloadLengthBound', () => {
    const bytes = new Uint8Array([1, 2, 3]);
    const cases: Array<[string, unknown, number]> = [
      ['a string, by its UTF-8 bytes', 'é😀\ud800', 9],
      ['bytes', bytes, 3],
      ['an ArrayBuffer', new ArrayBuffer(5), 5],
      ['a DataView', new DataView(new ArrayBuffer(8), 2, 4), 4],
      ['a text Packet', { isString: true, data: 'éé' }, 4],
      ['a binary Packet', { isString: false, data: bytes }, 3],
      ['something a peer refuses', 42, 0],
    ];
    for (const [name, data, length] of cases) {
      it(`payloadLength of ${name} is ${length}; the bound is at least that, and the same but for text`, () => {
        expect(payloadLength(data)).to.equal(length);
        const text = typeof data === 'string' ? data : (data as { data?: unknown } | undefined)?.data;
        expect(payloadLengthBound(data)).to.equal(typeof text === 'string' ? 3 * text.length : length);
      });
    }

    it('bounds every string from above: 5,000 random strings of UTF-16 code units', () => {
      const random = prng(0xb0b);
      const under: string[] = [];
      for (let n = 0; n < 5000; n++) {
        const units = Array.from({ length: Math.floor(random() * 12) }, () => Math.floor(random() * 0x10000));
        const text = String.fromCharCode(...units);
        if (payloadLengthBound(text) < Buffer.byteLength(text, 'utf8')) under.push(JSON.stringify(text));
      }
      // Two lone surrogates in a row are the tightest case: 3 bytes each, as the bound says.
      expect(payloadLengthBound('\udc00\udc00')).to.equal(Buffer.byteLength('\udc00\udc00', 'utf8'));
      expect(under).to.deep.equal([]);
    });
  });

  describe('validateWriteMode', () => {
    it('passes 0 (Text) and 1 (Binary)', () => {
      expect(() => validateWriteMode(0)).to.not.throw();
      expect(() => validateWriteMode(1)).to.not.throw();
      expect(() => validateWriteMode(WriteMode.Text)).to.not.throw();
      expect(() => validateWriteMode(WriteMode.Binary)).to.not.throw();
    });

    for (const mode of [2, -1, 0.5, Number.NaN, '0', '1', undefined, null, true, false, {}, [0], 0n] as unknown[]) {
      it(`throws RangeError ERR_INVALID_WRITE_MODE for ${typeof mode} ${String(mode)}`, () => {
        expectArgumentError(() => validateWriteMode(mode), RangeError, 'ERR_INVALID_WRITE_MODE');
      });
    }
  });
});
