import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketPeerError } from '../../errors/WebSocketPeerError.js';
import type { Handshake, HandshakeError, HandshakeHandler } from '../Handshake.js';
import { NodeTransport } from './NodeTransport.js';
import { PeerSocket, type SocketHandler } from './PeerSocket.js';

/** @internal How `clientHandshake()` opens: `connect()`'s options, checked, defaults filled in. */
export interface ClientHandshakeOptions {
  /** Subprotocols to offer; a server that selects none of them (when some are offered) fails. */
  readonly protocols: readonly string[];
  /** Extra headers of the upgrade request. */
  readonly headers: Readonly<Record<string, string>>;
  readonly maxPayload: number;
  readonly maxFragments: number;
  /** Milliseconds until a connection that has not opened fails with `'timeout'`. */
  readonly handshakeTimeout: number;
  /** `wss:` only: what Node's `tls.connect()` takes besides the host. */
  readonly tls?: {
    readonly rejectUnauthorized: true;
    readonly ca?: string | Buffer | Array<string | Buffer>;
    readonly servername?: string;
  };
}

/**
 * @internal Opens a client connection to `url` (`ws:` or `wss:`) with `ws`, and reports to
 * `handler` as `Handshake` says: `opened` with a `NodeTransport` on the TCP socket, or `failed`.
 */
export function clientHandshake(url: string, options: ClientHandshakeOptions, handler: HandshakeHandler): Handshake {
  const ws = new PeerSocket(url, options.protocols as string[], {
    headers: options.headers,
    maxPayload: options.maxPayload,
    maxFragments: options.maxFragments,
    perMessageDeflate: false,
    ...options.tls,
  });
  return new NodeClientHandshake(ws, url, options.handshakeTimeout, handler);
}

/**
 * Follows the opening handshake of `ws` as its handler (no listeners, no closures): opens a
 * transport with the TCP socket and the response's headers, or tells what went wrong. Nothing
 * made here outlives the handshake: once it reports, the socket no longer points here.
 */
class NodeClientHandshake implements SocketHandler, Handshake {
  private readonly timer: NodeJS.Timeout;
  private socket: Socket | undefined;
  private responseHeaders: IncomingMessage['headers'] = {};
  private rejectedWith: number | undefined;
  private timedOut = false;
  private lastError: Error | undefined;

  constructor(
    private readonly ws: PeerSocket,
    private readonly href: string,
    private readonly handshakeTimeout: number,
    /** Until it has been called. */
    private handler: HandshakeHandler | undefined,
  ) {
    // Our own timer rather than ws's, so that fake clocks drive it and the failure says what happened.
    this.timer = setTimeout(timeOut, handshakeTimeout, this);
    ws.handler = this;
  }

  /** The handshake took too long. */
  timeOut(): void {
    this.timedOut = true;
    this.ws.terminate();
  }

  abort(): void {
    if (this.handler === undefined) return;
    const ws = this.ws;
    this.done();
    // Aborting makes ws emit 'error' and 'close' on a socket nobody reads any more (as does a
    // timeout or a refusal already under way, which nobody will hear of now).
    ws.on('error', ignore);
    if (ws.readyState === PeerSocket.CONNECTING) ws.terminate();
  }

  upgrade(response: IncomingMessage): void {
    this.socket = response.socket as Socket;
    this.responseHeaders = response.headers;
  }

  unexpectedResponse(_request: ClientRequest, response: IncomingMessage): void {
    this.rejectedWith = response.statusCode;
    response.resume();
    this.ws.terminate();
  }

  message(): void {
    // Not before 'open'.
  }

  error(error: Error): void {
    this.lastError = error;
  }

  open(): void {
    const handler = this.done();
    handler?.opened(
      new NodeTransport(this.ws, this.socket as Socket, { url: this.href, headers: this.responseHeaders }, true),
    );
  }

  /** ws's 'close' before 'open'. */
  closed(): void {
    this.done()?.failed(this.failure());
  }

  private failure(): HandshakeError {
    const where = this.href;
    if (this.timedOut) {
      return new WebSocketPeerError(
        'ERR_HANDSHAKE_TIMEOUT',
        `Opening handshake with ${where} took over ${this.handshakeTimeout} ms`,
      ) as HandshakeError;
    }
    if (this.rejectedWith !== undefined) {
      return new WebSocketPeerError(
        'ERR_HANDSHAKE_REJECTED',
        `${where} answered the handshake with HTTP ${this.rejectedWith}`,
        { statusCode: this.rejectedWith },
      ) as HandshakeError;
    }
    const lastError = this.lastError;
    const detail = lastError ? `: ${lastError.message}` : '';
    return new WebSocketPeerError('ERR_CONNECT_FAILED', `Could not connect to ${where}${detail}`, {
      cause: lastError,
    }) as HandshakeError;
  }

  /** The handshake is over, one way or the other: lets go of the timer, the socket and the handler. */
  private done(): HandshakeHandler | undefined {
    const handler = this.handler;
    clearTimeout(this.timer);
    if (this.ws.handler === this) this.ws.handler = undefined;
    this.handler = undefined;
    return handler;
  }
}

function timeOut(handshake: NodeClientHandshake): void {
  handshake.timeOut();
}

function ignore(): void {}
