import type { Transport } from '../peer/Transport.js';

/**
 * @internal Why a client's opening handshake failed. `'failed'`: no connection (refused,
 * unreachable, TLS refused, a response that breaks RFC 6455 §4.1), with the platform's error as
 * `cause` where it tells one; `'rejected'`: the server answered with an HTTP `status` other than
 * 101 (the browser hides the status: it reports `'failed'`); `'timeout'`: no open connection
 * within the handshake timeout.
 */
export type HandshakeFailure =
  | { readonly kind: 'failed'; readonly cause: unknown }
  | { readonly kind: 'rejected'; readonly status: number }
  | { readonly kind: 'timeout' };

/**
 * @internal What a client's opening handshake reports to: exactly one of its methods, exactly
 * once. `opened(transport)` hands over a transport that is open and not yet bound (whoever takes
 * it binds it, by making a peer of it); the handshake has let go of its timer and its listeners
 * by then, and keeps nothing the transport does not.
 */
export interface HandshakeHandler {
  opened(transport: Transport): void;
  failed(failure: HandshakeFailure): void;
}

/**
 * @internal The opening side of the transport seam: a client's opening handshake under way, as
 * `transport/node/clientHandshake.ts` (over `ws`) and `transport/browser/clientHandshake.ts` (over
 * the browser's `WebSocket`) start it. Each starts at once and calls its handler later, never
 * from within the call that starts it, with one exception: a browser whose `WebSocket` refuses
 * the URL at once (a blocked port, a page's Content-Security-Policy) reports `failed` before the
 * call returns.
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
