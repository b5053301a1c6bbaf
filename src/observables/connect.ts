import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { Observable, type Subscriber, type Unsubscribable } from 'rxjs';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_MAX_FRAGMENTS, DEFAULT_MAX_PAYLOAD } from '../peer/constants.js';
import { NodeTransport } from '../transport/node/NodeTransport.js';
import { PeerSocket, type SocketHandler } from '../transport/node/PeerSocket.js';
import { checkOptionKeys } from '../internal/optionKeys.js';
import { type ResolvedPeerOptions, WebSocketPeer } from '../peer/WebSocketPeer.js';
import { WebSocketPeerError } from '../errors/WebSocketPeerError.js';
import {
  checkCertificates,
  checkOption,
  invalidOption,
  isHeaderRecord,
  isPemInput,
  isPositiveInteger,
  isProtocolList,
  isServerName,
  isTimeout,
  type PemInput,
  resolvePeerOptions,
  toPem,
} from './options.js';
import { emitOpenPeer, parseUrl } from './common.js';
import { type ConnectOptions as AnyPlatformConnectOptions, CONNECT_OPTION_KEYS } from './connectOptions.js';

/** Options of `connect()`. */
export interface ConnectOptions extends AnyPlatformConnectOptions {
  /**
   * `wss:` only: the certificate authorities to trust, PEM (a self-signed certificate is its own
   * CA). They replace Node's bundled roots for this connection; pass
   * `[...tls.rootCertificates, yourCa]` to trust both. Default: Node's roots (and
   * `NODE_EXTRA_CA_CERTS`). The server's certificate is always verified, whatever
   * `NODE_TLS_REJECT_UNAUTHORIZED` says.
   */
  ca?: PemInput;
}

/**
 * Opens a WebSocket connection. Cold: each subscription opens its own connection. Emits the
 * peer once it is open, then completes when the connection closes cleanly with 1000, or errors
 * when it cannot open (`WebSocketPeerError`) or ends any other way (`WebSocketCloseError`: another
 * code, clean or not, such as 1001 from a server that stops, or no closing handshake), so
 * `retry()` reconnects. Unsubscribing closes the connection with 1000, or aborts the handshake.
 *
 * ```ts
 * import { connect } from 'rx-websocket-peer';
 * import { switchMap } from 'rxjs';
 * connect('ws://127.0.0.1:8080', { protocols: ['chat'] })
 *   .pipe(switchMap((peer) => peer.packets$))
 *   .subscribe((packet) => console.log(packet.data));
 * ```
 * @param url a `ws:` or `wss:` URL. A `wss:` server's certificate is verified: a failure errors
 *   with `ERR_CONNECT_FAILED`, its `cause` with Node's TLS code (`DEPTH_ZERO_SELF_SIGNED_CERT`, say).
 * @param options see {@link ConnectOptions}; all optional.
 * @throws TypeError (`ERR_INVALID_URL`, `ERR_INVALID_OPTION`) synchronously, for a bad URL or option.
 */
export function connect(url: string | URL, options: ConnectOptions = {}): Observable<WebSocketPeer> {
  const target = parseUrl(url);
  checkOptionKeys('connect', options, CONNECT_OPTION_KEYS);
  const peerOptions = resolvePeerOptions('connect', options);
  const { headers, handshakeTimeout = DEFAULT_HANDSHAKE_TIMEOUT_MS, maxPayload = DEFAULT_MAX_PAYLOAD } = options;
  const { maxFragments = DEFAULT_MAX_FRAGMENTS, ca, servername } = options;
  const protocols = typeof options.protocols === 'string' ? [options.protocols] : options.protocols;
  checkOption('connect', 'protocols', protocols, isProtocolList, 'a token or an array of distinct tokens');
  checkOption('connect', 'headers', headers, isHeaderRecord, 'an object of header names to string values');
  checkOption('connect', 'handshakeTimeout', handshakeTimeout, isTimeout, 'a positive integer (ms) up to 2^31 - 1');
  checkOption('connect', 'maxPayload', maxPayload, isPositiveInteger, 'a positive integer (bytes)');
  checkOption('connect', 'maxFragments', maxFragments, isPositiveInteger, 'a positive integer');
  checkOption('connect', 'ca', ca, isPemInput, 'PEM certificates: a string, a Buffer or a non-empty array of them');
  checkOption('connect', 'servername', servername, isServerName, 'a DNS host name (not an IP address)');
  const secure = target.protocol === 'wss:';
  for (const [name, value] of [
    ['ca', ca],
    ['servername', servername],
  ] as const) {
    if (value !== undefined && !secure) {
      throw invalidOption('connect', `option '${name}' applies to wss: URLs only, and ${target.href} is ws:`);
    }
  }
  if (ca !== undefined) checkCertificates('connect', 'ca', ca);
  const tlsOptions = secure && {
    // Explicit, so that NODE_TLS_REJECT_UNAUTHORIZED=0 cannot turn verification off unseen.
    rejectUnauthorized: true,
    ...(ca !== undefined && { ca: toPem(ca) }),
    ...(servername !== undefined && { servername }),
  };

  const href = target.href;
  return new Observable<WebSocketPeer>((subscriber) => {
    const ws = new PeerSocket(href, protocols ?? [], {
      headers: headers ?? {},
      maxPayload,
      maxFragments,
      perMessageDeflate: false,
      ...tlsOptions,
    });
    // Nothing made here outlives the handshake but `opening`, which the subscriber keeps: an open
    // connection keeps neither this scope nor connect()'s (the options, the URL) alive.
    const opening = new Opening();
    opening.handshake = new ClientHandshake(ws, href, handshakeTimeout, peerOptions, subscriber, opening);
    return opening;
  });
}

/**
 * What a `connect()` subscription ends when unsubscribed: its peer once open, the handshake until
 * then. An object rather than a closure: the one thing an open client keeps of `connect()`.
 */
class Opening implements Unsubscribable {
  peer: WebSocketPeer | undefined = undefined;
  handshake: ClientHandshake | undefined = undefined;

  unsubscribe(): void {
    if (this.peer) this.peer.close();
    else this.handshake?.abort();
  }
}

/**
 * Follows the opening handshake of `ws` as its handler (no listeners, no closures): opens the
 * peer with the TCP socket and the response's headers, or errors `subscriber` with what went wrong.
 */
class ClientHandshake implements SocketHandler {
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
    private readonly peerOptions: ResolvedPeerOptions,
    private readonly subscriber: Subscriber<WebSocketPeer>,
    private readonly opening: Opening,
  ) {
    // Our own timer rather than ws's, so that fake clocks drive it and the error says what happened.
    this.timer = setTimeout(timeOut, handshakeTimeout, this);
    ws.handler = this;
  }

  /** The handshake took too long. */
  timeOut(): void {
    this.timedOut = true;
    this.ws.terminate();
  }

  /** Unsubscribed before the peer opened. */
  abort(): void {
    const ws = this.ws;
    if (ws.readyState !== PeerSocket.CONNECTING) return;
    this.done();
    // Aborting makes ws emit 'error' and 'close' on a socket nobody reads any more.
    ws.on('error', ignore);
    ws.terminate();
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
    this.done();
    const peer = new WebSocketPeer(
      new NodeTransport(this.ws, this.socket as Socket, { url: this.href, headers: this.responseHeaders }, true),
      this.peerOptions,
    );
    this.opening.peer = peer;
    emitOpenPeer(peer, this.subscriber);
  }

  /** ws's 'close' before 'open'. */
  closed(): void {
    this.done();
    const where = this.href;
    if (this.timedOut) {
      this.subscriber.error(
        new WebSocketPeerError(
          'ERR_HANDSHAKE_TIMEOUT',
          `Opening handshake with ${where} took over ${this.handshakeTimeout} ms`,
        ),
      );
    } else if (this.rejectedWith !== undefined) {
      this.subscriber.error(
        new WebSocketPeerError(
          'ERR_HANDSHAKE_REJECTED',
          `${where} answered the handshake with HTTP ${this.rejectedWith}`,
          { statusCode: this.rejectedWith },
        ),
      );
    } else {
      const lastError = this.lastError;
      const detail = lastError ? `: ${lastError.message}` : '';
      this.subscriber.error(
        new WebSocketPeerError('ERR_CONNECT_FAILED', `Could not connect to ${where}${detail}`, { cause: lastError }),
      );
    }
  }

  /** The handshake is over, one way or the other: let go of the timer, the socket and `opening`. */
  private done(): void {
    clearTimeout(this.timer);
    if (this.ws.handler === this) this.ws.handler = undefined;
    this.opening.handshake = undefined;
  }
}

function timeOut(handshake: ClientHandshake): void {
  handshake.timeOut();
}

function ignore(): void {}
