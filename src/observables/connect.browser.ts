import { Observable } from 'rxjs';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS } from '../peer/constants.js';
import { clientHandshake } from '../transport/browser/clientHandshake.js';
import { WebSocketPeer } from '../peer/WebSocketPeer.js';
import { checkOptionKeys } from '../internal/optionKeys.js';
import { WebSocketPeerError } from '../errors/WebSocketPeerError.js';
import { checkOption, emitOpenPeer, isProtocolList, isTimeout, parseUrl, resolvePeerOptions } from './common.js';
import { CONNECT_OPTION_KEYS, type ConnectOptions } from './connectOptions.js';

/** Options the browser's `WebSocket` has no way to honour: known (not a typo), yet refused. */
const NODE_ONLY: readonly (keyof ConnectOptions)[] = [
  'headers',
  'maxPayload',
  'maxFragments',
  'ca',
  'servername',
  'noDelay',
  'heartbeatInterval',
];

/**
 * `connect()` in the browser, over the browser's own `WebSocket`: the same observable as in
 * Node. The browser does not let a page send headers, set socket options, send pings or see
 * the HTTP status of a refused handshake: those options throw `ERR_NOT_SUPPORTED`, and a
 * refused handshake is `ERR_CONNECT_FAILED`. A key that is no option at all throws
 * `ERR_INVALID_OPTION`, as in Node. Where there is no `WebSocket` at all (server-side
 * rendering), subscribing errors with `ERR_NOT_SUPPORTED`.
 */
export function connect(url: string | URL, options: ConnectOptions = {}): Observable<WebSocketPeer> {
  const target = parseUrl(url);
  checkOptionKeys('connect', options, CONNECT_OPTION_KEYS);
  const peerOptions = resolvePeerOptions('connect', options);
  for (const name of NODE_ONLY) {
    if (options[name] !== undefined) {
      throw new WebSocketPeerError('ERR_NOT_SUPPORTED', `connect(): option '${name}' is not available in the browser`);
    }
  }
  const { handshakeTimeout = DEFAULT_HANDSHAKE_TIMEOUT_MS } = options;
  const protocols = typeof options.protocols === 'string' ? [options.protocols] : (options.protocols ?? []);
  checkOption('connect', 'protocols', protocols, isProtocolList, 'a token or an array of distinct tokens');
  checkOption('connect', 'handshakeTimeout', handshakeTimeout, isTimeout, 'a positive integer (ms) up to 2^31 - 1');

  const href = target.href;
  return new Observable<WebSocketPeer>((subscriber) => {
    // Closures, where Node's connect() has objects: a browser holds few connections, and in its
    // bundle the names of locals minify.
    let peer: WebSocketPeer | undefined;
    const handshake = clientHandshake(href, protocols, handshakeTimeout, {
      opened: (transport) => {
        peer = new WebSocketPeer(transport, peerOptions);
        emitOpenPeer(peer, subscriber);
      },
      failed: (error) => subscriber.error(error),
    });
    return () => (peer ? peer.close() : handshake.abort());
  });
}
