import { CloseCode } from '../../peer/constants.js';
import type { Handshake, HandshakeHandler } from '../Handshake.js';
import { BrowserTransport } from './BrowserTransport.js';
import { type BrowserWebSocket, type BrowserWebSocketConstructor, ReadyState } from './BrowserWebSocket.js';

/** @internal How the browser's `clientHandshake()` opens: what its `WebSocket` lets a page choose. */
export interface BrowserHandshakeOptions {
  /** Subprotocols to offer; a server that selects none of them (when some are offered) fails. */
  readonly protocols: readonly string[];
  /** Milliseconds until a connection that has not opened fails with `'timeout'`. */
  readonly handshakeTimeout: number;
}

/** @internal The page's `WebSocket` class, or `undefined` where there is none (server-side rendering). */
export function browserWebSocket(): BrowserWebSocketConstructor | undefined {
  const WebSocketClass = (globalThis as { WebSocket?: BrowserWebSocketConstructor }).WebSocket;
  return typeof WebSocketClass === 'function' ? WebSocketClass : undefined;
}

/**
 * @internal Opens a client connection to `url` with the browser's `WebSocket` (`WebSocketClass`,
 * from `browserWebSocket()`), and reports to `handler` as `Handshake` says: `opened` with a
 * `BrowserTransport`, or `failed`. The browser tells nothing of why a handshake failed (refused,
 * an HTTP status, TLS), so a failure is `'failed'` with no `cause`, or `'timeout'`; a `WebSocket`
 * that refuses the URL at once (a blocked port, a Content-Security-Policy) fails before this
 * returns, with what it threw as `cause`.
 */
export function clientHandshake(
  WebSocketClass: BrowserWebSocketConstructor,
  url: string,
  options: BrowserHandshakeOptions,
  handler: HandshakeHandler,
): Handshake {
  let ws: BrowserWebSocket;
  try {
    ws = new WebSocketClass(url, options.protocols as string[]);
  } catch (error) {
    handler.failed({ kind: 'failed', cause: error });
    return DONE;
  }
  return new BrowserHandshake(ws, options, handler);
}

/** The handshake that is already over. */
const DONE: Handshake = { abort: () => {} };

class BrowserHandshake implements Handshake {
  private readonly timer: ReturnType<typeof setTimeout>;
  private timedOut = false;

  constructor(
    private readonly ws: BrowserWebSocket,
    private readonly options: BrowserHandshakeOptions,
    /** Until it has been called. */
    private handler: HandshakeHandler | undefined,
  ) {
    this.timer = setTimeout(this.timeOut, options.handshakeTimeout);
    ws.addEventListener('open', this.onOpen);
    ws.addEventListener('close', this.onCloseBeforeOpen);
  }

  abort(): void {
    if (this.done() === undefined) return;
    // Once a timeout has started closing it, there is nothing more to do.
    if (this.ws.readyState === ReadyState.Connecting) this.ws.close();
  }

  private readonly timeOut = (): void => {
    this.timedOut = true;
    this.ws.close();
  };

  private readonly onOpen = (): void => {
    const handler = this.done();
    const { ws, options } = this;
    if (options.protocols.length > 0 && ws.protocol === '') {
      // As in Node: a server that selects none of the subprotocols we offered is refused.
      ws.close(CloseCode.Normal);
      const selected = `the server selected none of the subprotocols ${options.protocols.join(', ')}`;
      handler?.failed({ kind: 'failed', cause: new Error(selected) });
      return;
    }
    handler?.opened(new BrowserTransport(ws));
  };

  private readonly onCloseBeforeOpen = (): void => {
    const handler = this.done();
    // The browser hides why (refused, an HTTP status, TLS): it only says the handshake failed.
    handler?.failed(this.timedOut ? { kind: 'timeout' } : { kind: 'failed', cause: undefined });
  };

  /** The handshake is over, one way or the other: lets go of the timer, the listeners and the handler. */
  private done(): HandshakeHandler | undefined {
    const handler = this.handler;
    this.handler = undefined;
    clearTimeout(this.timer);
    this.ws.removeEventListener('open', this.onOpen);
    this.ws.removeEventListener('close', this.onCloseBeforeOpen);
    return handler;
  }
}
