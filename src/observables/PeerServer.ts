import type { Observable } from 'rxjs';
import { CloseCode } from '../peer/constants.js';
import { validateClose } from '../peer/validation.js';
import type { WebSocketPeer } from '../peer/WebSocketPeer.js';

/** The limits a `listen()` server enforces, defaults filled in (see `ListenOptions`). */
export interface ServerLimits {
  /** Live peers at once; further upgrade requests are answered 503 until one has closed. */
  readonly maxConnections: number;
  /** The largest inbound message, in bytes; a larger one closes its connection with 1009. */
  readonly maxPayload: number;
  /** The most frames one inbound message may come in; more close its connection with 1008. */
  readonly maxFragments: number;
  /**
   * Milliseconds a connection has, from its TCP accept, to finish its TLS handshake and send its
   * upgrade request; `undefined` when attached to a `server` of yours, whose own timeouts apply.
   */
  readonly handshakeTimeout: number | undefined;
}

/**
 * A listening WebSocket server, as `listen()` emits it.
 *
 * ```ts
 * import { listen } from 'rx-websocket-peer';
 * listen({ port: 0 }).subscribe((server) => {
 *   console.log(`on ${server.host}:${server.port}`);
 *   process.once('SIGTERM', () => server.stop()); // graceful: nothing that arrived is lost
 * });
 * ```
 */
export class PeerServer {
  /** @internal */
  constructor(
    /** The address it listens on (`'::'` or `'0.0.0.0'` when bound to all interfaces). */
    readonly host: string,
    /** The port it listens on; the one the OS chose when `port: 0` was asked. */
    readonly port: number,
    /**
     * Each peer once its opening handshake is done (so its `state$` starts at `'open'`). Peers
     * that open while nobody subscribes wait for the first subscriber; each peer goes once to all
     * current subscribers. Completes when the server stops.
     */
    readonly peers$: Observable<WebSocketPeer>,
    /** Whether it serves `wss:` (TLS): with `key`/`cert`, or attached to an `https.Server`. */
    readonly secure: boolean,
    /** The limits it enforces, defaults filled in. */
    readonly limits: ServerLimits,
    private readonly stopGracefully: (code: number, reason: string) => void,
  ) {}

  /**
   * Stops the server gracefully, where unsubscribing from `listen()` aborts. It refuses new
   * connections at once (its own server stops listening; upgrade requests that still come, on a
   * server of yours or on a kept-alive connection, are answered 503), and closes every peer with
   * `code` and `reason`. Each peer's `packets$` goes on delivering every packet that arrived
   * before its closing handshake ended, to the subscribers it has, then ends (with
   * `WebSocketCloseError`, as any code but 1000 does). Once every peer has closed, `peers$`
   * completes, handshakes still under way are dropped, and `listen()` completes; its own server
   * has closed by then (a server of yours keeps running). A peer that does not answer the close
   * is cut after 30 s. Calling it again, or after `listen()` ended, does nothing.
   * @param code the close code for every peer: 1000-1003, 1007-1014 or 3000-4999. Default 1001
   *   (going away), which `reconnecting()` clients reconnect after.
   * @param reason at most 123 UTF-8 bytes. Default `''`.
   * @throws RangeError (`ERR_INVALID_CLOSE_CODE`, `ERR_INVALID_CLOSE_REASON`); the server goes on.
   */
  stop(code: number = CloseCode.GoingAway, reason = ''): void {
    validateClose(code, reason);
    this.stopGracefully(code, reason);
  }
}
