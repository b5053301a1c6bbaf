import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import { CloseCode } from './constants.js';
import type { Transport, TransportHandlers } from './Transport.js';
import type { HandshakeInfo } from './types.js';

/**
 * @internal A `ws` WebSocket that reports when a closing handshake starts. `ws` itself emits
 * nothing then: it calls its own `close()` when a close frame arrives (RFC 6455 §5.5.1: the
 * receiver answers with a close frame) and when it fails the connection for a protocol error.
 * Both pass through here with the code that starts the handshake, as does our own `close()`.
 */
export class PeerSocket extends WebSocket {
  onClosing: ((code: number, reason: string) => void) | undefined;

  override close(code?: number, data?: string | Buffer): void {
    const onClosing = this.onClosing;
    if (onClosing && this.readyState === WebSocket.OPEN) {
      this.onClosing = undefined;
      onClosing(code ?? CloseCode.NoStatus, data === undefined ? '' : data.toString());
    }
    super.close(code, data);
  }
}

/** @internal Messages up to this size are copied and coalesced with the others of their turn. */
const COALESCE_MAX_BYTES = 16 * 1024;
/** @internal At most this many messages per write: a long burst leaves in batches. */
const COALESCE_MAX_SENDS = 1024;

/** @internal The Node transport: a `ws` WebSocket that is already open, and its TCP socket. */
export class NodeTransport implements Transport {
  readonly platform = 'node';
  readonly protocol: string;
  readonly remoteHost: string;
  readonly remotePort: number;
  private handlers: TransportHandlers | undefined;

  constructor(
    private readonly ws: PeerSocket,
    private readonly socket: Socket,
    readonly handshake: HandshakeInfo,
  ) {
    this.protocol = ws.protocol;
    // An IPv4 client of a dual-stack server shows up as an IPv4-mapped IPv6 address.
    this.remoteHost = (socket.remoteAddress ?? '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
    this.remotePort = socket.remotePort ?? 0;
  }

  bind(handlers: TransportHandlers): void {
    this.handlers = handlers;
    this.ws.onClosing = (code, reason) => handlers.closing(code, reason);
    this.ws.on('message', this.onMessage);
    this.ws.on('error', this.onError);
    this.ws.on('close', this.onClose);
    // Raw bytes rather than ws's 'pong' and 'message': a long message still arriving proves life,
    // though its 'message' and any pong queued behind it come only once it is complete.
    if (handlers.alive) this.socket.on('data', this.onData);
  }

  send(data: string | Uint8Array, asText: boolean, done: () => void): number {
    let payload: string | Uint8Array = data;
    // A string's length bounds its UTF-8 size from below: long ones go out as large messages.
    if ((typeof data === 'string' ? data.length : data.byteLength) <= COALESCE_MAX_BYTES) {
      // Write coalescing: small messages sent in one turn of the event loop leave in one writev
      // (ws corks only within one frame): the first one corks the socket, the end of the turn
      // (process.nextTick, no timer) uncorks it. Corked frames wait by reference, so small bytes
      // are copied: the caller may reuse its buffer at once, as when each went out by itself.
      if (!this.corked) {
        this.corked = true;
        this.socket.cork();
        process.nextTick(this.uncork);
      }
      if (typeof data !== 'string') payload = Buffer.from(data);
      this.corkedSends++;
    } else if (this.corked) {
      // A large message goes out now, after the small ones before it, and is not copied.
      this.uncork();
    }
    // What the kernel has not taken waits in `writableLength` (corked frames too), header bytes
    // first: its growth is this frame's unwritten part, exactly.
    const before = this.socket.writableLength;
    this.ws.send(payload, { binary: !asText }, done);
    // A long burst goes out in batches, so that the kernel starts sending and memory stays small.
    if (this.corked && this.corkedSends >= COALESCE_MAX_SENDS) this.uncork();
    const unwritten = this.socket.writableLength - before;
    if (unwritten <= 0) return 0;
    return Math.min(unwritten, typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength);
  }

  private corked = false;
  private corkedSends = 0;

  /** Ends this turn's cork, if it is still on; the nextTick that comes after it does nothing. */
  private readonly uncork = (): void => {
    if (!this.corked) return;
    this.corked = false;
    this.corkedSends = 0;
    this.socket.uncork();
  };

  queuedBytes(): number {
    return this.socket.writableLength;
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

  private readonly onData = (): void => {
    this.handlers?.alive?.();
  };

  private readonly onMessage = (data: Buffer, isBinary: boolean): void => {
    if (isBinary) {
      // A view, not a copy; a plain Uint8Array so that Node and the browser hand out the same type.
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      this.handlers?.message({ isString: false, data: bytes }, data.byteLength);
    } else {
      this.handlers?.message({ isString: true, data: data.toString('utf8') }, data.byteLength);
    }
  };

  private readonly onError = (error: Error): void => {
    this.handlers?.error(error);
  };

  private readonly onClose = (code: number, reason: Buffer): void => {
    const handlers = this.handlers;
    this.ws.onClosing = undefined;
    this.ws.off('message', this.onMessage);
    this.ws.off('close', this.onClose);
    // ws emits nothing after 'close', so the error listener can go too.
    this.ws.off('error', this.onError);
    this.socket.off('data', this.onData);
    this.handlers = undefined;
    // ws reports 1006 exactly when no close frame came back (RFC 6455 §7.1.5).
    handlers?.close(code, reason.toString(), code !== CloseCode.Abnormal);
  };
}
