import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Server as TlsServer } from 'node:tls';
import { Observable, type Subscriber } from 'rxjs';
import { CloseCode, DEFAULT_MAX_FRAGMENTS, DEFAULT_MAX_PAYLOAD } from '../peer/constants.js';
import { Inbox } from '../internal/Inbox.js';
import { kWhenClosed } from '../internal/symbols.js';
import type { Transport } from '../peer/Transport.js';
import { refuseUpgrade, UpgradeServer, type UpgradeServerOptions } from '../transport/node/upgradeServer.js';
import type { CloseInfo } from '../peer/types.js';
import { checkOptionKeys } from '../internal/optionKeys.js';
import { type ResolvedPeerOptions, WebSocketPeer } from '../peer/WebSocketPeer.js';
import { argumentError, WebSocketPeerError } from '../errors/WebSocketPeerError.js';
import {
  checkOption,
  invalidOption,
  isBoolean,
  isHeaderRecord,
  isOriginList,
  isPemInput,
  isPositiveInteger,
  isProtocolList,
  isString,
  isTimeout,
  type PemInput,
  resolvePeerOptions,
  serverTlsOptions,
  type ServerTlsOptions,
} from './options.js';
import {
  type ListenOptions as AnyPlatformListenOptions,
  LISTEN_OPTION_KEYS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_SERVER_HANDSHAKE_TIMEOUT_MS,
} from './listenOptions.js';
import { PeerServer, type ServerLimits } from './PeerServer.js';
import { HandshakeDeadlines } from './handshakeDeadlines.js';
import { HttpStatus, UpgradePolicy } from './upgradePolicy.js';

/** Options of `listen()`. */
export interface ListenOptions extends AnyPlatformListenOptions {
  /**
   * An existing `http`/`https` server to attach to instead of listening ourselves (then `port` and
   * `host` are not allowed). Stopping leaves that server running.
   */
  server?: Server | HttpsServer;
  /**
   * TLS: the private key, PEM. With `cert`, `listen()` serves `wss:` on an `https` server of its
   * own. Not with `server` (attach to an `https.Server` instead).
   */
  key?: PemInput;
  /** TLS: the certificate, PEM; it may be a chain, the server's own certificate first. */
  cert?: PemInput;
}

const isPort = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 65535;
// A query or fragment never matches: requests are compared by their path alone.
const isPath = (value: unknown): value is string =>
  typeof value === 'string' && value.startsWith('/') && !value.includes('?') && !value.includes('#');
const isServer = (value: unknown): value is Server =>
  typeof value === 'object' && value !== null && typeof (value as Server).listen === 'function' && 'listening' in value;

/**
 * Listens for WebSocket connections. Emits one `PeerServer` once listening; its `peers$` emits
 * each peer as it opens. `PeerServer.stop()` is the graceful stop: every packet that arrived is
 * still delivered, then `listen()` completes. Unsubscribing is the abort: its peers are closed
 * with 1001 and the port is freed at once, and the pipeline's handlers are torn down with it, so
 * packets still on their way are not delivered. Errors with `WebSocketPeerError`
 * (`ERR_LISTEN_FAILED`) when it cannot bind, and completes if an attached `server` closes. Serves `wss:` with `key` and `cert`. Refuses upgrade
 * requests before upgrading, with an HTTP status: 404 off `path`, 403 from an origin not in
 * `origins`, 400 without one of `protocols` when `requireProtocol`, 503 past `maxConnections`.
 *
 * ```ts
 * import { listen } from 'rx-websocket-peer';
 * import { EMPTY, catchError, mergeMap, switchMap, tap } from 'rxjs';
 * // an echo server that stops gracefully on SIGTERM
 * listen({ port: 8080 }).pipe(
 *   tap((server) => process.once('SIGTERM', () => server.stop())),
 *   switchMap((server) => server.peers$),
 *   mergeMap((peer) => peer.packets$.pipe(tap(peer.sink), catchError(() => EMPTY))),
 * ).subscribe();
 * ```
 * @param options see {@link ListenOptions}; all optional.
 * @throws TypeError (`ERR_INVALID_OPTION`) synchronously, for a bad option.
 */
export function listen(options: ListenOptions = {}): Observable<PeerServer> {
  const setup = resolveListenOptions(options);
  return new Observable<PeerServer>((subscriber) => serve(setup, subscriber));
}

/** What `listen()` makes of its options, checked, defaults filled in: the same for every subscription. */
interface ListenSetup {
  readonly peerOptions: ResolvedPeerOptions;
  readonly port: number | undefined;
  readonly host: string | undefined;
  /** A server of the user's to attach to; otherwise `listen()` makes its own. */
  readonly server: Server | HttpsServer | undefined;
  /** For a server of its own: serve `wss:` with these. */
  readonly tls: ServerTlsOptions | undefined;
  readonly handshakeTimeout: number;
  readonly policy: UpgradePolicy;
  readonly upgrade: UpgradeServerOptions;
  readonly limits: ServerLimits;
}

/** @throws TypeError (`ERR_INVALID_OPTION`) for a bad option. */
function resolveListenOptions(options: ListenOptions): ListenSetup {
  checkOptionKeys('listen', options, LISTEN_OPTION_KEYS);
  const peerOptions = resolvePeerOptions('listen', options);
  const { port, host, path, server, protocols, headers, maxPayload = DEFAULT_MAX_PAYLOAD } = options;
  const { maxFragments = DEFAULT_MAX_FRAGMENTS } = options;
  const { requireProtocol = false, maxConnections = DEFAULT_MAX_CONNECTIONS, origins, requireOrigin = false } = options;
  const { handshakeTimeout = DEFAULT_SERVER_HANDSHAKE_TIMEOUT_MS, key, cert, passphrase } = options;
  checkOption('listen', 'port', port, isPort, 'an integer from 0 to 65535');
  checkOption('listen', 'host', host, isString, 'a string');
  checkOption('listen', 'path', path, isPath, "a path starting with '/', with no query or fragment");
  checkOption('listen', 'server', server, isServer, 'an http.Server or https.Server');
  checkOption('listen', 'protocols', protocols, isProtocolList, 'an array of distinct tokens');
  checkOption('listen', 'headers', headers, isHeaderRecord, 'an object of header names to string values');
  checkOption('listen', 'maxPayload', maxPayload, isPositiveInteger, 'a positive integer (bytes)');
  checkOption('listen', 'maxFragments', maxFragments, isPositiveInteger, 'a positive integer');
  checkOption('listen', 'requireProtocol', requireProtocol, isBoolean, 'a boolean');
  checkOption('listen', 'maxConnections', maxConnections, isPositiveInteger, 'a positive integer');
  checkOption('listen', 'handshakeTimeout', handshakeTimeout, isTimeout, 'a positive integer (ms) up to 2^31 - 1');
  checkOption('listen', 'origins', origins, isOriginList, "an array of origins ('https://example.com', no path)");
  checkOption('listen', 'requireOrigin', requireOrigin, isBoolean, 'a boolean');
  checkOption('listen', 'key', key, isPemInput, 'PEM: a string, a Buffer or a non-empty array of them');
  checkOption('listen', 'cert', cert, isPemInput, 'PEM: a string, a Buffer or a non-empty array of them');
  checkOption('listen', 'passphrase', passphrase, isString, 'a string');
  if (server && (port !== undefined || host !== undefined)) {
    throw argumentError(TypeError, 'ERR_INVALID_OPTION', "listen(): give either 'server' or 'port'/'host', not both");
  }
  for (const name of ['key', 'cert', 'passphrase', 'handshakeTimeout'] as const) {
    if (server && options[name] !== undefined) {
      const instead = name === 'handshakeTimeout' ? 'set headersTimeout on that server' : 'attach to an https.Server';
      throw invalidOption('listen', `option '${name}' is for the server listen() makes, not with 'server': ${instead}`);
    }
  }
  if ((key === undefined) !== (cert === undefined)) {
    throw invalidOption('listen', "options 'key' and 'cert' go together");
  }
  if (passphrase !== undefined && key === undefined) {
    throw invalidOption('listen', "option 'passphrase' is for an encrypted 'key'");
  }
  if (requireProtocol && protocols === undefined) {
    throw invalidOption('listen', "option 'requireProtocol' needs 'protocols'");
  }
  // Checked here: a key that does not fit its certificate, or a wrong passphrase, throws now.
  const tls =
    key !== undefined && cert !== undefined ? serverTlsOptions('listen', { key, cert, passphrase }) : undefined;
  return {
    peerOptions,
    port,
    host,
    server,
    tls,
    handshakeTimeout,
    policy: new UpgradePolicy({ path, origins, requireOrigin, protocols, requireProtocol, maxConnections }),
    upgrade: { protocols, headers, maxPayload, maxFragments },
    limits: { maxConnections, maxPayload, maxFragments, handshakeTimeout: server ? undefined : handshakeTimeout },
  };
}

/** The server `listen()` makes when not given one: `http`, or `https` with `tls`. */
function ownServer({ tls, handshakeTimeout }: ListenSetup): Server | HttpsServer {
  const onRequest = (_request: IncomingMessage, response: ServerResponse): void => {
    response.writeHead(HttpStatus.UpgradeRequired, { Upgrade: 'websocket', 'Content-Type': 'text/plain' });
    response.end('This is a WebSocket endpoint.\n');
  };
  // Our own timer (HandshakeDeadlines) holds the deadline. Node's two (60 s and 300 s by
  // default, checked every 30 s) are set to the same value, so that neither cuts a longer
  // handshakeTimeout short.
  const timeouts = { headersTimeout: handshakeTimeout, requestTimeout: handshakeTimeout };
  return tls
    ? createHttpsServer({ ...timeouts, ...tls, handshakeTimeout }, onRequest)
    : createServer(timeouts, onRequest);
}

/**
 * One subscription of `listen()`: the server's life, from listening to its teardown. The upgrade
 * policy judges each request, the upgrade server completes those it accepts, the deadlines drop
 * connections that never ask; this emits the server, keeps its live peers, stops it gracefully
 * (`stop()`) and tears it all down when unsubscribed. Returns the teardown.
 */
function serve(setup: ListenSetup, subscriber: Subscriber<PeerServer>): () => void {
  const { server, tls, handshakeTimeout, policy, limits, peerOptions } = setup;
  const httpServer = server ?? ownServer(setup);
  const upgrades = new UpgradeServer(setup.upgrade);
  // Only our own server's connections: a server of yours keeps its own timeouts.
  const deadlines = server ? undefined : new HandshakeDeadlines(handshakeTimeout, tls !== undefined);
  const inbox = new Inbox<WebSocketPeer>();
  const live = new Set<WebSocketPeer>();
  /** Torn down: unsubscribed, or ended. */
  let stopped = false;
  /** `stop()` was called: the code and reason every peer is closed with. */
  let stopping: { code: number; reason: string } | undefined;

  const onConnection = (socket: Socket): void => deadlines?.start(socket);
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (!policy.isOnPath(request)) {
      // Another handler on a shared server may own that path.
      if (httpServer.listenerCount('upgrade') === 1) refuseUpgrade(socket, HttpStatus.NotFound);
      return;
    }
    const refusal = policy.refusalOf(request, live.size, stopping !== undefined);
    if (refusal !== undefined) refuseUpgrade(socket, refusal);
    else upgrades.upgrade(request, socket, head, accept);
  };
  // Apart from onUpgrade: what a peer keeps alive must not include the request.
  const forgetPeer = (_info: CloseInfo, peer: WebSocketPeer): void => {
    live.delete(peer);
    if (stopping !== undefined && live.size === 0) stopDone();
  };
  const accept = (transport: Transport, socket: Socket): void => {
    deadlines?.done(socket);
    const peer = new WebSocketPeer(transport, peerOptions);
    // An upgrade that was under way when the server stopped.
    if (stopped || stopping !== undefined) {
      peer.close(stopping?.code ?? CloseCode.GoingAway, stopping?.reason);
      return;
    }
    live.add(peer);
    peer[kWhenClosed](forgetPeer);
    inbox.put(peer, 1);
  };
  const onListening = (): void => {
    httpServer.off('error', onListenError);
    httpServer.on('error', onServerError);
    const address = httpServer.address();
    const where =
      typeof address === 'string' || address === null
        ? { host: address ?? '', port: 0 }
        : { host: address.address, port: address.port };
    const secure = tls !== undefined || httpServer instanceof TlsServer;
    subscriber.next(new PeerServer(where.host, where.port, inbox.observable, secure, limits, stop));
  };
  /** `PeerServer.stop()`: refuse new connections, close the peers, and end once they have closed. */
  const stop = (code: number, reason: string): void => {
    if (stopped || stopping !== undefined) return;
    stopping = { code, reason };
    // No new TCP connections; 'close' comes once every connection, upgraded or not, is gone.
    if (!server) httpServer.close();
    // Closing a peer may close another synchronously (a handler that closes): a copy to walk.
    for (const peer of [...live]) peer.close(code, reason);
    if (live.size === 0) stopDone();
  };
  /**
   * The last peer of a `stop()` has closed: `peers$` completes, handshakes still under way go,
   * and `listen()` completes (its own server stopped listening when `stop()` began).
   */
  const stopDone = (): void => {
    inbox.end();
    deadlines?.dropAll();
    subscriber.complete();
  };
  const onListenError = (error: Error): void => {
    subscriber.error(
      new WebSocketPeerError('ERR_LISTEN_FAILED', `Could not listen: ${error.message}`, { cause: error }),
    );
  };
  const onServerError = (error: Error): void => {
    subscriber.error(
      new WebSocketPeerError('ERR_LISTEN_FAILED', `The server failed: ${error.message}`, { cause: error }),
    );
  };
  const onServerClose = (): void => {
    subscriber.complete();
  };

  httpServer.on('upgrade', onUpgrade);
  httpServer.on('close', onServerClose);
  if (!server) httpServer.on('connection', onConnection);
  if (server?.listening) {
    onListening();
  } else {
    httpServer.once('listening', onListening);
    httpServer.once('error', onListenError);
    if (!server) httpServer.listen(setup.port ?? 0, setup.host);
  }

  return () => {
    stopped = true;
    httpServer.off('upgrade', onUpgrade);
    httpServer.off('close', onServerClose);
    httpServer.off('listening', onListening);
    httpServer.off('error', onListenError);
    httpServer.off('error', onServerError);
    httpServer.off('connection', onConnection);
    // Half-done handshakes go with the server, and their timer with the last of them.
    deadlines?.dropAll();
    for (const peer of live) peer.close(CloseCode.GoingAway);
    inbox.end();
    upgrades.close();
    if (!server && httpServer.listening) httpServer.close();
  };
}
