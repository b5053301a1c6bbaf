/**
 * How `sink.next()` and `putPacket()` send strings and bytes: the seed's `WriteMode`, same values.
 *
 * ```ts
 * import { WriteMode } from 'rx-websocket-peer';
 * peer.setWriteMode(WriteMode.Binary);
 * ```
 */
export enum WriteMode {
  /** Text frames; their payload must be valid UTF-8. */
  Text = 0,
  /** Binary frames; any bytes, strings as their UTF-8 encoding. */
  Binary = 1,
}

/**
 * Named WebSocket close codes (RFC 6455 §7.4.1 and the IANA registry).
 *
 * ```ts
 * import { CloseCode } from 'rx-websocket-peer';
 * peer.close(CloseCode.GoingAway, 'maintenance');
 * ```
 */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  /** Reserved: never sent; reported when a close frame carried no code. */
  NoStatus: 1005,
  /** Reserved: never sent; reported when the connection ended without a close frame. */
  Abnormal: 1006,
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  MandatoryExtension: 1010,
  InternalError: 1011,
  ServiceRestart: 1012,
  TryAgainLater: 1013,
  BadGateway: 1014,
  /**
   * What `sink.error()` closes with in the browser, whose `WebSocket` sends no 1011: 4011, in the
   * range left to applications (RFC 6455 §7.4.2), read as "internal error".
   */
  BrowserInternalError: 4011,
} as const;

/** @internal RFC 6455 §5.5: a control frame payload is at most 125 bytes, 2 of them the code. */
export const MAX_CLOSE_REASON_BYTES = 123;

/**
 * @internal Inbound queue bounds (DESIGN.md): past either one the peer stops reading, and it reads
 * again at half of both. 4,096 packets bound a flood of small messages (a few hundred bytes of
 * objects each); the byte bound is the one that matters for memory.
 */
export const DEFAULT_MAX_QUEUED_PACKETS = 4096;
/**
 * @internal 2 MiB, so that a receiver stays within 64 MiB over idle however fast the other side
 * sends (DESIGN.md; `npm run bench:memory` case 3: +37 to +45 MiB), and loses no speed. What a
 * receiver's RSS holds is mostly the garbage of packets already handled: each 64 KiB packet
 * brings about twice its size in ArrayBuffers (the socket reads and the message `ws` assembles
 * from them), and V8 frees young ones at its next scavenge, which it runs about every 32 MiB of
 * new ArrayBuffers. A packet that waits in the queue across two scavenges is promoted to old
 * space, and its buffers wait for a full GC, which V8 starts only after external memory has
 * grown by about 64 MiB: with the former 16 MiB, a packet waited about that long, and case 3
 * measured +72 to +88 MiB (8 MiB: +50 to +55; 4 MiB: +43 to +49; 2 MiB: +37 to +45; 1 MiB
 * down to 64 KiB: +34 to +40, the floor of young garbage). Not less than 2 MiB: that is what
 * Node reads from a socket in one turn of the event loop (libuv: up to 32 reads of 64 KiB), so a
 * consumer that takes what waits once a turn gets as much per turn as with no bound; with 1 MiB
 * it got half, and a `getPacket()` loop measured 4-9% fewer large messages per CPU-second.
 * Godot keeps 64 KiB (`inbound_buffer_size`), in C++ and without a garbage collector.
 */
export const DEFAULT_MAX_QUEUED_BYTES = 2 * 1024 * 1024;

/** @internal ws's own default, which keeps 10,000 connections within reach of one process. */
export const DEFAULT_MAX_PAYLOAD = 100 * 1024 * 1024;

/**
 * @internal ws's own default: the most frames one message may come in. Until the message is
 * whole, each fragment costs about 110 bytes of heap besides its payload, so 1-byte fragments
 * would make a message of `maxPayload` (100 MiB) cost over 10 GiB; this bounds it to about 2 MiB.
 */
export const DEFAULT_MAX_FRAGMENTS = 16 * 1024;

/** @internal Time a client gives the opening handshake before it gives up. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
