import { Observable } from 'rxjs';
import { CloseCode, DEFAULT_HANDSHAKE_TIMEOUT_MS } from '../peer/constants.js';
import { BrowserTransport } from '../transport/browser/BrowserTransport.js';
import {
  type BrowserWebSocket,
  type BrowserWebSocketConstructor,
  ReadyState,
} from '../transport/browser/BrowserWebSocket.js';
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

  return new Observable<WebSocketPeer>((subscriber) => {
    const WebSocketClass = (globalThis as { WebSocket?: BrowserWebSocketConstructor }).WebSocket;
    if (typeof WebSocketClass !== 'function') {
      subscriber.error(
        new WebSocketPeerError('ERR_NOT_SUPPORTED', 'connect(): there is no WebSocket here (server-side rendering?)'),
      );
      return undefined;
    }
    let ws: BrowserWebSocket;
    try {
      ws = new WebSocketClass(target.href, protocols);
    } catch (error) {
      // A port the browser blocks, say, or a page's Content-Security-Policy.
      subscriber.error(
        new WebSocketPeerError('ERR_CONNECT_FAILED', `Could not connect to ${target.href}`, { cause: error }),
      );
      return undefined;
    }
    let timedOut = false;
    let peer: WebSocketPeer | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      ws.close();
    }, handshakeTimeout);

    const removeListeners = (): void => {
      clearTimeout(timer);
      ws.removeEventListener('open', onOpen);
      ws.removeEventListener('close', onCloseBeforeOpen);
    };
    const onOpen = (): void => {
      removeListeners();
      if (protocols.length > 0 && ws.protocol === '') {
        // As in Node: a server that selects none of the subprotocols we offered is refused.
        ws.close(CloseCode.Normal);
        subscriber.error(
          new WebSocketPeerError(
            'ERR_CONNECT_FAILED',
            `${target.href} selected none of the subprotocols ${protocols.join(', ')}`,
          ),
        );
        return;
      }
      peer = new WebSocketPeer(new BrowserTransport(ws), peerOptions);
      emitOpenPeer(peer, subscriber);
    };
    const onCloseBeforeOpen = (): void => {
      removeListeners();
      subscriber.error(
        timedOut
          ? new WebSocketPeerError(
              'ERR_HANDSHAKE_TIMEOUT',
              `Opening handshake with ${target.href} took over ${handshakeTimeout} ms`,
            )
          : // The browser hides why (refused, an HTTP status, TLS): it only says the handshake failed.
            new WebSocketPeerError('ERR_CONNECT_FAILED', `Could not connect to ${target.href}`),
      );
    };
    ws.addEventListener('open', onOpen);
    ws.addEventListener('close', onCloseBeforeOpen);

    return () => {
      if (peer) {
        peer.close();
        return;
      }
      if (ws.readyState === ReadyState.Connecting) {
        removeListeners();
        ws.close();
      }
    };
  });
}
