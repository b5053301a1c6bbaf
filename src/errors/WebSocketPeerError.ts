import { errorBrand } from './brand.js';

/**
 * The stable `code` of every error this library raises, apart from {@link WebSocketCloseError}
 * whose `code` is the numeric close code. Match on these, never on message text.
 */
export type ErrorCode =
  /** A write (`sink.next`, `putPacket`) on a peer that is closing or closed. */
  | 'ERR_PEER_CLOSED'
  /** Bytes written in text mode that are not valid UTF-8; nothing was sent. */
  | 'ERR_INVALID_UTF8'
  /** A write of something that is neither a string, bytes nor a `Packet`. */
  | 'ERR_INVALID_DATA'
  /** A close code outside RFC 6455 §7.4 (`RangeError`). */
  | 'ERR_INVALID_CLOSE_CODE'
  /** A close reason over 123 UTF-8 bytes (`RangeError`) or not a string (`TypeError`). */
  | 'ERR_INVALID_CLOSE_REASON'
  /** A write mode other than `WriteMode.Text` or `WriteMode.Binary` (`RangeError`). */
  | 'ERR_INVALID_WRITE_MODE'
  /** An argument of the wrong type (`TypeError`). */
  | 'ERR_INVALID_ARG_TYPE'
  /** An option of `connect()`/`listen()` of the wrong type or out of range. */
  | 'ERR_INVALID_OPTION'
  /** A URL that does not parse or whose scheme is not `ws:`/`wss:` (`TypeError`). */
  | 'ERR_INVALID_URL'
  /**
   * `connect()` could not reach the server (refused, reset, DNS) or its certificate did not verify;
   * `cause` has the detail (`cause.code` `'ECONNREFUSED'`, `'UNABLE_TO_VERIFY_LEAF_SIGNATURE'`...).
   */
  | 'ERR_CONNECT_FAILED'
  /**
   * The server answered the opening handshake with something other than 101; see `statusCode`
   * (a `listen()` server: 400, 403, 404 or 503).
   */
  | 'ERR_HANDSHAKE_REJECTED'
  /** The opening handshake did not finish within `handshakeTimeout`. */
  | 'ERR_HANDSHAKE_TIMEOUT'
  /** `listen()` could not bind (address in use, permission); `cause` has the detail. */
  | 'ERR_LISTEN_FAILED'
  /** `backpressure()` had to hold more than its `maxHeldBytes`; see `held`. */
  | 'ERR_BACKPRESSURE_OVERFLOW'
  /** A `Connection` that is not open has as many writes waiting as it may hold; see `held`. */
  | 'ERR_QUEUE_FULL'
  /**
   * What the platform cannot do: in the browser, `getConnectedHost()`, `getConnectedPort()`,
   * `setNoDelay()`, `listen()` and some options of `connect()`; `connect()` where there is no
   * `WebSocket` at all (server-side rendering). And what the app's bundle left out: `putVar()`
   * and `getVar()` in a browser app that imports no part of the Godot codec, until it calls
   * `enableVariants()` once.
   */
  | 'ERR_NOT_SUPPORTED'
  /**
   * A room's history no longer reaches back to where a subscriber stands (or is of another
   * epoch): a `RoomGapError`, with `lastDelivered` and `oldestAvailable`.
   */
  | 'ERR_ROOM_GAP'
  /** A room's server refused a join or a publish (its `authorize` hook). */
  | 'ERR_ROOM_FORBIDDEN'
  /** A room's engine could not store or read (Redis unreachable, say): the server says so. */
  | 'ERR_ENGINE_DOWN';

const peerErrorBrand = errorBrand('WebSocketPeerError');

/**
 * A failure of this library that is not a close: it carries a stable {@link ErrorCode}.
 * Argument errors are plain `TypeError`/`RangeError` instances with the same `code` field.
 *
 * ```ts
 * import { connect, WebSocketPeerError } from 'rx-websocket-peer';
 * connect('ws://127.0.0.1:1').subscribe({
 *   error: (e) => e instanceof WebSocketPeerError && console.log(e.code), // 'ERR_CONNECT_FAILED'
 * });
 * ```
 */
export class WebSocketPeerError extends Error {
  override readonly name = 'WebSocketPeerError';
  /** The HTTP status of a rejected handshake (`ERR_HANDSHAKE_REJECTED`). */
  readonly statusCode: number | undefined;
  /**
   * How many values were still waiting to be sent when a flow-control operator failed
   * (`backpressure()`, `sendAll()`): none of them went out.
   */
  readonly held: number | undefined;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: { cause?: unknown; statusCode?: number; held?: number } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    peerErrorBrand.mark(this);
    this.statusCode = options.statusCode;
    this.held = options.held;
  }

  /**
   * Whether `value` is a `WebSocketPeerError` of any copy of this package: an app that both
   * imports and requires it has two (ESM and CommonJS), and `instanceof` recognises both.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return peerErrorBrand.hasInstance(this, WebSocketPeerError, value);
  }
}

/** A `TypeError` or `RangeError` with a stable `code`, as Node's own argument errors have. */
export type ArgumentError = (TypeError | RangeError) & { readonly code: ErrorCode };

/** @internal Makes the argument error that misuse throws synchronously. */
export function argumentError(
  Kind: TypeErrorConstructor | RangeErrorConstructor,
  code: ErrorCode,
  message: string,
): ArgumentError {
  return Object.assign(new Kind(message), { code });
}
