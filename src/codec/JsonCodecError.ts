import { errorBrand } from '../errors/brand.js';

/**
 * The stable `code` of every {@link JsonCodecError}. Match on these, never on message text.
 */
export type JsonCodecErrorCode =
  /** Text that is not JSON (`JSON.parse` would throw a `SyntaxError`). */
  | 'ERR_JSON_SYNTAX'
  /** The text is, or would be, longer than `maxSize` bytes of UTF-8. */
  | 'ERR_JSON_TOO_LARGE'
  /** Arrays and objects nested deeper than `maxDepth` (encoding: also a cycle). */
  | 'ERR_JSON_DEPTH'
  /**
   * A value JSON cannot carry faithfully: `undefined` (other than as an object property, which is
   * left out), a function, a symbol, a bigint, `NaN`/`Infinity`, a sparse array, or an object
   * that is not a plain object or an array (`Map`, `Date`, class instances).
   */
  | 'ERR_JSON_UNENCODABLE'
  /** The text to decode is not a string, or an option is out of range. */
  | 'ERR_JSON_INVALID_ARG';

const jsonErrorBrand = errorBrand('JsonCodecError');

/**
 * The only error `encodeJson()` and `decodeJson()` throw, whatever their input; it carries a
 * stable {@link JsonCodecErrorCode}.
 *
 * ```ts
 * import { decodeJson, JsonCodecError } from 'rx-websocket-peer';
 * try {
 *   decodeJson('{"a":');
 * } catch (e) {
 *   if (e instanceof JsonCodecError) console.log(e.code); // 'ERR_JSON_SYNTAX'
 * }
 * ```
 */
export class JsonCodecError extends Error {
  override readonly name = 'JsonCodecError';

  constructor(
    readonly code: JsonCodecErrorCode,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    jsonErrorBrand.mark(this);
  }

  /** Whether `value` is a `JsonCodecError` of any copy of this package (ESM or CommonJS). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return jsonErrorBrand.hasInstance(this, JsonCodecError, value);
  }
}
