import { WriteMode } from './constants.js';
import { SharedMessage, SharedTexts } from './SharedMessage.js';
import type { OutboundData } from './types.js';
import { checkOutbound, isPacket } from './validation.js';
import type { WebSocketPeer } from './WebSocketPeer.js';
import { argumentError, type WebSocketPeerError } from '../errors/WebSocketPeerError.js';
import { asBytes, describe, isValidUtf8 } from '../internal/bytes.js';
import { kBroadcast, kBroadcastTexts } from '../internal/symbols.js';

/** A peer that `broadcast()` could not send to, and why. */
export interface BroadcastFailure {
  readonly peer: WebSocketPeer;
  /** What `putPacket()` would have thrown: `ERR_PEER_CLOSED`, the peer is closing or closed. */
  readonly error: WebSocketPeerError;
}

/** What `broadcast()` did. */
export interface BroadcastResult {
  /** How many peers took the message (each peer counts once, however often it was listed). */
  readonly sent: number;
  /** The peers that did not, in the order given; they got nothing. Empty when all took it. */
  readonly failed: readonly BroadcastFailure[];
}

/**
 * Sends one message to many peers, as `peer.putPacket(data)` on each would, with one frame for
 * all of them where it can: a server's frames are not masked, so the frame of a message is the
 * same bytes on every connection of a `listen()` server, made once (and the payload copied once,
 * where a loop of `sink.next()` frames and copies it per peer). A client's peers mask each frame
 * with a key of their own, and a browser's `WebSocket` frames what it sends itself: those get
 * the message as from `putPacket()`, with the same result.
 *
 * Each peer gets it exactly as from its own `putPacket()`: a string or bytes in that peer's write
 * mode, a `Packet` as its own kind; in order with the peer's other writes; counted in its
 * `bufferedAmount$` until the OS has taken it. Like `sink.next()`, it does not wait for a slow
 * peer: each peer's `bufferedAmount$` (or `getCurrentOutboundBufferedAmount()`) says how much
 * waits for it, so leave out or close the peers that fall behind.
 *
 * A peer that is closing or closed gets nothing and is listed in `failed`; the others get the
 * message all the same. Each peer counts once, however often the iterable lists it. What no
 * peer could be sent throws, synchronously, before any peer gets anything.
 *
 * ```ts
 * import { broadcast, listen, type WebSocketPeer } from 'rx-websocket-peer';
 * import { switchMap } from 'rxjs';
 *
 * const room = new Set<WebSocketPeer>();
 * listen({ port: 8080 }).pipe(switchMap((server) => server.peers$)).subscribe((peer) => {
 *   room.add(peer);
 *   peer.closed$.subscribe(() => room.delete(peer));
 * });
 * setInterval(() => broadcast(room, JSON.stringify({ t: Date.now() })), 1000);
 * ```
 *
 * @param peers the peers, any iterable (a `Set` is taken as it is; duplicates in others are sent
 *   to once). It is read through before anything is sent.
 * @param data what `putPacket()` takes: a string, bytes, or a `Packet`.
 * @returns how many peers took the message, and which did not with why.
 * @throws TypeError `ERR_INVALID_DATA` for data that is not a string, bytes nor a `Packet`;
 *   `ERR_INVALID_UTF8` for bytes that are not UTF-8 while an open peer of the set is in text
 *   mode; `ERR_INVALID_ARG_TYPE` when `peers` is not iterable (or is a string) or lists something
 *   that is not a peer. Nothing is sent then.
 */
export function broadcast(peers: Iterable<WebSocketPeer>, data: OutboundData): BroadcastResult {
  // Misuse first, before any peer gets anything: data that no peer could be sent...
  checkOutbound(data, WriteMode.Binary);
  const bytes = typeof data === 'string' ? undefined : asBytes(data);
  const message = isPacket(data)
    ? new SharedMessage(data.data, data.isString)
    : new SharedMessage(bytes ?? (data as string), undefined);
  // ...what is not a peer, and bytes that an open peer in text mode would refuse.
  const { list, anyText } = distinctPeers(peers);
  if (bytes !== undefined && anyText && !isValidUtf8(bytes)) {
    for (const peer of list) {
      if (peer.getWriteMode() === WriteMode.Text && peer.isConnectedToHost()) checkOutbound(bytes, WriteMode.Text);
    }
  }
  let sent = 0;
  const failed: BroadcastFailure[] = [];
  for (const peer of list) {
    const error = peer[kBroadcast](message);
    if (error === undefined) sent++;
    else failed.push({ peer, error });
  }
  return { sent, failed };
}

/**
 * The peers of `peers`, each once, in the order first listed, and whether any is in text mode;
 * throws for what is not a peer of this copy of the package (whose writes it could not reach).
 */
function distinctPeers(peers: Iterable<WebSocketPeer>): { list: WebSocketPeer[]; anyText: boolean } {
  // A string is iterable too, but no collection of peers: '' would pass as an empty one, unseen.
  if (
    typeof peers === 'string' ||
    typeof (peers as Partial<Iterable<unknown>> | null | undefined)?.[Symbol.iterator] !== 'function'
  ) {
    throw argumentError(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      `broadcast() takes an iterable of peers (a Set, an array), got ${describe(peers)}`,
    );
  }
  const list: WebSocketPeer[] = [];
  // A Set lists each peer once already; another iterable may list one twice.
  const seen = peers instanceof Set ? undefined : new Set<WebSocketPeer>();
  let anyText = false;
  let index = 0;
  for (const peer of peers) {
    if (typeof (peer as Partial<WebSocketPeer> | null | undefined)?.[kBroadcast] !== 'function') {
      throw argumentError(
        TypeError,
        'ERR_INVALID_ARG_TYPE',
        `broadcast(): item ${index} of peers is not a WebSocketPeer, got ${describe(peer)}`,
      );
    }
    index++;
    if (seen !== undefined) {
      if (seen.has(peer)) continue;
      seen.add(peer);
    }
    if (!anyText && peer.getWriteMode() === WriteMode.Text) anyText = true;
    list.push(peer);
  }
  return { list, anyText };
}

/**
 * @internal `texts`, text messages in this order, to each of `peers` (a server's peers, checked
 * by the caller): framed once, and written to each peer that takes shared frames as one buffer,
 * one write for them all instead of one each. What the rooms server sends a room's subscribers.
 * Returns the peers that could not take them (closing or closed).
 */
export function broadcastTexts(peers: Iterable<WebSocketPeer>, texts: readonly string[]): WebSocketPeer[] {
  const shared = new SharedTexts(texts);
  const failed: WebSocketPeer[] = [];
  for (const peer of peers) if (peer[kBroadcastTexts](shared) !== undefined) failed.push(peer);
  return failed;
}
