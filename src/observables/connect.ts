import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { Observable, type Subscriber } from 'rxjs';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_MAX_PAYLOAD } from '../peer/constants.js';
import { NodeTransport, PeerSocket } from '../peer/NodeTransport.js';
import { type PeerOptions, type ResolvedPeerOptions, WebSocketPeer } from '../peer/WebSocketPeer.js';
import { WebSocketPeerError } from '../peer/WebSocketPeerError.js';
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

/** Options of `connect()`. */
export interface ConnectOptions extends PeerOptions {
  /** Subprotocols to offer, in order of preference; `peer.getSelectedProtocol()` tells which one the server chose. */
  protocols?: string | string[];
  /** Extra HTTP headers for the opening handshake request (an `Authorization` token, say). */
  headers?: Record<string, string>;
  /** Milliseconds the opening handshake may take before `ERR_HANDSHAKE_TIMEOUT`. Default 10,000. */
  handshakeTimeout?: number;
  /** The largest message accepted, in bytes; a larger one closes the connection with 1009. Default 100 MiB. */
  maxPayload?: number;
  /**
   * `wss:` only: the certificate authorities to trust, PEM (a self-signed certificate is its own
   * CA). They replace Node's bundled roots for this connection; pass
   * `[...tls.rootCertificates, yourCa]` to trust both. Default: Node's roots (and
   * `NODE_EXTRA_CA_CERTS`). The server's certificate is always verified, whatever
   * `NODE_TLS_REJECT_UNAUTHORIZED` says.
   */
  ca?: PemInput;
  /**
   * `wss:` only: the host name to send in TLS SNI and to check the server's certificate against,
   * when it is not the URL's host (a URL with an IP address, say). Default: the URL's host.
   */
  servername?: string;
}

/**
 * Opens a WebSocket connection. Cold: each subscription opens its own connection. Emits the
 * peer once it is open, then completes when the connection closes cleanly, or errors when it
 * cannot open (`WebSocketPeerError`) or closes abnormally (`WebSocketCloseError`), so `retry()`
 * reconnects. Unsubscribing closes the connection with 1000, or aborts the handshake.
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
  const peerOptions = resolvePeerOptions('connect', options);
  const { headers, handshakeTimeout = DEFAULT_HANDSHAKE_TIMEOUT_MS, maxPayload = DEFAULT_MAX_PAYLOAD } = options;
  const { ca, servername } = options;
  const protocols = typeof options.protocols === 'string' ? [options.protocols] : options.protocols;
  checkOption('connect', 'protocols', protocols, isProtocolList, 'a token or an array of distinct tokens');
  checkOption('connect', 'headers', headers, isHeaderRecord, 'an object of header names to string values');
  checkOption('connect', 'handshakeTimeout', handshakeTimeout, isTimeout, 'a positive integer (ms) up to 2^31 - 1');
  checkOption('connect', 'maxPayload', maxPayload, isPositiveInteger, 'a positive integer (bytes)');
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
      perMessageDeflate: false,
      ...tlsOptions,
    });
    // Each closure that outlives the handshake is made by a function of its own, so that an open
    // connection keeps neither this scope nor connect()'s (the options, the URL) alive: only
    // `opening`. The handshake's listeners and timer are let go once the peer is open.
    const opening: Opening = { peer: undefined, abort: undefined };
    opening.abort = awaitOpen(
      ws,
      href,
      handshakeTimeout,
      subscriber,
      openPeer(opening, ws, href, peerOptions, subscriber),
    );
    return teardownOf(opening);
  });
}

/** A `connect()` subscription: its peer once open, or how to abort the handshake until then. */
interface Opening {
  peer: WebSocketPeer | undefined;
  abort: (() => void) | undefined;
}

function openPeer(
  opening: Opening,
  ws: PeerSocket,
  href: string,
  peerOptions: ResolvedPeerOptions,
  subscriber: Subscriber<WebSocketPeer>,
): (socket: Socket, headers: IncomingMessage['headers']) => void {
  return (socket, headers) => {
    opening.abort = undefined;
    opening.peer = new WebSocketPeer(new NodeTransport(ws, socket, { url: href, headers }, true), peerOptions);
    emitOpenPeer(opening.peer, subscriber);
  };
}

function teardownOf(opening: Opening): () => void {
  return () => {
    if (opening.peer) opening.peer.close();
    else opening.abort?.();
  };
}

/**
 * Follows the opening handshake of `ws`: calls `onOpen` with the TCP socket and the response's
 * headers, or errors `subscriber` with what went wrong. Returns the function that aborts it.
 */
function awaitOpen(
  ws: PeerSocket,
  href: string,
  handshakeTimeout: number,
  subscriber: Subscriber<WebSocketPeer>,
  onOpen: (socket: Socket, headers: IncomingMessage['headers']) => void,
): () => void {
  let socket: Socket | undefined;
  let responseHeaders: IncomingMessage['headers'] = {};
  let rejectedWith: number | undefined;
  let timedOut = false;
  let lastError: Error | undefined;

  // Our own timer rather than ws's, so that fake clocks drive it and the error says what happened.
  const timer = setTimeout(() => {
    timedOut = true;
    ws.terminate();
  }, handshakeTimeout);

  const onUpgrade = (response: IncomingMessage): void => {
    socket = response.socket as Socket;
    responseHeaders = response.headers;
  };
  const onUnexpectedResponse = (_request: ClientRequest, response: IncomingMessage): void => {
    rejectedWith = response.statusCode;
    response.resume();
    ws.terminate();
  };
  const onError = (error: Error): void => {
    lastError = error;
  };
  const removeListeners = (): void => {
    clearTimeout(timer);
    ws.off('upgrade', onUpgrade);
    ws.off('unexpected-response', onUnexpectedResponse);
    ws.off('open', onOpened);
    ws.off('error', onError);
    ws.off('close', onCloseBeforeOpen);
  };
  const onOpened = (): void => {
    removeListeners();
    onOpen(socket as Socket, responseHeaders);
  };
  const onCloseBeforeOpen = (): void => {
    removeListeners();
    const where = href;
    if (timedOut) {
      subscriber.error(
        new WebSocketPeerError(
          'ERR_HANDSHAKE_TIMEOUT',
          `Opening handshake with ${where} took over ${handshakeTimeout} ms`,
        ),
      );
    } else if (rejectedWith !== undefined) {
      subscriber.error(
        new WebSocketPeerError('ERR_HANDSHAKE_REJECTED', `${where} answered the handshake with HTTP ${rejectedWith}`, {
          statusCode: rejectedWith,
        }),
      );
    } else {
      const detail = lastError ? `: ${lastError.message}` : '';
      subscriber.error(
        new WebSocketPeerError('ERR_CONNECT_FAILED', `Could not connect to ${where}${detail}`, { cause: lastError }),
      );
    }
  };

  ws.on('upgrade', onUpgrade);
  ws.on('unexpected-response', onUnexpectedResponse);
  ws.on('open', onOpened);
  ws.on('error', onError);
  ws.on('close', onCloseBeforeOpen);

  return () => {
    if (ws.readyState !== PeerSocket.CONNECTING) return;
    removeListeners();
    // Aborting makes ws emit 'error' and 'close' on a socket nobody reads any more.
    ws.on('error', () => {});
    ws.terminate();
  };
}
