import { Observable, type Subscriber, type Unsubscribable } from 'rxjs';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_MAX_FRAGMENTS, DEFAULT_MAX_PAYLOAD } from '../peer/constants.js';
import { type ClientHandshakeOptions, clientHandshake } from '../transport/node/clientHandshake.js';
import { checkOptionKeys } from '../internal/optionKeys.js';
import type { Transport } from '../peer/Transport.js';
import { type ResolvedPeerOptions, WebSocketPeer } from '../peer/WebSocketPeer.js';
import type { Handshake, HandshakeError, HandshakeHandler } from '../transport/Handshake.js';
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
  const handshakeOptions: ClientHandshakeOptions = {
    protocols: protocols ?? [],
    headers: headers ?? {},
    maxPayload,
    maxFragments,
    handshakeTimeout,
    ...(secure && {
      tls: {
        // Explicit, so that NODE_TLS_REJECT_UNAUTHORIZED=0 cannot turn verification off unseen.
        rejectUnauthorized: true,
        ...(ca !== undefined && { ca: toPem(ca) }),
        ...(servername !== undefined && { servername }),
      },
    }),
  };

  const href = target.href;
  return new Observable<WebSocketPeer>((subscriber) => {
    // Nothing made here outlives the handshake but `opening`, which the subscriber keeps: an open
    // connection keeps neither this scope nor connect()'s (the options, the URL) alive.
    const opening = new Opening();
    opening.handshake = clientHandshake(href, handshakeOptions, new PeerOpener(subscriber, peerOptions, opening));
    return opening;
  });
}

/**
 * What a `connect()` subscription ends when unsubscribed: its peer once open, the handshake until
 * then. An object rather than a closure: the one thing an open client keeps of `connect()`.
 */
class Opening implements Unsubscribable {
  peer: WebSocketPeer | undefined = undefined;
  handshake: Handshake | undefined = undefined;

  unsubscribe(): void {
    if (this.peer) this.peer.close();
    else this.handshake?.abort();
  }
}

/**
 * What a `connect()` subscription does with the end of its handshake: makes the peer and emits
 * it, or errors. It lives as long as the handshake, which lets go of it when it reports.
 */
class PeerOpener implements HandshakeHandler {
  constructor(
    private readonly subscriber: Subscriber<WebSocketPeer>,
    private readonly peerOptions: ResolvedPeerOptions,
    private readonly opening: Opening,
  ) {}

  opened(transport: Transport): void {
    const opening = this.opening;
    opening.handshake = undefined;
    const peer = new WebSocketPeer(transport, this.peerOptions);
    opening.peer = peer;
    emitOpenPeer(peer, this.subscriber);
  }

  failed(error: HandshakeError): void {
    this.opening.handshake = undefined;
    this.subscriber.error(error);
  }
}
