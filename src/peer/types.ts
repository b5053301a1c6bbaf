/** Where a peer is in its life: `'connecting'` -> `'open'` -> `'closing'` -> `'closed'`. */
export type PeerState = 'connecting' | 'open' | 'closing' | 'closed';

/** One inbound message: text arrives as a `string`, binary as a `Uint8Array`. */
export type Packet =
  { readonly isString: true; readonly data: string } | { readonly isString: false; readonly data: Uint8Array };

/** What `sink.next()` and `putPacket()` accept: a `Packet` goes as its own kind. */
export type OutboundData = string | Uint8Array | ArrayBuffer | ArrayBufferView | Packet;

/** How a connection ended: defined beside `WebSocketCloseError`, which carries one. */
export type { CloseInfo } from '../errors/WebSocketCloseError.js';

/** The opening handshake as this side saw it. */
export interface HandshakeInfo {
  /** The URL: for a client the one it connected to, for a server peer the request's path and query. */
  readonly url: string;
  /** The other side's HTTP headers (lower-case names): the response's for a client, the request's for a server peer. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}
