// What connect() and the options code share on every platform: nothing here may import a Node module.
import type { Subscriber } from 'rxjs';
import { kWhenClosed } from '../internal/symbols.js';
import type { WebSocketPeer } from '../peer/WebSocketPeer.js';
import { DEFAULT_PEER_OPTIONS, type PeerOptions, type ResolvedPeerOptions } from '../peer/WebSocketPeer.js';
import { argumentError } from '../errors/WebSocketPeerError.js';
import { validateWriteMode } from '../peer/validation.js';
import { describe } from '../internal/bytes.js';
import {
  checkOption,
  invalidOption,
  isBoolean,
  isPositiveInteger,
  isString,
  isTimeout,
  MAX_TIMEOUT_MS,
} from '../internal/options.js';

// The option checks live in src/internal/options.ts; the observables' modules take them from here.
export { checkOption, invalidOption, isBoolean, isPositiveInteger, isString, isTimeout };

/**
 * PEM text: a string, its bytes (a `Uint8Array`; a Node `Buffer` is one), or an array of them.
 * The Node entry's `PemInput` says `Buffer`, as Node's TLS options do; this one names no Node
 * type, so that the browser entry's declarations compile without `@types/node`.
 */
export type PemInput = string | Uint8Array | Array<string | Uint8Array>;

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
  const { writeMode, noDelay, maxQueuedPackets, maxQueuedBytes, heartbeatInterval } = options;
  if (writeMode !== undefined) validateWriteMode(writeMode);
  checkOption(fn, 'noDelay', noDelay, isBoolean, 'a boolean');
  checkOption(fn, 'maxQueuedPackets', maxQueuedPackets, isPositiveInteger, 'a positive integer');
  checkOption(fn, 'maxQueuedBytes', maxQueuedBytes, isPositiveInteger, 'a positive integer');
  checkOption(
    fn,
    'heartbeatInterval',
    heartbeatInterval,
    // Node runs a timer of a larger delay after 1 ms: a typo must not become a 1 ms heartbeat.
    isTimeout,
    `a positive integer (ms) up to ${MAX_TIMEOUT_MS}`,
  );
  return {
    writeMode: writeMode ?? DEFAULT_PEER_OPTIONS.writeMode,
    noDelay: noDelay ?? DEFAULT_PEER_OPTIONS.noDelay,
    maxQueuedPackets: maxQueuedPackets ?? DEFAULT_PEER_OPTIONS.maxQueuedPackets,
    maxQueuedBytes: maxQueuedBytes ?? DEFAULT_PEER_OPTIONS.maxQueuedBytes,
    heartbeatInterval: heartbeatInterval ?? DEFAULT_PEER_OPTIONS.heartbeatInterval,
  };
}

/** @internal The URL of `connect()`, checked: `ws:` or `wss:`, no fragment. */
export function parseUrl(url: unknown): URL {
  let parsed: URL;
  try {
    if (typeof url !== 'string' && !(url instanceof URL)) throw new TypeError('not a string');
    parsed = new URL(url instanceof URL ? url.href : url);
  } catch {
    throw argumentError(TypeError, 'ERR_INVALID_URL', `connect(): ${describe(url)} is not a URL`);
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
    throw argumentError(
      TypeError,
      'ERR_INVALID_URL',
      `connect(): the URL must start with ws: or wss:, got ${parsed.protocol}`,
    );
  }
  if (parsed.hash) {
    throw argumentError(TypeError, 'ERR_INVALID_URL', 'connect(): a WebSocket URL has no fragment (RFC 6455 §3)');
  }
  return parsed;
}

/**
 * @internal What `connect()` does once its peer is open, on every platform: emits it, then
 * completes when it closes cleanly with 1000 or errors with `WebSocketCloseError`, unless the subscriber has
 * unsubscribed by then.
 */
export function emitOpenPeer(peer: WebSocketPeer, subscriber: Subscriber<WebSocketPeer>): void {
  // The peer has just opened: it cannot close before next() returns.
  peer[kWhenClosed](subscriber);
  subscriber.next(peer);
}
