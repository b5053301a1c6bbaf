import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import { clientFrame, findNativeMasking } from './clientFrame.js';
import { type DirectMessages, readFramesDirectly } from './directFrames.js';
import type { PeerSocket, SocketHandler } from './PeerSocket.js';
import { utf8Length } from '../../internal/bytes.js';
import { WeightedQueue } from '../../internal/WeightedQueue.js';
import { CloseCode } from '../../peer/constants.js';
import {
  kOnAlive,
  kOnClose,
  kOnClosing,
  kOnError,
  kOnMessage,
  kOnWritten,
  type SharedFrame,
  type Transport,
  type TransportHandlers,
} from '../../peer/Transport.js';
import type { HandshakeInfo } from '../../peer/types.js';
import { enableVariants } from '../../codec/variant.js';

// Every peer in Node sits on this transport, so every peer in Node has putVar()/getVar(), whichever
// module made it: size does not count there (the browser transport leaves the codec to the app).
enableVariants();

/** @internal Messages up to this size are coalesced with the others of their turn (a server peer copies them). */
const COALESCE_MAX_BYTES = 16 * 1024;
/** @internal A client defers framing its large messages while the socket holds this much. */
const DEFER_ABOVE_BYTES = 512 * 1024;
/** @internal At most this many messages per write: a long burst leaves in batches. */
const COALESCE_MAX_SENDS = 1024;

/**
 * A client's message that waits to be written, weighed by its payload's bytes: a text to frame,
 * or a binary message's frame, made when it was sent (its payload had to be copied then anyway).
 */
type Deferred = string | Buffer;

/** @internal The Node transport: a `ws` WebSocket that is already open, and its TCP socket. */
export class NodeTransport implements Transport, SocketHandler, DirectMessages {
  readonly protocol: string;
  readonly remoteHost: string;
  readonly remotePort: number;
  private handlers: TransportHandlers | undefined;
  private closingReported = false;
  /** Whether a small message was sent in this turn of the event loop. */
  private inTurn = false;
  private corked = false;
  private corkedSends = 0;
  private onData: (() => void) | undefined;
  /** A client's messages sent while the socket was backed up, framed once it has room again. */
  private deferred: WeightedQueue<Deferred> | undefined;
  /** ws's write callback, one for all frames of this connection. */
  private written: (() => void) | undefined;
  /**
   * Whether a frame made for many connections goes out on this one as it is: a server's end
   * (unmasked frames) whose `ws` sender writes each frame at once, as it does without
   * extensions (permessage-deflate would compress each message, and queue behind that).
   */
  private readonly framesShared: boolean;
  /** The turn's first message went out whole at once, without a callback: reported written at the end of the turn. */
  private firstUnreported = false;

  /**
   * @param masked whether this is the client's end, whose frames are masked (RFC 6455 §5.3): we
   *   frame those ourselves (`clientFrame()`), and leave a server's to `ws`.
   */
  constructor(
    private readonly ws: PeerSocket,
    private readonly socket: Socket,
    readonly handshake: HandshakeInfo,
    private readonly masked: boolean,
  ) {
    this.protocol = ws.protocol;
    // Read now: they are still there to tell after the close.
    // An IPv4 client of a dual-stack server shows up as an IPv4-mapped IPv6 address.
    this.remoteHost = (socket.remoteAddress ?? '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
    this.remotePort = socket.remotePort ?? 0;
    // The first client looks for ws's native masking addon; its messages wait for nothing meanwhile.
    if (masked) void findNativeMasking();
    // The extensions were settled by the opening handshake, which is over.
    this.framesShared = !masked && ws.extensions === '';
  }

  /** A getter, not a field: it costs a connection nothing. */
  get closeCodes(): 'all' {
    return 'all';
  }

  bind(handlers: TransportHandlers, watchAlive: boolean): void {
    this.handlers = handlers;
    this.ws.handler = this;
    // Whole single-frame messages skip ws's per-frame work (directFrames.ts); ws reads the rest.
    readFramesDirectly((this.ws as unknown as { _receiver: unknown })._receiver, this);
    // Raw bytes rather than ws's 'pong' and 'message': a long message still arriving proves life,
    // though its 'message' and any pong queued behind it come only once it is complete.
    if (watchAlive) {
      this.onData = () => handlers[kOnAlive]();
      this.socket.on('data', this.onData);
    }
  }

  send(data: string | Uint8Array, asText: boolean): number {
    // A string's length bounds its UTF-8 size from below: long ones go out as large messages.
    const small = (typeof data === 'string' ? data.length : data.byteLength) <= COALESCE_MAX_BYTES;
    const first = this.coalesce(small);
    // What the kernel has not taken waits in `writableLength` (corked frames too), header bytes
    // first: its growth is this frame's unwritten part, exactly.
    const before = this.socket.writableLength;
    const written = this.writtenCallback();
    const callback = first ? undefined : written;
    // The payload's size in bytes: counted once, where it is needed.
    let bytes: number | undefined;
    if (this.masked && this.ws.readyState === WebSocket.OPEN) {
      bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
      const deferred = this.deferred;
      const isText = typeof data === 'string' && asText;
      if ((deferred !== undefined && deferred.size > 0) || (isText && !small && before >= DEFER_ABOVE_BYTES)) {
        // The socket is backed up: a large text waits to be framed until the socket has room, so
        // that its bytes are fresh in the cache when the kernel copies them (it cannot change
        // meanwhile). What follows it waits too, in order; bytes can change, so they are framed
        // (copied) now. Binary messages alone are framed and written at once, as ws does: the
        // kernel starts on them while the sender is still sending.
        (this.deferred ??= new WeightedQueue()).push(isText ? data : clientFrame(data, asText, bytes), bytes);
        return bytes;
      }
      // Nothing of ws's sender waits to go out (no compression): the frame follows what ws wrote.
      this.socket.write(clientFrame(data, asText, bytes), callback);
    } else {
      let payload = data;
      if (typeof data !== 'string') {
        // Corked frames wait by reference, so small bytes are copied: the caller may reuse its
        // buffer at once, as when each went out by itself. A server's large messages are not.
        if (small) payload = Buffer.from(data);
      } else if ((bytes = utf8Length(data)) !== data.length) {
        // Node's stream counts a string it holds by its UTF-16 length, and `writableLength` is
        // what the peer's amount is checked against: text that is not ASCII goes as its bytes.
        payload = Buffer.from(data);
      }
      this.ws.send(payload, asText ? TEXT : BINARY, callback);
    }
    if (first) this.firstWritten();
    const unwritten = this.afterWrite(before);
    if (unwritten <= 0) return 0;
    return Math.min(unwritten, bytes ?? (typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength));
  }

  sendFrame(frame: SharedFrame): number | undefined {
    // ws's own checks, when it sends: after its close, a message goes nowhere (and ws reports it
    // written at once); send() does that.
    if (!this.framesShared || this.ws.readyState !== WebSocket.OPEN) return undefined;
    const bytes = frame.payloadLength;
    const first = this.coalesce(bytes <= COALESCE_MAX_BYTES);
    const before = this.socket.writableLength;
    const written = this.writtenCallback();
    // Nothing of ws's sender waits to go out (no extensions): the frame follows what ws wrote.
    // Nobody changes it: corked, it waits by reference, as do the other connections' copies.
    this.socket.write(frame.bytes(), first ? undefined : written);
    if (first) this.firstWritten();
    const unwritten = this.afterWrite(before);
    return unwritten <= 0 ? 0 : Math.min(unwritten, bytes);
  }

  /**
   * Write coalescing, before a message of this turn is written. Returns whether it is the turn's
   * first small message to a socket with nothing waiting: that one goes without a write callback
   * (see `firstWritten()`).
   */
  private coalesce(small: boolean): boolean {
    let first = false;
    if (small) {
      // Write coalescing: small messages sent in one turn of the event loop leave in one writev
      // (ws corks only within one frame). The first one goes out at once, so that a lone message
      // waits for nothing; the second corks the socket, and the end of the turn
      // (process.nextTick, no timer) uncorks it.
      if (!this.inTurn) {
        this.inTurn = true;
        first = this.socket.writableLength === 0;
        process.nextTick(endOfTurn, this);
      } else if (!this.corked) {
        this.corked = true;
        this.socket.cork();
      }
      if (this.corked) this.corkedSends++;
    } else if (this.corked) {
      // A large message goes out now, after the small ones before it.
      this.uncork();
    }
    return first;
  }

  /**
   * The turn's first message went out without a callback. A write that completed at once with a
   * callback, followed by the turn's corked writev, made V8's allocation-site pretenuring move
   * Node's write bookkeeping into the old generation, which then held each turn's frames through
   * the next scavenges: a client of 1,000 connections sending 64 B messages as fast as it could
   * promoted ~140 bytes per message instead of ~18, and peaked at 1.5-2x the RSS
   * (docs/performance.md, "Memory under load"; spec/load/burst.spec.ts). Taken whole, as nearly
   * always, the end of the turn reports it, before the corked ones; otherwise an empty write
   * behind it reports it once it is out (Node calls back in the order of the writes).
   */
  private firstWritten(): void {
    if (this.socket.writableLength === 0) this.firstUnreported = true;
    else this.socket.write(EMPTY, this.written);
  }

  /** One callback for every frame, made with the first: Node calls them in the order of the writes. */
  private writtenCallback(): () => void {
    return (this.written ??= () => {
      this.handlers?.[kOnWritten]();
      if (this.deferred !== undefined && this.deferred.size > 0) this.writeDeferred(DEFER_ABOVE_BYTES);
    });
  }

  /**
   * After a message was written: ends a long burst's batch, and tells how many bytes of its frame
   * the OS has not taken, from the socket's backlog `before` it (header bytes go first: the
   * caller caps this at the payload's size).
   */
  private afterWrite(before: number): number {
    // A long burst goes out in batches, so that the kernel starts sending and memory stays small.
    if (this.corked && this.corkedSends >= COALESCE_MAX_SENDS) this.uncork();
    return this.socket.writableLength - before;
  }

  /** The turn is over: the next small message goes out at once again. */
  endTurn(): void {
    this.inTurn = false;
    if (this.firstUnreported) {
      this.firstUnreported = false;
      this.written?.();
    }
    this.uncork();
  }

  /** Ends this turn's cork, if it is still on. */
  uncork(): void {
    if (!this.corked) return;
    this.corked = false;
    this.corkedSends = 0;
    this.socket.uncork();
  }

  queuedBytes(): number {
    return this.socket.writableLength + (this.deferred?.weight ?? 0);
  }

  /** Frames and writes deferred messages, in order, while the socket holds less than `limit`. */
  private writeDeferred(limit: number): void {
    const deferred = this.deferred as WeightedQueue<Deferred>;
    while (deferred.size > 0 && this.socket.writableLength < limit && this.ws.readyState === WebSocket.OPEN) {
      const weight = deferred.weight;
      const next = deferred.shift();
      // A text's weight is its UTF-8 size, counted when it was sent.
      const frame = typeof next === 'string' ? clientFrame(next, true, weight - deferred.weight) : next;
      this.socket.write(frame, this.written);
    }
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }

  setNoDelay(enabled: boolean): void {
    this.socket.setNoDelay(enabled);
  }

  ping(): void {
    this.ws.ping();
  }

  terminate(): void {
    this.ws.terminate();
  }

  /** @internal PeerSocket: a closing handshake starts. Reported once. */
  closing(code: number, reason: string): void {
    // What was sent before the close goes before the close frame.
    if (this.deferred !== undefined && this.deferred.size > 0) this.writeDeferred(Infinity);
    if (this.closingReported) return;
    this.closingReported = true;
    this.handlers?.[kOnClosing](code, reason);
  }

  /** @internal PeerSocket: ws's 'message'. */
  message(data: Buffer, isBinary: boolean): void {
    const handlers = this.handlers;
    if (handlers === undefined) return;
    if (isBinary) {
      // A view, not a copy; a plain Uint8Array so that Node and the browser hand out the same type.
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      handlers[kOnMessage]({ isString: false, data: bytes }, data.byteLength);
    } else {
      handlers[kOnMessage]({ isString: true, data: data.toString('utf8') }, data.byteLength);
    }
  }

  /** @internal directFrames.ts: a whole binary message, a view of what the socket read. */
  binary(bytes: Uint8Array): void {
    this.handlers?.[kOnMessage]({ isString: false, data: bytes }, bytes.byteLength);
  }

  /** @internal directFrames.ts: a whole text message, checked UTF-8, of `byteLength` bytes. */
  text(text: string, byteLength: number): void {
    this.handlers?.[kOnMessage]({ isString: true, data: text }, byteLength);
  }

  /** @internal PeerSocket: ws's 'error'. */
  error(error: Error): void {
    this.handlers?.[kOnError](error);
  }

  /** @internal PeerSocket: ws's 'close', after which ws emits nothing. */
  closed(code: number, reason: Buffer): void {
    const handlers = this.handlers;
    this.ws.handler = undefined;
    if (this.onData) this.socket.off('data', this.onData);
    this.onData = undefined;
    this.handlers = undefined;
    this.deferred?.clear();
    // ws reports 1006 exactly when no close frame came back (RFC 6455 §7.1.5).
    handlers?.[kOnClose](code, reason.toString(), code !== CloseCode.Abnormal);
  }
}

const EMPTY = Buffer.alloc(0);
const TEXT = { binary: false } as const;
const BINARY = { binary: true } as const;

function endOfTurn(transport: NodeTransport): void {
  transport.endTurn();
}
