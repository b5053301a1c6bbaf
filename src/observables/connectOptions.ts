// The options of connect(), on every platform: the browser's connect() and reconnecting() check
// keys against the same list as Node's. It names no Node module and no Node type, so that the
// browser entry's declarations compile without @types/node; connect.ts narrows `ca` for Node.
import { optionKeys } from '../internal/optionKeys.js';
import { PEER_OPTION_KEYS, type PeerOptions } from '../peer/WebSocketPeer.js';
import type { PemInput } from './common.js';

/** Options of `connect()`. In the browser, those a page cannot honour throw `ERR_NOT_SUPPORTED`. */
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
   * The most frames an inbound message may come in (a message and its continuation frames);
   * more close the connection with 1008. Each fragment costs about 110 bytes until the message
   * is whole. Default 16,384, as in `ws`.
   */
  maxFragments?: number;
  /** `wss:` in Node only: the certificate authorities to trust, PEM (see the Node entry's `ConnectOptions`). */
  ca?: PemInput;
  /**
   * `wss:` only: the host name to send in TLS SNI and to check the server's certificate against,
   * when it is not the URL's host (a URL with an IP address, say). Default: the URL's host.
   */
  servername?: string;
}

/** @internal The keys `connect()` knows, on every platform (the browser refuses some of them). */
export const CONNECT_OPTION_KEYS = optionKeys<ConnectOptions, keyof PeerOptions>(
  {
    protocols: true,
    headers: true,
    handshakeTimeout: true,
    maxPayload: true,
    maxFragments: true,
    ca: true,
    servername: true,
  },
  PEER_OPTION_KEYS,
);
