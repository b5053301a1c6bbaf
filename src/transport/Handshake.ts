import type { WebSocketPeerError } from '../errors/WebSocketPeerError.js';
import type { Transport } from '../peer/Transport.js';

/**
 * @internal Why a client's opening handshake failed, as the `WebSocketPeerError` that `connect()`
 * errors with: `ERR_CONNECT_FAILED` (no connection: refused, unreachable, TLS refused, a response
 * that breaks RFC 6455 §4.1; the platform's error as `cause` where it tells one),
 * `ERR_HANDSHAKE_REJECTED` (an HTTP `statusCode` other than 101; the browser hides the status
 * and reports `ERR_CONNECT_FAILED`), `ERR_HANDSHAKE_TIMEOUT` (not open within the handshake
 * timeout), or `ERR_NOT_SUPPORTED` (a browser page with no `WebSocket`: server-side rendering).
 */
export type HandshakeError = WebSocketPeerError & {
  readonly code: 'ERR_CONNECT_FAILED' | 'ERR_HANDSHAKE_REJECTED' | 'ERR_HANDSHAKE_TIMEOUT' | 'ERR_NOT_SUPPORTED';
};

/**
 * @internal What a client's opening handshake reports to: exactly one of its methods, exactly
 * once. `opened(transport)` hands over a transport that is open and not yet bound (whoever takes
 * it binds it at once, by making a peer of it: see `Transport`); the handshake has let go of its
 * timer and its listeners by then, and keeps nothing the transport does not.
 */
export interface HandshakeHandler {
  opened(transport: Transport): void;
  failed(error: HandshakeError): void;
}

/**
 * @internal The opening side of the transport seam: a client's opening handshake under way, as
 * `clientHandshake()` of `transport/node` (over `ws`) and of `transport/browser` (over the
 * browser's `WebSocket`) start it. Each starts at once and calls its handler later, never from
 * within the call that starts it, with one exception: where the browser cannot even begin (no
 * `WebSocket`, or one that refuses the URL at once: a blocked port, a Content-Security-Policy)
 * it reports `failed` before the call returns.
 *
 * The accepting side has one platform, Node (a browser cannot listen):
 * `transport/node/upgradeServer.ts` writes its contract down.
 */
export interface Handshake {
  /**
   * Gives up: the connection is dropped, and the handler is never called. Does nothing once the
   * handler has been called.
   */
  abort(): void;
}
