/**
 * @internal Keys of the peer's methods that the library's own operators use and users do not:
 * symbols that `src/index.ts` does not export, so they stay out of the public API.
 */

/**
 * `peer[kWrite](data, onWritten, mode?)`: `putPacket(data)`, and `onWritten()` once the OS has the
 * bytes; `mode`, when given, stands in for the peer's write mode for this one write.
 */
export const kWrite: unique symbol = Symbol('rx-websocket-peer.write');

/**
 * `peer[kWatchInbox](listener)`: calls `listener()` whenever a packet arrives in the inbound queue
 * or the queue ends, so a consumer can pull with `getPacket()` at its own pace. Returns the
 * function that stops the calls.
 */
export const kWatchInbox: unique symbol = Symbol('rx-websocket-peer.watchInbox');

/**
 * `peer[kWhenClosed](watcher)`: calls `watcher(info, peer)` (or ends a `connect()` subscriber) once the peer has closed, at once if
 * it has. What `listen()` and `connect()` use to follow each peer, for less than a `closed$`
 * subscription costs.
 */
export const kWhenClosed: unique symbol = Symbol('rx-websocket-peer.whenClosed');

/**
 * `peer[kBroadcast](message)`: `broadcast()`'s write to one peer of a message already checked
 * against the peer's write mode, as its shared frame where the transport takes one. Returns
 * `undefined` once the message is sent, or the `ERR_PEER_CLOSED` error a write would throw (and
 * sends nothing).
 */
export const kBroadcast: unique symbol = Symbol('rx-websocket-peer.broadcast');

/**
 * `connection[kQueueBounds]`: the `maxQueuedWrites` and `maxQueuedWriteBytes` a `Connection`
 * was made with, so that `roomClient()` holds its publishes to the connection's queue rules.
 */
export const kQueueBounds: unique symbol = Symbol('rx-websocket-peer.queueBounds');

/**
 * `peer[kBroadcastTexts](texts)`: `broadcastTexts()`'s write to one peer of several text
 * messages, as one write of their shared frames where the transport takes them, else one by one.
 * Returns as `kBroadcast` does.
 */
export const kBroadcastTexts: unique symbol = Symbol('rx-websocket-peer.broadcastTexts');
