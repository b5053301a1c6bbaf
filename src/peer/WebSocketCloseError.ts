import type { CloseInfo } from './types.js';

/**
 * The error of `packets$` and `connect()` when a connection ends without a clean closing
 * handshake (`wasClean: false`), for example when the other process dies (code 1006).
 *
 * ```ts
 * import { WebSocketCloseError } from 'rx-websocket-peer';
 * peer.packets$.subscribe({ error: (e) => e instanceof WebSocketCloseError && console.log(e.code) });
 * ```
 */
export class WebSocketCloseError extends Error implements CloseInfo {
  override readonly name = 'WebSocketCloseError';
  /** The numeric WebSocket close code (1006 when no close frame arrived). */
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;

  constructor(info: CloseInfo, options: { cause?: unknown } = {}) {
    super(
      `WebSocket closed abnormally with code ${info.code}${info.reason ? `: ${info.reason}` : ''}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = info.code;
    this.reason = info.reason;
    this.wasClean = info.wasClean;
  }
}
