import { WebSocketPeerError } from '../../errors/WebSocketPeerError.js';
import { CloseCode } from '../../peer/constants.js';
import type { Handshake, HandshakeError, HandshakeHandler } from '../Handshake.js';
import { BrowserTransport } from './BrowserTransport.js';
import { type BrowserWebSocket, type BrowserWebSocketConstructor, CONNECTING } from './BrowserWebSocket.js';

/** The handshake that never began. */
const NONE: Handshake = { abort: () => {} };

/**
 * @internal Opens a client connection to `url` with the browser's `WebSocket`, offering
 * `protocols`, and reports to `handler` as `Handshake` says: `opened` with a `BrowserTransport`,
 * or `failed`. The browser tells nothing of why a handshake failed (refused, an HTTP status,
 * TLS): that is `ERR_CONNECT_FAILED` with no `cause`. Where there is no `WebSocket`, or it refuses
 * the URL at once (a blocked port, a Content-Security-Policy), it fails before it returns.
 * Closures rather than a class, unlike Node's: in a browser bundle, names of locals minify.
 */
export function clientHandshake(
  url: string,
  protocols: readonly string[],
  handshakeTimeout: number,
  handler: HandshakeHandler,
): Handshake {
  // One place that makes the failures: in a browser bundle, every repeated call is bytes.
  const fail = (code: HandshakeError['code'], message = `Could not connect to ${url}`, cause?: unknown): Handshake => {
    handler.failed(new WebSocketPeerError(code, message, { cause }) as HandshakeError);
    return NONE;
  };
  const WebSocketClass = (globalThis as { WebSocket?: BrowserWebSocketConstructor }).WebSocket;
  if (typeof WebSocketClass !== 'function') {
    return fail('ERR_NOT_SUPPORTED', 'connect(): there is no WebSocket here (server-side rendering?)');
  }
  let ws: BrowserWebSocket;
  try {
    ws = new WebSocketClass(url, protocols as string[]);
  } catch (error) {
    return fail('ERR_CONNECT_FAILED', undefined, error);
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ws.close();
  }, handshakeTimeout);

  /** The handshake is over, one way or the other: no timer, no listener is left. */
  const done = (): void => {
    clearTimeout(timer);
    ws.removeEventListener('open', onOpen);
    ws.removeEventListener('close', onCloseBeforeOpen);
  };
  const onOpen = (): void => {
    done();
    if (protocols.length > 0 && ws.protocol === '') {
      // As in Node: a server that selects none of the subprotocols we offered is refused.
      ws.close(CloseCode.Normal);
      fail('ERR_CONNECT_FAILED', `${url} selected none of the subprotocols ${protocols.join(', ')}`);
      return;
    }
    handler.opened(new BrowserTransport(ws));
  };
  const onCloseBeforeOpen = (): void => {
    done();
    if (timedOut) fail('ERR_HANDSHAKE_TIMEOUT', `Opening handshake with ${url} took over ${handshakeTimeout} ms`);
    // The browser hides why (refused, an HTTP status, TLS): it only says the handshake failed.
    else fail('ERR_CONNECT_FAILED');
  };
  ws.addEventListener('open', onOpen);
  ws.addEventListener('close', onCloseBeforeOpen);

  return {
    abort: () => {
      // After the end there is nothing to remove, and the socket is no longer connecting; when a
      // timeout has begun to close it, its close event is no longer heard.
      done();
      if (ws.readyState === CONNECTING) ws.close();
    },
  };
}
