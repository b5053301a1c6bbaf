import { expect } from 'chai';
import {
  checkOption,
  invalidOption,
  isBoolean,
  isCount,
  isCountOrInfinity,
  isFraction,
  isFunction,
  isOneOf,
  isPositiveInteger,
  isString,
  isTimeout,
  MAX_TIMEOUT_MS,
  optionMustBe,
  optionsOutOfRange,
} from '../../src/internal/options.js';
import { expectInvalidOption, thrown } from '../helpers.js';

/** The values each predicate is tried on: numbers at every edge, and what is not a number. */
const VALUES: unknown[] = [
  -1,
  0,
  0.5,
  1,
  1.5,
  2,
  MAX_TIMEOUT_MS,
  MAX_TIMEOUT_MS + 1,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 1,
  Infinity,
  -Infinity,
  NaN,
  -0,
  '1',
  1n,
  true,
  null,
  undefined,
  {},
  () => 0,
];

/** Which of `VALUES` pass `predicate`. */
const passing = (predicate: (value: unknown) => boolean): unknown[] => VALUES.filter((value) => predicate(value));

describe('option checks', () => {
  it("checkOption() passes undefined and what is valid; else throws `fn(): option 'name' must be ...`", () => {
    expect(() => checkOption('f', 'n', undefined, isCount, 'a count')).not.to.throw();
    expect(() => checkOption('f', 'n', 3, isCount, 'a count')).not.to.throw();
    expectInvalidOption(() => checkOption('f', 'n', null, isCount, 'a count'), "f(): option 'n' must be a count");
    expectInvalidOption(() => checkOption('f', 'n', -1, isCount, 'a count'), "f(): option 'n' must be a count");
  });

  it('makes ERR_INVALID_OPTION errors: TypeError for a value, RangeError for options that do not fit together', () => {
    const cause = new Error('why');
    const withCause = invalidOption('f', 'is bad', cause);
    expect(withCause).to.be.instanceOf(TypeError);
    expect(withCause).to.include({ code: 'ERR_INVALID_OPTION', message: 'f(): is bad', cause });
    expect(invalidOption('f', 'is bad')).not.to.have.property('cause');
    expect(optionMustBe('f', 'n', 'one'))
      .to.be.instanceOf(TypeError)
      .and.include({
        code: 'ERR_INVALID_OPTION',
        message: "f(): option 'n' must be one",
      });
    const range = thrown(() => {
      throw optionsOutOfRange('f', 'need a <= b');
    });
    expect(range).to.be.instanceOf(RangeError).and.include({ code: 'ERR_INVALID_OPTION', message: 'f(): need a <= b' });
  });

  it('counts: safe integers >= 0, Infinity only where it says so', () => {
    const counts = [0, 1, 2, MAX_TIMEOUT_MS, MAX_TIMEOUT_MS + 1, Number.MAX_SAFE_INTEGER, -0];
    expect(passing(isCount)).to.deep.equal(counts);
    expect(passing(isCountOrInfinity)).to.deep.equal([...counts.slice(0, 6), Infinity, -0]);
    expect(passing(isPositiveInteger)).to.deep.equal([
      1,
      2,
      MAX_TIMEOUT_MS,
      MAX_TIMEOUT_MS + 1,
      Number.MAX_SAFE_INTEGER,
    ]);
    expect(passing(isTimeout), 'up to 2^31 - 1 ms').to.deep.equal([1, 2, MAX_TIMEOUT_MS]);
  });

  it('fractions from 0 to 1, booleans, strings, functions, one of a list', () => {
    expect(passing(isFraction)).to.deep.equal([0, 0.5, 1, -0]);
    expect(passing(isBoolean)).to.deep.equal([true]);
    expect(passing(isString)).to.deep.equal(['1']);
    expect(passing(isFunction)).to.have.length(1);
    const isPolicy = isOneOf(['error', 'drop-oldest']);
    expect(['error', 'drop-oldest', 'drop-newest', 'ERROR', undefined].map(isPolicy)).to.deep.equal([
      true,
      true,
      false,
      false,
      false,
    ]);
  });
});
