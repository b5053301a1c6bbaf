// The options of listen() as both entries declare them: the browser entry exports the type
// (its listen() throws), so it names no Node module and no Node type, and its declarations compile
// without @types/node. listen.ts narrows `server`, `key` and `cert` to Node's own types.
import { optionKeys } from '../internal/optionKeys.js';
import { PEER_OPTION_KEYS, type PeerOptions } from '../peer/WebSocketPeer.js';
import type { PemInput } from './common.js';

/**
 * @internal `listen()`: the time a connection has, from its TCP accept, to finish its TLS
 * handshake and send a complete upgrade request; then it is dropped.
 */
export const DEFAULT_SERVER_HANDSHAKE_TIMEOUT_MS = 10_000;

/** @internal `listen()`: live peers at once, then upgrades get 503 (DESIGN.md: at least 10,000). */
export const DEFAULT_MAX_CONNECTIONS = 10_000;

/**
 * An `http.Server` or `https.Server`, as far as a type without Node's can tell one: what
 * `listen()` checks at run time.
 */
export interface HttpServerLike {
  readonly listening: boolean;
  listen(...args: never[]): unknown;
}

/** Options of `listen()`, which is Node only: in the browser it throws `ERR_NOT_SUPPORTED`. */
export interface ListenOptions extends PeerOptions {
  /** The port to listen on; 0 (the default) lets the OS choose, and `PeerServer.port` tells. */
  port?: number;
  /** The address to bind; by default all interfaces, as Node's `http` server does. */
  host?: string;
  /** Accept upgrades only on this path (query ignored); others are answered 404. Default: any path. */
  path?: string;
  /**
   * An existing `http`/`https` server to attach to instead of listening ourselves (then `port` and
   * `host` are not allowed). Stopping leaves that server running.
   */
  server?: HttpServerLike;
  /**
   * Subprotocols we speak, in our order of preference: the first of them a client offers is
   * selected. A client that offers none of them is accepted without a subprotocol, unless
   * `requireProtocol`. Default: the first one the client offers.
   */
  protocols?: string[];
  /**
   * With `protocols`: answer 400 to an upgrade request that offers none of them (or no
   * subprotocol at all), instead of accepting it without one. Default `false`.
   */
  requireProtocol?: boolean;
  /** Extra HTTP headers for the handshake response. */
  headers?: Record<string, string>;
  /** The largest message accepted, in bytes; a larger one closes the connection with 1009. Default 100 MiB. */
  maxPayload?: number;
  /**
   * The most frames an inbound message may come in (a message and its continuation frames);
   * more close the connection with 1008. Each fragment costs about 110 bytes until the message
   * is whole. Default 16,384, as in `ws`.
   */
  maxFragments?: number;
  /**
   * The most peers open at once (those of this `listen()`, until their `closed$`); further upgrade
   * requests are answered 503 until one has closed. Default 10,000.
   */
  maxConnections?: number;
  /**
   * Milliseconds a connection has, from its TCP accept, to finish its TLS handshake and send a
   * complete upgrade request; then it is destroyed. Only on the server `listen()` makes: with
   * `server`, that server's `headersTimeout`/`requestTimeout` apply. Default 10,000.
   */
  handshakeTimeout?: number;
  /**
   * The origins browsers may connect from, as they send them (`'https://example.com'`,
   * `'http://localhost:4200'`); a request with another `Origin` is answered 403. A request with
   * none (Node and other non-browser clients send none) passes unless `requireOrigin`. Default:
   * any origin.
   */
  origins?: string[];
  /** Answer 403 to an upgrade request without an `Origin` header. Default `false`. */
  requireOrigin?: boolean;
  /**
   * TLS: the private key, PEM. With `cert`, `listen()` serves `wss:` on an `https` server of its
   * own. Not with `server` (attach to an `https.Server` instead).
   */
  key?: PemInput;
  /** TLS: the certificate, PEM; it may be a chain, the server's own certificate first. */
  cert?: PemInput;
  /** TLS: the passphrase of an encrypted `key`. */
  passphrase?: string;
}

/** @internal The keys `listen()` knows. */
export const LISTEN_OPTION_KEYS = optionKeys<ListenOptions, keyof PeerOptions>(
  {
    port: true,
    host: true,
    path: true,
    server: true,
    protocols: true,
    requireProtocol: true,
    headers: true,
    maxPayload: true,
    maxFragments: true,
    maxConnections: true,
    handshakeTimeout: true,
    origins: true,
    requireOrigin: true,
    key: true,
    cert: true,
    passphrase: true,
  },
  PEER_OPTION_KEYS,
);
