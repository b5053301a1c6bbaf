import { DEFAULT_PEER_OPTIONS, type PeerOptions, type ResolvedPeerOptions } from '../peer/WebSocketPeer.js';
import { argumentError } from '../peer/WebSocketPeerError.js';
import { validateWriteMode } from '../peer/validation.js';

/** @internal Throws `ERR_INVALID_OPTION` unless `value` passes `check`. */
export function checkOption<T>(
  fn: string,
  name: string,
  value: unknown,
  check: (value: unknown) => value is T,
  expected: string,
): asserts value is T | undefined {
  if (value !== undefined && !check(value)) {
    throw argumentError(TypeError, 'ERR_INVALID_OPTION', `${fn}(): option '${name}' must be ${expected}`);
  }
}

/** @internal */
export const isPositiveInteger = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value > 0;

/** @internal */
export const isBoolean = (value: unknown): value is boolean => typeof value === 'boolean';

/** @internal */
export const isString = (value: unknown): value is string => typeof value === 'string';

/** @internal RFC 7230 §3.2.6 token, the characters a header name may have. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** @internal A record of header names to values with no CR or LF, which would split the response. */
export const isHeaderRecord = (value: unknown): value is Record<string, string> =>
  typeof value === 'object' &&
  value !== null &&
  Object.entries(value).every(([name, v]) => HEADER_NAME.test(name) && typeof v === 'string' && !/[\r\n\0]/.test(v));

/** @internal RFC 6455 §4.1: subprotocols are tokens, each offered once. */
export const isProtocolList = (value: unknown): value is string[] =>
  Array.isArray(value) &&
  value.every((p) => typeof p === 'string' && HEADER_NAME.test(p)) &&
  new Set(value).size === value.length;

/** @internal The options every peer takes, checked, with defaults filled in. */
export function resolvePeerOptions(fn: string, options: PeerOptions): ResolvedPeerOptions {
  if (typeof options !== 'object' || options === null) {
    throw argumentError(TypeError, 'ERR_INVALID_OPTION', `${fn}(): options must be an object`);
  }
  const { writeMode, noDelay, maxQueuedPackets, maxQueuedBytes } = options;
  if (writeMode !== undefined) validateWriteMode(writeMode);
  checkOption(fn, 'noDelay', noDelay, isBoolean, 'a boolean');
  checkOption(fn, 'maxQueuedPackets', maxQueuedPackets, isPositiveInteger, 'a positive integer');
  checkOption(fn, 'maxQueuedBytes', maxQueuedBytes, isPositiveInteger, 'a positive integer');
  return {
    writeMode: writeMode ?? DEFAULT_PEER_OPTIONS.writeMode,
    noDelay: noDelay ?? DEFAULT_PEER_OPTIONS.noDelay,
    maxQueuedPackets: maxQueuedPackets ?? DEFAULT_PEER_OPTIONS.maxQueuedPackets,
    maxQueuedBytes: maxQueuedBytes ?? DEFAULT_PEER_OPTIONS.maxQueuedBytes,
  };
}
