// One way to check an option's value, for every function that takes options: the error, its code
// and the shape of its message (`fn(): option 'name' must be ...`) are made here only, and the
// predicates that say what a count, a delay or a fraction is are written once. Unknown keys are
// optionKeys.ts's. On the ground floor, beside the errors it makes, so that the operators, the
// connection and the sources import it without a cycle.
import { type ArgumentError, argumentError } from '../errors/WebSocketPeerError.js';

/** @internal The longest delay timers honour (2^31 - 1 ms): Node runs a longer one after 1 ms. */
export const MAX_TIMEOUT_MS = 2_147_483_647;

/**
 * @internal `ERR_INVALID_OPTION` as a `TypeError`, `fn(): message`, with the error that explains
 * it as `cause`: for what the `option '...' must be` form cannot say.
 */
export function invalidOption(fn: string, message: string, cause?: unknown): ArgumentError {
  const error = new TypeError(`${fn}(): ${message}`, cause === undefined ? undefined : { cause });
  return Object.assign(error, { code: 'ERR_INVALID_OPTION' as const });
}

/** @internal `ERR_INVALID_OPTION` as a `RangeError`: options each valid alone that do not fit together. */
export function optionsOutOfRange(fn: string, message: string): ArgumentError {
  return argumentError(RangeError, 'ERR_INVALID_OPTION', `${fn}(): ${message}`);
}

/** @internal `ERR_INVALID_OPTION` (a `TypeError`): `fn(): option 'name' must be expected`. */
export function optionMustBe(fn: string, name: string, expected: string): ArgumentError {
  return invalidOption(fn, `option '${name}' must be ${expected}`);
}

/**
 * @internal Throws {@link optionMustBe} unless `value` is `undefined` (the default applies) or
 * passes `isValid`.
 */
export function checkOption<T>(
  fn: string,
  name: string,
  value: unknown,
  isValid: (value: unknown) => value is T,
  expected: string,
): asserts value is T | undefined {
  // argumentError() directly, not optionMustBe(): the browser's connect() carries this function
  // alone, and each call layer is bytes in every app's bundle.
  if (value !== undefined && !isValid(value)) {
    throw argumentError(TypeError, 'ERR_INVALID_OPTION', `${fn}(): option '${name}' must be ${expected}`);
  }
}

/** @internal An integer >= 0 that a double holds exactly (a count, bytes, ms). */
export const isCount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/** @internal A count, or `Infinity` for no bound. */
export const isCountOrInfinity = (value: unknown): value is number => value === Infinity || isCount(value);

/** @internal */
export const isPositiveInteger = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value > 0;

/** @internal A delay timers honour: a positive integer of ms up to {@link MAX_TIMEOUT_MS}. */
export const isTimeout = (value: unknown): value is number => isPositiveInteger(value) && value <= MAX_TIMEOUT_MS;

/** @internal A number from 0 to 1, both included (not `NaN`). */
export const isFraction = (value: unknown): value is number => typeof value === 'number' && value >= 0 && value <= 1;

/** @internal */
export const isBoolean = (value: unknown): value is boolean => typeof value === 'boolean';

/** @internal */
export const isString = (value: unknown): value is string => typeof value === 'string';

/** @internal Any function: its parameters are the caller's type to say. */
export const isFunction = (value: unknown): value is (...args: never[]) => unknown => typeof value === 'function';

/** @internal A predicate for one of `values` (compared with `===`). */
export const isOneOf =
  <T>(values: readonly T[]) =>
  (value: unknown): value is T =>
    values.includes(value as T);
