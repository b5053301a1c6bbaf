import { errorBrand } from './brand.js';

/** How a connection ended. */
export interface CloseInfo {
  /** The code that started the closing handshake, or 1006 when there was none. */
  readonly code: number;
  /** The reason that came with that code. */
  readonly reason: string;
  /** Whether a close frame came back from the other side (the handshake completed). */
  readonly wasClean: boolean;
}

const closeErrorBrand = errorBrand('WebSocketCloseError');

/**
 * The error of `connect()`, `packets$` and the streams that end with a connection, whenever it
 * ends other than by a clean closing handshake with 1000: any other code, clean or not (1001 when
 * a server stops, 1008, 1009, 1011, 3000-4999), or no closing handshake at all (1006, for example
 * when the other process dies). So `retry()` reconnects, and a refusal never looks like success.
 *
 * ```ts
 * import { WebSocketCloseError } from 'rx-websocket-peer';
 * peer.packets$.subscribe({ error: (e) => e instanceof WebSocketCloseError && console.log(e.code, e.wasClean) });
 * ```
 */
export class WebSocketCloseError extends Error implements CloseInfo {
  override readonly name = 'WebSocketCloseError';
  /** The numeric WebSocket close code (1006 when no close frame arrived). */
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;

  constructor(info: CloseInfo, options: { cause?: unknown } = {}) {
    const how = info.wasClean ? 'closed with code' : 'closed abnormally with code';
    super(
      `WebSocket ${how} ${info.code}${info.reason ? `: ${info.reason}` : ''}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = info.code;
    this.reason = info.reason;
    this.wasClean = info.wasClean;
    closeErrorBrand.mark(this);
  }

  /** Whether `value` is a `WebSocketCloseError` of any copy of this package (ESM or CommonJS). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return closeErrorBrand.hasInstance(this, WebSocketCloseError, value);
  }
}
