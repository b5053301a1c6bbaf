import type { Observable } from 'rxjs';
import type { WebSocketPeer } from '../peer/WebSocketPeer.js';

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
  ) {}
}
