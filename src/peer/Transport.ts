import type { HandshakeInfo, Packet } from './types.js';

/** @internal The keys of the {@link TransportHandlers} methods. */
export const kOnMessage: unique symbol = Symbol('rx-websocket-peer.onMessage');
export const kOnClosing: unique symbol = Symbol('rx-websocket-peer.onClosing');
export const kOnClose: unique symbol = Symbol('rx-websocket-peer.onClose');
export const kOnError: unique symbol = Symbol('rx-websocket-peer.onError');
export const kOnWritten: unique symbol = Symbol('rx-websocket-peer.onWritten');
export const kOnAlive: unique symbol = Symbol('rx-websocket-peer.onAlive');

/**
 * @internal What a transport tells its peer: methods of the peer itself, under symbols, so that a
 * peer costs no handler closures. The transport calls `[kOnClosing]` once when a closing
 * handshake starts (from either side), then `[kOnClose]` once when the connection is gone, and
 * calls nothing after that: by then it has removed every listener it put on its socket.
 */
export interface TransportHandlers {
  /** One inbound message and the size of its payload in bytes. */
  [kOnMessage](packet: Packet, byteLength: number): void;
  [kOnClosing](code: number, reason: string): void;
  [kOnClose](code: number, reason: string, wasClean: boolean): void;
  [kOnError](error: Error): void;
  /**
   * The OS has taken all bytes of the oldest message given to `send()` that was not reported
   * yet (or never will take them: the connection is gone). Called once per message, in order,
   * never synchronously from `send()`.
   */
  [kOnWritten](): void;
  /**
   * Bytes of some frame came from the other side: a pong, a message or part of one, anything.
   * Called only when `bind()` was asked to watch for it (a peer with a heartbeat, as its proof of
   * life), once per network read, so it must stay cheap.
   */
  [kOnAlive](): void;
}

/**
 * @internal One message framed once, for every transport that can write the frame as it is
 * (`Transport.sendFrame()`).
 */
export interface SharedFrame {
  /** The size of the payload in bytes (a text's UTF-8 length), what `send()` would count. */
  readonly payloadLength: number;
  /** The whole frame, made on the first call; every call gives the same bytes, never changed. */
  bytes(): Uint8Array;
}

/**
 * @internal The one seam between `WebSocketPeer` and a WebSocket implementation: `ws` in Node
 * (`src/transport/node`), the browser's `WebSocket` there (`src/transport/browser`). This is its
 * side for an open connection; opening one is the other side, `src/transport/Handshake.ts`, which
 * hands over a transport open and not yet bound. The peer knows no more than this interface, and
 * only `src/transport/node` imports `ws`.
 *
 * Call order: whoever gets an open transport binds it (makes its peer) before returning to the
 * event loop: no handler exists to hear what arrives before `bind()`, which is called once. Only
 * the fields and `setNoDelay()` come before it. Once the transport has called `[kOnClose]` (see
 * `TransportHandlers`), `close()` and `terminate()` do nothing.
 */
export interface Transport {
  /**
   * The close codes `close()` can send: `'all'` that RFC 6455 §7.4 lets an endpoint send
   * (1000-1003, 1007-1014, 3000-4999), or only `'application'` ones, 1000 and 3000-4999, which is
   * all the browser's `WebSocket` sends (WHATWG WebSockets). The peer refuses the others, and its
   * `sink.error()` closes with 1011 (internal error) where it can be sent, else with 4011.
   */
  readonly closeCodes: 'all' | 'application';
  /** The subprotocol the server selected, `''` when none. */
  readonly protocol: string;
  /** The other side's address; `undefined` where the platform does not tell it. */
  readonly remoteHost: string | undefined;
  readonly remotePort: number | undefined;
  readonly handshake: HandshakeInfo;
  /** Starts delivering events; called once, by the peer. `watchAlive`: call `[kOnAlive]` too. */
  bind(handlers: TransportHandlers, watchAlive: boolean): void;
  /**
   * Sends one message as a text (`asText`) or binary frame. Returns how many of its payload
   * bytes the OS has not taken yet: 0 when it took the whole frame at once, as it does while its
   * socket buffer has room. `[kOnWritten]` follows once the OS has all of them.
   */
  send(data: string | Uint8Array, asText: boolean): number;
  /**
   * Writes one message that was framed once for many connections (`broadcast()`): `frame.bytes()`
   * is the whole frame as a server sends it (RFC 6455 §5.2: FIN, opcode, payload length, no
   * mask, then the payload), the same bytes for every transport that takes it. The transport
   * asks for them only once it knows it writes them, may hold them until the OS has them, and
   * never changes them. Everything else is as for `send()` with that payload: the same return
   * value, `[kOnWritten]` once for the message, and the same place in order among the messages
   * given to `send()`.
   *
   * Returns `undefined`, having written nothing, where a frame made for others cannot go out as
   * it is: the caller then sends the payload with `send()`, with the same result. That is a
   * client's connection (its frames are masked, each with a key of its own: RFC 6455 §5.3), one
   * with an extension that rewrites frames or makes them wait (permessage-deflate; we negotiate
   * none), and one that is no longer open. Absent where the platform frames every message itself
   * (the browser's `WebSocket`).
   */
  sendFrame?(frame: SharedFrame): number | undefined;
  /**
   * Whether the connection still takes messages, for a platform that does not report the start
   * of a closing handshake (the browser): `false` once the other side's close frame has come.
   */
  isOpen?(): boolean;
  /** Bytes of frames (headers too) handed to `send()` that the OS has not taken yet. */
  queuedBytes(): number;
  /** Starts the closing handshake with an already validated code and reason. */
  close(code: number, reason: string): void;
  /** Stops reading from the network until `resume()`; absent where the platform cannot. */
  pause?(): void;
  resume?(): void;
  /** Absent where the platform has no socket options. */
  setNoDelay?(enabled: boolean): void;
  /**
   * Sends a ping with an empty payload; the other side answers with a pong (RFC 6455 §5.5.2).
   * Absent where the platform cannot send pings (the browser's `WebSocket` has no API for them):
   * a peer there refuses the `heartbeatInterval` option.
   */
  ping?(): void;
  /**
   * Ends the connection at once, without a closing handshake, for when the other side no longer
   * answers; the transport then calls `close` with 1006, not clean.
   */
  terminate(): void;
}
