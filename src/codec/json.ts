import { utf8Length } from '../internal/bytes.js';
import { optionKeys, unknownOption } from '../internal/optionKeys.js';
import { JsonCodecError } from './JsonCodecError.js';

/** A value JSON carries: what `decodeJson()` returns and `encodeJson()` takes. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue | undefined };

/** Options of {@link encodeJson} and {@link decodeJson}. */
export interface JsonCodecOptions {
  /** The longest text, in bytes of UTF-8, either way. Default: 8 MiB, as the Variant codec. */
  maxSize?: number;
  /** How deeply arrays and objects may nest (`[[1]]` has depth 2). Default: 256. */
  maxDepth?: number;
}

/** @internal The keys of `JsonCodecOptions`. */
export const JSON_OPTION_KEYS = optionKeys<JsonCodecOptions>({ maxSize: true, maxDepth: true });

/** The default {@link JsonCodecOptions.maxSize}: 8 MiB. */
export const DEFAULT_JSON_MAX_SIZE = 8 * 1024 * 1024;
/** The default {@link JsonCodecOptions.maxDepth}. */
export const DEFAULT_JSON_MAX_DEPTH = 256;

const OPEN_BRACKET = 0x5b; // [
const OPEN_BRACE = 0x7b; // {
const CLOSE_BRACKET = 0x5d; // ]
const CLOSE_BRACE = 0x7d; // }
const QUOTE = 0x22; // "
const BACKSLASH = 0x5c; // \

/**
 * @internal The options of `fn`, checked, with defaults filled in: a bad one, an unknown key too,
 * throws `ERR_JSON_INVALID_ARG` (the codec throws nothing but `JsonCodecError`).
 */
export function resolveJsonOptions(fn: string, options: JsonCodecOptions | undefined): Required<JsonCodecOptions> {
  if (options !== undefined) {
    if (typeof options !== 'object' || options === null) {
      throw new JsonCodecError('ERR_JSON_INVALID_ARG', `${fn}(): options must be an object`);
    }
    const unknown = unknownOption(fn, options, JSON_OPTION_KEYS);
    if (unknown !== undefined) throw new JsonCodecError('ERR_JSON_INVALID_ARG', unknown);
  }
  const maxSize = options?.maxSize ?? DEFAULT_JSON_MAX_SIZE;
  const maxDepth = options?.maxDepth ?? DEFAULT_JSON_MAX_DEPTH;
  if (!Number.isSafeInteger(maxSize) || maxSize < 1) {
    throw new JsonCodecError('ERR_JSON_INVALID_ARG', `maxSize must be a positive integer, not ${String(maxSize)}`);
  }
  if (!Number.isSafeInteger(maxDepth) || maxDepth < 0) {
    throw new JsonCodecError(
      'ERR_JSON_INVALID_ARG',
      `maxDepth must be a non-negative integer, not ${String(maxDepth)}`,
    );
  }
  return { maxSize, maxDepth };
}

function checkSize(text: string, maxSize: number, doing: string): void {
  // Each UTF-16 unit is 1 to 3 bytes: count exactly only when the bound is in doubt.
  if (text.length > maxSize || (text.length * 3 > maxSize && utf8Length(text) > maxSize)) {
    throw new JsonCodecError('ERR_JSON_TOO_LARGE', `${doing} exceeds maxSize (${maxSize} bytes of UTF-8)`);
  }
}

/** String(error), unless even that throws (a hostile toString). */
function safeString(error: unknown): string {
  try {
    return String(error);
  } catch {
    return 'an error that cannot be described';
  }
}

function wrapUnexpected(error: unknown, doing: string): JsonCodecError {
  if (error instanceof JsonCodecError) return error;
  return new JsonCodecError('ERR_JSON_UNENCODABLE', `unexpected failure while ${doing}: ${safeString(error)}`, {
    cause: error,
  });
}

function tooDeep(maxDepth: number): JsonCodecError {
  return new JsonCodecError(
    'ERR_JSON_DEPTH',
    `arrays and objects nest deeper than maxDepth (${maxDepth}), or contain themselves`,
  );
}

function unencodable(what: string): JsonCodecError {
  return new JsonCodecError('ERR_JSON_UNENCODABLE', `JSON cannot carry ${what}`);
}

/** Refuses what JSON.stringify would drop, change or choke on, before it runs. */
function check(value: unknown, depth: number, maxDepth: number): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw unencodable(String(value));
      return;
    case 'object': {
      if (value === null) return;
      if (depth + 1 > maxDepth) throw tooDeep(maxDepth);
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          if (!(i in value)) throw unencodable('a sparse array');
          check(value[i], depth + 1, maxDepth);
        }
        return;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) {
        throw unencodable(
          `an instance of ${(value as { constructor?: { name?: string } }).constructor?.name ?? 'a class'}`,
        );
      }
      for (const key of Object.keys(value)) {
        const property = (value as Record<string, unknown>)[key];
        // As JSON.stringify does: an undefined property is left out.
        if (property !== undefined) check(property, depth + 1, maxDepth);
      }
      return;
    }
    default:
      throw unencodable(value === undefined ? 'undefined' : `a ${typeof value}`);
  }
}

/**
 * Encodes a value as JSON text, for a text frame. Stricter than `JSON.stringify`: what JSON
 * would silently change (`NaN`, `undefined` in an array, a `Map`, a `Date`) is refused.
 *
 * ```ts
 * import { encodeJson } from 'rx-websocket-peer';
 * encodeJson({ type: 'move', to: [1, 2] }); // '{"type":"move","to":[1,2]}'
 * ```
 *
 * @param value Plain objects, arrays, strings, finite numbers, booleans and `null`.
 * @param options `maxSize` (default 8 MiB of UTF-8) and `maxDepth` (default 256).
 * @throws {JsonCodecError} Only this: `ERR_JSON_UNENCODABLE`, `ERR_JSON_DEPTH` (also a cycle),
 *   `ERR_JSON_TOO_LARGE`, `ERR_JSON_INVALID_ARG`.
 */
export function encodeJson(value: unknown, options?: JsonCodecOptions): string {
  try {
    const { maxSize, maxDepth } = resolveJsonOptions('encodeJson', options);
    check(value, 0, maxDepth);
    const text = JSON.stringify(value);
    checkSize(text, maxSize, 'the JSON text');
    return text;
  } catch (error) {
    throw wrapUnexpected(error, 'encoding JSON');
  }
}

/** Finds how deeply the text nests before JSON.parse sees it, so no nesting reaches its recursion. */
function checkDepth(text: string, maxDepth: number): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (inString) {
      if (unit === BACKSLASH) i++;
      else if (unit === QUOTE) inString = false;
    } else if (unit === QUOTE) inString = true;
    else if (unit === OPEN_BRACKET || unit === OPEN_BRACE) {
      if (++depth > maxDepth) throw tooDeep(maxDepth);
    } else if (unit === CLOSE_BRACKET || unit === CLOSE_BRACE) depth--;
  }
}

/**
 * Decodes JSON text, as from a text frame.
 *
 * ```ts
 * import { decodeJson } from 'rx-websocket-peer';
 * decodeJson('{"type":"move","to":[1,2]}'); // { type: 'move', to: [1, 2] }
 * ```
 *
 * @param text The JSON text.
 * @param options `maxSize` (default 8 MiB of UTF-8) and `maxDepth` (default 256).
 * @throws {JsonCodecError} Only this: `ERR_JSON_SYNTAX`, `ERR_JSON_TOO_LARGE`, `ERR_JSON_DEPTH`,
 *   `ERR_JSON_INVALID_ARG`.
 */
export function decodeJson(text: string, options?: JsonCodecOptions): JsonValue {
  try {
    const { maxSize, maxDepth } = resolveJsonOptions('decodeJson', options);
    if (typeof text !== 'string') {
      throw new JsonCodecError(
        'ERR_JSON_INVALID_ARG',
        `decodeJson() takes a string, not ${text === null ? 'null' : `a ${typeof text}`}`,
      );
    }
    checkSize(text, maxSize, 'the JSON text');
    checkDepth(text, maxDepth);
    try {
      return JSON.parse(text) as JsonValue;
    } catch (error) {
      throw new JsonCodecError(
        'ERR_JSON_SYNTAX',
        `not JSON: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
  } catch (error) {
    throw wrapUnexpected(error, 'decoding JSON');
  }
}
