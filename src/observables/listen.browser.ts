import type { Observable } from 'rxjs';
import { WebSocketPeerError } from '../errors/WebSocketPeerError.js';
import type { ListenOptions } from './listenOptions.js';
import type { PeerServer } from './PeerServer.js';

/**
 * `listen()` in the browser: a page cannot accept connections.
 * @throws WebSocketPeerError `ERR_NOT_SUPPORTED`, always.
 */
export function listen(_options?: ListenOptions): Observable<PeerServer> {
  throw new WebSocketPeerError(
    'ERR_NOT_SUPPORTED',
    'listen() is Node only: a browser cannot accept WebSocket connections',
  );
}
