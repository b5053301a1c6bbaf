import type { Observable } from 'rxjs';
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
 * listen({ port: 0 }).subscribe((server) => console.log(`on ${server.host}:${server.port}`));
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
  ) {}
}
