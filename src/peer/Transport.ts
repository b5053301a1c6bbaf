import type { HandshakeInfo, Packet } from './types.js';

/**
 * @internal What a transport tells its peer. The transport calls `closing` once when a closing
 * handshake starts (from either side), then `close` once when the connection is gone, and calls
 * nothing after `close`: by then it has removed every listener it put on its socket.
 */
export interface TransportHandlers {
  /** One inbound message and the size of its payload in bytes. */
  message(packet: Packet, byteLength: number): void;
  closing(code: number, reason: string): void;
  close(code: number, reason: string, wasClean: boolean): void;
  error(error: Error): void;
  /**
   * Bytes of some frame came from the other side: a pong, a message or part of one, anything.
   * Given only by a peer with a heartbeat, as its proof of life; called once per network read,
   * so it must stay cheap.
   */
  alive?(): void;
}

/**
 * @internal The one seam between `WebSocketPeer` and a WebSocket implementation: `ws` in Node,
 * the browser's `WebSocket` there. Nothing above `src/peer` knows which one it has.
 */
export interface Transport {
  /**
   * `'browser'` where the browser's `WebSocket` limits what a peer can do: it sends only the
   * close codes 1000 and 3000-4999, and tells no address, takes no socket option, cannot stop
   * reading nor send pings.
   */
  readonly platform: 'node' | 'browser';
  /** The subprotocol the server selected, `''` when none. */
  readonly protocol: string;
  /** The other side's address; `undefined` where the platform does not tell it. */
  readonly remoteHost: string | undefined;
  readonly remotePort: number | undefined;
  readonly handshake: HandshakeInfo;
  /** Starts delivering events; called once, by the peer. */
  bind(handlers: TransportHandlers): void;
  /**
   * Sends one message as a text (`asText`) or binary frame. Returns how many of its payload
   * bytes the OS has not taken yet: 0 when it took the whole frame at once, as it does while its
   * socket buffer has room. `done` is called, never synchronously, once the OS has all of them
   * (or never will: the connection is gone).
   */
  send(data: string | Uint8Array, asText: boolean, done: () => void): number;
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
