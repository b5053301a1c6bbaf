import { Observable, type Observer, type Subscriber } from 'rxjs';
import { CloseCode, DEFAULT_MAX_QUEUED_BYTES, DEFAULT_MAX_QUEUED_PACKETS, WriteMode } from './constants.js';
// Types only: the codec itself reaches the peer through ./variantCodec.js (see there why).
import type { Variant } from '../codec/godotTypes.js';
import type { VariantOptions } from '../codec/variant.js';
import { Inbox, type InboxOwner, kOnTaken } from '../internal/Inbox.js';
import { kBroadcast, kBroadcastTexts, kWatchInbox, kWhenClosed, kWrite } from '../internal/symbols.js';
import { LiveValue } from '../internal/LiveValue.js';
import { optionKeys } from '../internal/optionKeys.js';
import {
  kOnAlive,
  kOnClose,
  kOnClosing,
  kOnError,
  kOnMessage,
  kOnWritten,
  type Transport,
  type TransportHandlers,
} from './Transport.js';
import { variantCodec } from '../codec/variantSlot.js';
import { WeightedQueue } from '../internal/WeightedQueue.js';
import type { SharedMessage, SharedTexts } from './SharedMessage.js';
import type { CloseInfo, HandshakeInfo, OutboundData, Packet, PeerState } from './types.js';
import { checkOutbound, endedNormally, validateClose, validateWriteMode } from './validation.js';
import { asBytes } from '../internal/bytes.js';
import { WebSocketCloseError } from '../errors/WebSocketCloseError.js';
import { argumentError, WebSocketPeerError } from '../errors/WebSocketPeerError.js';

/** Options every peer takes, from `connect()` or `listen()`. */
export interface PeerOptions {
  /** How strings and bytes are sent until `setWriteMode()` says otherwise. Default `WriteMode.Text`. */
  writeMode?: WriteMode;
  /** Disable Nagle's algorithm, as the seed does. Default `true`. */
  noDelay?: boolean;
  /**
   * Packets that may wait for a consumer before the peer stops reading from the socket (TCP then
   * pushes back on the sender; nothing is dropped). It reads again once the queue is down to half
   * of this and of `maxQueuedBytes`. Default 4,096.
   */
  maxQueuedPackets?: number;
  /**
   * The same bound in payload bytes. Default 2 MiB (what Node reads from a socket in one turn of
   * the event loop), which keeps a receiving process small however fast the other side sends:
   * packets that wait longer live past V8's young generation and cost memory long after they
   * are handled. Raise it for a consumer that takes packets in bursts larger than this (a poll
   * per frame of a fast stream), at that cost.
   */
  maxQueuedBytes?: number;
  /**
   * Milliseconds between heartbeats; default: no heartbeat. Each interval the peer sends a ping
   * (which every WebSocket answers with a pong by itself). When nothing at all has come from the
   * other side by the next interval (no pong, no message, not a byte), the connection is dead:
   * the peer ends it at once, and `closed$` reports `{ code: 1006, reason: 'heartbeat: no pong
   * within <interval> ms', wasClean: false }`. A connection that dies is so found within two
   * intervals. While the peer does not read (its inbound queue is full) it does not judge, since
   * it cannot hear the answer. At most 2,147,483,647 (Node's largest timer delay).
   */
  heartbeatInterval?: number;
}

/** @internal The keys of `PeerOptions`, which `connect()` and `listen()` know. */
export const PEER_OPTION_KEYS = optionKeys<PeerOptions>({
  writeMode: true,
  noDelay: true,
  maxQueuedPackets: true,
  maxQueuedBytes: true,
  heartbeatInterval: true,
});

/** @internal */
export type ResolvedPeerOptions = Required<Omit<PeerOptions, 'heartbeatInterval'>> & {
  heartbeatInterval: number | undefined;
};

/** @internal */
export const DEFAULT_PEER_OPTIONS: ResolvedPeerOptions = {
  writeMode: WriteMode.Text,
  noDelay: true,
  maxQueuedPackets: DEFAULT_MAX_QUEUED_PACKETS,
  maxQueuedBytes: DEFAULT_MAX_QUEUED_BYTES,
  heartbeatInterval: undefined,
};

function notSupported(what: string): WebSocketPeerError {
  return new WebSocketPeerError(
    'ERR_NOT_SUPPORTED',
    `${what} is not available in the browser: its WebSocket does not expose it`,
  );
}

/**
 * Who waits for a peer's close: a function, or the subscriber of a `connect()` (which then
 * completes, or errors with `WebSocketCloseError`, unless it has unsubscribed). A subscriber
 * rather than a closure over it: an open client keeps one object less.
 */
type CloseWatcher = ((info: CloseInfo, peer: WebSocketPeer) => void) | Subscriber<WebSocketPeer>;

/**
 * One WebSocket connection, as the Godot/Redot `WebSocketPeer` sees it, with its events as
 * observables. You get peers from `connect()` and `listen()`; they are already open.
 *
 * ```ts
 * import { connect } from 'rx-websocket-peer';
 * connect('ws://127.0.0.1:8080').subscribe((peer) => {
 *   peer.packets$.subscribe((p) => console.log(p.isString ? 'text' : 'binary', p.data));
 *   peer.sink.next('hello');
 * });
 * ```
 */
export class WebSocketPeer implements TransportHandlers, InboxOwner<Packet> {
  /** The opening handshake: URL and the other side's headers. */
  readonly handshake: HandshakeInfo;

  // Whatever an idle peer need not have is made when first asked for: the streams, `sink`, the
  // subscriber lists. A server with many quiet connections pays for what it uses.
  private state: PeerState = 'open';
  private stateLive: LiveValue<PeerState> | undefined;
  /** What `bufferedAmount$` shows: the payload bytes in `writes` that the OS has not taken. */
  private buffered = 0;
  private bufferedLive: LiveValue<number> | undefined;
  private readonly inbox = new Inbox<Packet>(this);
  /**
   * One entry per message handed to the transport and not yet reported written: its callback,
   * weighted by its unwritten bytes. Made on the first send.
   */
  private writes: WeightedQueue<(() => void) | undefined> | undefined;
  private closeInfo: CloseInfo | undefined;
  /** Who waits for `closeInfo`: `closed$` subscribers and the library's own watchers. */
  private closeWatchers: CloseWatcher | CloseWatcher[] | undefined;
  private closedStream: Observable<CloseInfo> | undefined;
  private sinkObserver: Observer<OutboundData> | undefined;
  private writeMode: WriteMode;
  private lastWasString = false;
  private paused = false;
  private closeStart: { code: number; reason: string } | undefined;
  private lastError: Error | undefined;
  private readonly maxQueuedPackets: number;
  private readonly maxQueuedBytes: number;
  /** The heartbeat's one timer, for as long as the peer is open and has a heartbeat. */
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  /** Whether anything came from the other side since the last heartbeat. */
  private heard = false;
  /** Whether the last heartbeat sent a ping that this one may judge by. */
  private pinged = false;

  /** @internal Peers come from `connect()` and `listen()`. */
  constructor(
    private readonly transport: Transport,
    options: ResolvedPeerOptions = DEFAULT_PEER_OPTIONS,
  ) {
    this.writeMode = options.writeMode;
    this.maxQueuedPackets = options.maxQueuedPackets;
    this.maxQueuedBytes = options.maxQueuedBytes;
    this.handshake = transport.handshake;
    if (!options.noDelay) this.setNoDelay(false);
    const interval = options.heartbeatInterval;
    if (interval !== undefined && !transport.ping) {
      throw argumentError(
        TypeError,
        'ERR_INVALID_OPTION',
        "option 'heartbeatInterval': this platform cannot send pings",
      );
    }
    // Only a peer with a heartbeat listens for life: one flag set per socket read, no timer per packet.
    transport.bind(this, interval !== undefined);
    if (interval !== undefined) this.startHeartbeat(interval);
  }

  /**
   * Inbound messages in arrival order. Multicast: each packet goes once to all current
   * subscribers; while there are none, packets wait in the peer (see `maxQueuedPackets`) for the
   * next subscriber or `getPacket()`. Completes after a clean close with 1000; errors with
   * `WebSocketCloseError` after any other end (another code, clean or not, or no closing
   * handshake). Packets that arrived before the close are delivered first, even to a subscriber
   * that comes after it.
   */
  get packets$(): Observable<Packet> {
    return this.inbox.observable;
  }

  /** The current state synchronously on subscribe, then each change; completes after `'closed'`. */
  get state$(): Observable<PeerState> {
    return (this.stateLive ??= this.live(this.state)).observable;
  }

  /**
   * Outbound payload bytes handed to `sink`/`putPacket` that the OS has not taken yet: the current
   * value synchronously on subscribe, then each change; completes when the peer closes. It stays
   * 0 while the kernel's socket buffer takes each message at once, rises when messages have to
   * wait in the process, and falls as Node writes them out.
   */
  get bufferedAmount$(): Observable<number> {
    return (this.bufferedLive ??= this.live(this.buffered)).observable;
  }

  /** One `CloseInfo` once the connection has closed, replayed to late subscribers; then completes. */
  get closed$(): Observable<CloseInfo> {
    return (this.closedStream ??= new Observable<CloseInfo>((subscriber) => {
      const watcher = (info: CloseInfo): void => {
        subscriber.next(info);
        subscriber.complete();
      };
      if (this.closeInfo) return watcher(this.closeInfo);
      this[kWhenClosed](watcher);
      return () => {
        const watchers = this.closeWatchers;
        if (watchers === watcher) this.closeWatchers = undefined;
        else if (Array.isArray(watchers)) this.closeWatchers = watchers.filter((w) => w !== watcher);
      };
    }));
  }

  /**
   * Sends what it is given: `next(data)` as `putPacket(data)`, `complete()` closes with 1000 and
   * `error()` with 1011. So `peer.packets$.pipe(tap(peer.sink))` echoes. Its methods need no
   * `this`: `source.subscribe(peer.sink.next)` works too.
   */
  get sink(): Observer<OutboundData> {
    return (this.sinkObserver ??= {
      next: (data) => this.putPacket(data),
      // A browser sends no 1011: 4011 there (CloseCode.BrowserInternalError).
      error: () =>
        this.close(this.transport.closeCodes === 'all' ? CloseCode.InternalError : CloseCode.BrowserInternalError),
      complete: () => this.close(),
    });
  }

  /**
   * @internal Calls `watcher(info, peer)` (or ends a `connect()` subscriber) once the peer has
   * closed, at once if it has: what the library uses instead of a `closed$` subscription per peer.
   */
  [kWhenClosed](watcher: CloseWatcher): void {
    const watchers = this.closeWatchers;
    if (this.closeInfo) this.notify(watcher, this.closeInfo);
    else if (watchers === undefined) this.closeWatchers = watcher;
    else if (Array.isArray(watchers)) watchers.push(watcher);
    else this.closeWatchers = [watchers, watcher];
  }

  private notify(watcher: CloseWatcher, info: CloseInfo): void {
    if (typeof watcher === 'function') watcher(info, this);
    else if (!watcher.closed) {
      if (endedNormally(info)) watcher.complete();
      else watcher.error(new WebSocketCloseError(info));
    }
  }

  /** A stream of a value of this peer's, made when first asked for; it completes with the peer. */
  private live<T>(value: T): LiveValue<T> {
    const live = new LiveValue(value);
    if (this.closeInfo) live.complete();
    return live;
  }

  private setState(state: PeerState): void {
    this.state = state;
    this.stateLive?.set(state);
  }

  private setBuffered(amount: number): void {
    this.buffered = amount;
    this.bufferedLive?.set(amount);
  }

  /**
   * Starts the closing handshake. `closed$` then reports this code and reason on both sides.
   * Does nothing if the peer is already closing or closed.
   * @param code an RFC 6455 §7.4 code: 1000-1003, 1007-1014 or 3000-4999. Default 1000.
   * @param reason at most 123 UTF-8 bytes. Default `''`.
   * @throws RangeError (`ERR_INVALID_CLOSE_CODE`, `ERR_INVALID_CLOSE_REASON`); the connection stays open.
   */
  close(code: number = CloseCode.Normal, reason = ''): void {
    validateClose(code, reason, this.transport.closeCodes === 'application');
    if (this.state !== 'open') return;
    this.startClosing(code, reason);
    // The other side's close frame may sit behind packets we stopped reading; read on to get it.
    if (this.paused) {
      this.paused = false;
      this.transport.resume?.();
    }
    this.transport.close(code, reason);
  }

  /**
   * The remote IP address (IPv4 as `'127.0.0.1'`, never IPv4-mapped IPv6).
   * @throws WebSocketPeerError `ERR_NOT_SUPPORTED` in the browser, which does not tell it.
   */
  getConnectedHost(): string {
    const host = this.transport.remoteHost;
    if (host === undefined) throw notSupported('getConnectedHost()');
    return host;
  }

  /**
   * The remote TCP port.
   * @throws WebSocketPeerError `ERR_NOT_SUPPORTED` in the browser, which does not tell it.
   */
  getConnectedPort(): number {
    const port = this.transport.remotePort;
    if (port === undefined) throw notSupported('getConnectedPort()');
    return port;
  }

  /** The same number `bufferedAmount$` last emitted. */
  getCurrentOutboundBufferedAmount(): number {
    return this.buffered;
  }

  getWriteMode(): WriteMode {
    return this.writeMode;
  }

  /**
   * Sets how the next strings and bytes are sent. `Packet`s always go as their own kind.
   * @throws RangeError (`ERR_INVALID_WRITE_MODE`) for anything but `WriteMode.Text`/`Binary`.
   */
  setWriteMode(mode: WriteMode): void {
    validateWriteMode(mode);
    this.writeMode = mode;
  }

  /** The subprotocol the server selected in the handshake, `''` when none. */
  getSelectedProtocol(): string {
    return this.transport.protocol;
  }

  /** `true` while the peer is open: not yet closing. */
  isConnectedToHost(): boolean {
    this.noticeClosing();
    return this.state === 'open';
  }

  /**
   * The browser tells nothing when the other side's close frame arrives: its WebSocket just
   * stops sending, and would drop writes unseen. Whoever asks finds the peer closing from then on.
   */
  private noticeClosing(): void {
    if (this.state === 'open' && this.transport.isOpen?.() === false) {
      this.stopHeartbeat();
      this.setState('closing');
    }
  }

  /**
   * Turns Nagle's algorithm off (`true`, the default) or on (`false`) on the TCP socket.
   * @throws WebSocketPeerError `ERR_NOT_SUPPORTED` in the browser, which has no socket options.
   */
  setNoDelay(enabled: boolean): void {
    if (typeof enabled !== 'boolean') {
      throw argumentError(TypeError, 'ERR_INVALID_ARG_TYPE', `setNoDelay() takes a boolean, got ${typeof enabled}`);
    }
    if (!this.transport.setNoDelay) throw notSupported('setNoDelay()');
    this.transport.setNoDelay(enabled);
  }

  /** Whether the last packet taken (from `packets$` or `getPacket()`) was a text frame. */
  wasStringPacket(): boolean {
    return this.lastWasString;
  }

  /**
   * Sends one message. Strings and bytes go by the write mode (bytes in text mode must be valid
   * UTF-8); a `Packet` goes as its own kind.
   * @throws WebSocketPeerError `ERR_PEER_CLOSED` once the peer is closing or closed;
   *   TypeError `ERR_INVALID_UTF8` or `ERR_INVALID_DATA` for data it cannot send. Nothing is sent then.
   */
  putPacket(data: OutboundData): void {
    this[kWrite](data);
  }

  /**
   * @internal `putPacket(data)`, calling `onWritten()` once the OS has the bytes; strings and
   * bytes go in `mode` (default: the peer's write mode), checked as `putPacket()` checks them.
   */
  [kWrite](data: OutboundData, onWritten?: () => void, mode: WriteMode = this.writeMode): void {
    this.noticeClosing();
    if (this.state !== 'open') throw this.closedError();
    const asText = checkOutbound(data, mode);
    this.transmit(typeof data === 'string' ? data : (asBytes(data) ?? (data as Packet).data), asText, onWritten);
  }

  /**
   * @internal `broadcast()`: sends `message`, which it has checked against this peer's write
   * mode, as `putPacket()` would, through its shared frame where the transport takes that.
   * Returns the error `putPacket()` would throw once the peer is closing or closed, having sent
   * nothing, else `undefined`.
   */
  [kBroadcast](message: SharedMessage): WebSocketPeerError | undefined {
    this.noticeClosing();
    if (this.state !== 'open') return this.closedError();
    const asText = message.isString ?? this.writeMode === WriteMode.Text;
    const transport = this.transport;
    let unwritten = transport.sendFrame?.(message.frame(asText));
    // Where the frame cannot go as it is (a client masks each frame), the payload goes as any other.
    if (unwritten === undefined) unwritten = transport.send(message.payload, asText);
    this.logWrite(unwritten);
    return undefined;
  }

  /** @internal See `kBroadcastTexts`. */
  [kBroadcastTexts](texts: SharedTexts): WebSocketPeerError | undefined {
    this.noticeClosing();
    if (this.state !== 'open') return this.closedError();
    const unwritten = this.transport.sendFrame?.(texts);
    if (unwritten !== undefined) this.logWrite(unwritten);
    // Where frames cannot go as they are (a client masks each frame): one message at a time.
    else for (const text of texts.texts) this.logWrite(this.transport.send(text, true));
    return undefined;
  }

  private closedError(): WebSocketPeerError {
    return new WebSocketPeerError('ERR_PEER_CLOSED', `Cannot send: the peer is ${this.state}`);
  }

  /**
   * Sends a Godot value in the engine's binary Variant encoding, always as a binary frame
   * whatever the write mode: what Godot's `get_var()` reads (the seed's `put_var`).
   * @param options `engine` (`3`, or `4` for Godot 4's encoding), `maxSize` (8 MiB, the engine's
   *   `encode_buffer_max_size`), `maxDepth` (256).
   * @throws VariantError for a value Godot has no encoding for, or past the limits, or for a bad
   *   option (`ERR_VARIANT_INVALID_ARG`); WebSocketPeerError `ERR_PEER_CLOSED` once closing.
   *   Nothing is sent then.
   * @throws WebSocketPeerError `ERR_NOT_SUPPORTED` in a browser bundle that left the codec out
   *   (no other codec export imported): call `enableVariants()` once at start-up.
   */
  putVar(value: Variant, options?: VariantOptions): void {
    const codec = variantCodec('putVar()');
    codec.check('putVar', options);
    if (!this.isConnectedToHost()) throw this.closedError();
    this[kWrite]({ isString: false, data: codec.encode(value, options) });
  }

  /**
   * Takes the oldest waiting packet and decodes it as a Godot value (the seed's `get_var`), or
   * returns `undefined` when none waits. Objects are refused, as the engine's
   * `allow_objects = false`.
   * @param options as for `putVar()`: `engine` (`3`, or `4`), `maxSize`, `maxDepth`.
   * @throws VariantError when the packet is text or holds no valid encoding; it is taken anyway.
   *   For a bad option (`ERR_VARIANT_INVALID_ARG`), before any packet is taken.
   * @throws WebSocketPeerError `ERR_NOT_SUPPORTED`, as `putVar()` does; no packet is taken then.
   */
  getVar(options?: VariantOptions): Variant | undefined {
    const codec = variantCodec('getVar()');
    // Before the packet is taken: a bad option must not cost it, nor pass unseen when none waits.
    codec.check('getVar', options);
    const packet = this.getPacket();
    return packet === undefined ? undefined : codec.decode(packet, options);
  }

  /** Takes the oldest waiting packet, or `undefined` when none waits (or `packets$` takes them). */
  getPacket(): Packet | undefined {
    return this.inbox.hasTakers ? undefined : this.inbox.take();
  }

  /** How many packets wait to be taken. */
  getAvailablePacketCount(): number {
    return this.inbox.size;
  }

  /** @internal Calls `listener()` on each packet that arrives and when the queue ends. */
  [kWatchInbox](listener: () => void): () => void {
    return this.inbox.watch(listener);
  }

  private transmit(data: string | Uint8Array, asText: boolean, onWritten?: () => void): void {
    this.logWrite(this.transport.send(data, asText), onWritten);
  }

  /** Logs a message just handed to the transport, `unwritten` of its bytes not yet the OS's. */
  private logWrite(unwritten: number, onWritten?: () => void): void {
    const writes = (this.writes ??= new WeightedQueue());
    writes.push(onWritten, unwritten);
    // The log may still count messages the OS took whose callbacks have not run yet: the socket
    // knows better, so the amount is never more than what it holds.
    if (unwritten > 0) this.setBuffered(Math.min(writes.weight, this.transport.queuedBytes()));
  }

  /** @internal The transport: the oldest unreported message is written. */
  [kOnWritten](): void {
    const writes = this.writes;
    // After the close, the rest were settled at once.
    if (writes === undefined || writes.size === 0) return;
    const before = writes.weight;
    const onWritten = writes.shift();
    if (writes.weight !== before) {
      // Node calls the callbacks of one completed write one after the other; the socket knows
      // already that they are all written, so none of them shows a stale amount.
      this.setBuffered(Math.min(writes.weight, this.transport.queuedBytes()));
    }
    onWritten?.();
  }

  /** @internal */
  [kOnClosing](code: number, reason: string): void {
    this.startClosing(code, reason);
  }

  /** @internal */
  [kOnError](error: Error): void {
    this.lastError = error;
  }

  /** @internal */
  [kOnAlive](): void {
    this.heard = true;
  }

  /** @internal */
  [kOnMessage](packet: Packet, bytes: number): void {
    this.inbox.put(packet, bytes);
    // A browser's WebSocket cannot stop reading (no pause): there the packets just wait.
    if (
      !this.paused &&
      this.transport.pause &&
      this.state === 'open' &&
      (this.inbox.size >= this.maxQueuedPackets || this.inbox.weight >= this.maxQueuedBytes)
    ) {
      this.paused = true;
      // A pong we do not read proves nothing: the ping out now is not judged.
      this.pinged = false;
      this.transport.pause();
    }
  }

  /**
   * One timer for the peer's whole life, whatever the traffic: the socket sets `heard` on each
   * read, and the timer looks at it once an interval.
   */
  private startHeartbeat(interval: number): void {
    // A global looked up now, so that fake timers drive it.
    const timer = setInterval(() => this.beat(interval), interval);
    // Unref'd in Node: the socket keeps the process alive while the peer is open, and the
    // heartbeat must not do so on its own. (A browser's timer is a number and holds nothing.)
    if (typeof timer === 'object') timer.unref();
    this.heartbeat = timer;
  }

  private beat(interval: number): void {
    // While we do not read, the pong would wait unread behind the packets we hold back.
    if (this.paused) return;
    if (this.pinged && !this.heard) {
      // Nothing, not even a pong, for a whole interval since our ping: the other side or the path
      // to it is gone, maybe with TCP still open (a stalled proxy, a frozen process), so no
      // closing handshake could complete either.
      this.stopHeartbeat();
      this.startClosing(CloseCode.Abnormal, `heartbeat: no pong within ${interval} ms`);
      this.transport.terminate();
      return;
    }
    this.heard = false;
    this.pinged = true;
    this.transport.ping?.();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat === undefined) return;
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  /** @internal The inbox: a packet left the queue. */
  [kOnTaken](packet: Packet): void {
    this.lastWasString = packet.isString;
    // Resume at half the bounds, so a consumer that keeps up does not flip the socket per packet.
    if (this.paused && this.inbox.size <= this.maxQueuedPackets / 2 && this.inbox.weight <= this.maxQueuedBytes / 2) {
      this.paused = false;
      this.transport.resume?.();
    }
  }

  private startClosing(code: number, reason: string): void {
    if (this.state !== 'open') return;
    // Once closing, ws's own close timeout bounds the wait for the other side's close frame.
    this.stopHeartbeat();
    this.closeStart = { code, reason };
    this.setState('closing');
  }

  /** @internal */
  [kOnClose](code: number, reason: string, wasClean: boolean): void {
    this.stopHeartbeat();
    // An abrupt end (no closing handshake) still passes through 'closing'.
    if (this.state === 'open') this.setState('closing');
    const info: CloseInfo = {
      code: this.closeStart?.code ?? code,
      reason: this.closeStart?.reason ?? reason,
      wasClean,
    };
    // What was not written never will be: those writes are over.
    while (this.writes !== undefined && this.writes.size > 0) this[kOnWritten]();
    this.setState('closed');
    this.closeInfo = info;
    const watchers = this.closeWatchers;
    this.closeWatchers = undefined;
    if (Array.isArray(watchers)) for (const watcher of watchers) this.notify(watcher, info);
    else if (watchers !== undefined) this.notify(watchers, info);
    this.inbox.end(endedNormally(info) ? undefined : new WebSocketCloseError(info, { cause: this.lastError }));
    this.bufferedLive?.complete();
    this.stateLive?.complete();
  }
}
