// The client side of the rooms protocol (docs/rooms.md): joins and publishes over a reconnecting()
// connection, resuming every room from the last position it delivered after each reconnect.
import { Observable, type Subscriber, Subscription } from 'rxjs';
import { argumentError, WebSocketPeerError } from '../errors/WebSocketPeerError.js';
import { asBytes, describe, utf8Length } from '../internal/bytes.js';
import { checkOptionKeys, optionKeys } from '../internal/optionKeys.js';
import { checkOption, isPositiveInteger } from '../internal/options.js';
import { kQueueBounds } from '../internal/symbols.js';
import type { Connection } from '../reconnect/Connection.js';
import { fromBase64, toBase64 } from './base64.js';
import { newId } from './ids.js';
import { RoomGapError } from './RoomGapError.js';
import type { Position, RoomMessage } from './types.js';

/** What `roomClient()` gives: rooms over one connection. */
export interface RoomClient {
  /**
   * The messages of `room` after `from` (exclusive), or from now: each once, in the room's order,
   * however often the connection drops (each reconnect resumes from the last one delivered).
   * Errors with `ERR_ROOM_GAP` when the history no longer reaches back, `ERR_ROOM_FORBIDDEN` when
   * the server refuses. One subscription per room at a time.
   */
  join(room: string, options?: { from?: Position }): Observable<RoomMessage>;
  /**
   * Publishes `data` into `room` (sent at once, or on the next connection), and emits the stored
   * position once the server acknowledged it, then completes. Sent again under the same id on
   * each new connection until acknowledged: stored once.
   */
  publish(room: string, data: string | Uint8Array): Observable<Position>;
}

interface Joined {
  subscriber: Subscriber<RoomMessage>;
  /** The last position delivered (or the one delivery starts after). */
  last: Position | undefined;
}

interface Pending {
  readonly id: string;
  readonly frame: string;
  /** Its payload bytes, for the connection's `maxQueuedWriteBytes`. */
  readonly bytes: number;
  readonly subscriber: Subscriber<Position>;
  /** Sent on the current connection, and not acknowledged yet. */
  inFlight: boolean;
}

/** Options of `roomClient()`. */
export interface RoomClientOptions {
  /**
   * Publishes sent and not yet acknowledged, at most, on one connection; the next ones go as
   * acknowledgements come. On a connection that drops often, a small window is what lets each
   * connection get something acknowledged before it drops. Default 256.
   */
  maxInFlight?: number;
}

export const ROOM_CLIENT_OPTION_KEYS = optionKeys<RoomClientOptions>({ maxInFlight: true });
const DEFAULT_MAX_IN_FLIGHT = 256;

/**
 * The rooms of a `reconnecting()` connection to a `serveRooms()` server. Nothing is sent until
 * you join or publish; the connection is opened then. Publishes not yet acknowledged are bounded
 * by the connection's `maxQueuedWrites` and `maxQueuedWriteBytes`: past them, `publish()` errors
 * with `ERR_QUEUE_FULL`.
 * @throws TypeError (`ERR_INVALID_ARG_TYPE`) for what is not a `reconnecting()` connection,
 *   (`ERR_INVALID_OPTION`) for an unknown or bad option.
 */
export function roomClient(connection: Connection, options: RoomClientOptions = {}): RoomClient {
  if (typeof connection !== 'object' || connection === null || typeof connection.send !== 'function') {
    throw argumentError(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      'roomClient(): the argument must be a reconnecting() Connection',
    );
  }
  if (typeof options !== 'object' || options === null) {
    throw argumentError(TypeError, 'ERR_INVALID_OPTION', 'roomClient(): options must be an object');
  }
  checkOptionKeys('roomClient', options, ROOM_CLIENT_OPTION_KEYS);
  const { maxInFlight = DEFAULT_MAX_IN_FLIGHT } = options;
  checkOption('roomClient', 'maxInFlight', maxInFlight, isPositiveInteger, 'a positive integer');
  const bounds = connection[kQueueBounds] ?? { writes: Infinity, bytes: Infinity };
  const joined = new Map<string, Joined>();
  /** Publishes not acknowledged, in the order published: the order they are sent in. */
  const pending = new Map<string, Pending>();
  let pendingBytes = 0;
  /** Those of `pending` to send on this connection, in order, from `next` on. */
  let toSend: Pending[] = [];
  let next = 0;
  let inFlight = 0;
  let reading: Subscription | undefined;
  let counter = 0;
  const prefix = newId();

  /** Sends the next publishes while the window has room and the connection is open. */
  const pump = (): void => {
    if (connection.currentStatus.state !== 'open') return;
    while (inFlight < maxInFlight && next < toSend.length) {
      const entry = toSend[next++] as Pending;
      if (pending.get(entry.id) !== entry || entry.inFlight) continue;
      entry.inFlight = true;
      inFlight++;
      connection.send(entry.frame);
    }
    if (next === toSend.length) {
      toSend = [];
      next = 0;
    }
  };
  /** A publish leaves: acknowledged, refused, or unsubscribed. */
  const settle = (entry: Pending): void => {
    pending.delete(entry.id);
    pendingBytes -= entry.bytes;
    if (entry.inFlight) {
      entry.inFlight = false;
      inFlight--;
    }
    pump();
  };

  const sendNow = (frame: string): void => {
    // While not open, nothing is queued: every join and pending publish goes out on the next open.
    if (connection.currentStatus.state === 'open') connection.send(frame);
  };
  const joinFrame = (room: string, last: Position | undefined): string =>
    JSON.stringify(last === undefined ? { type: 'join', room } : { type: 'join', room, from: last });

  const start = (): void => {
    if (reading !== undefined) return;
    reading = new Subscription();
    reading.add(
      connection.peer$.subscribe(() => {
        // A new connection: every room resumes where it stood, every publish not acknowledged goes
        // again, in the order published, as the window allows.
        for (const [room, entry] of joined) connection.send(joinFrame(room, entry.last));
        toSend = [...pending.values()];
        next = 0;
        inFlight = 0;
        for (const entry of toSend) entry.inFlight = false;
        pump();
      }),
    );
    reading.add(
      connection.packets$.subscribe({
        next: (packet) => {
          if (packet.isString) receive(packet.data);
        },
        error: (error: unknown) => fail(error),
      }),
    );
    // Closed for good: by close(), and each join completes; or because it gave up, and each
    // errors with why. A publish not acknowledged errors either way: it may not be stored.
    reading.add(
      connection.status$.subscribe((status) => {
        if (status.state === 'closed') fail(closedError(status.reason), status.reason === undefined);
      }),
    );
    connection.open();
  };

  /** The connection is gone for good: every join and publish ends with `error`. */
  const fail = (error: unknown, joinsComplete = false): void => {
    const rooms = [...joined.values()];
    const publishes = [...pending.values()];
    joined.clear();
    pending.clear();
    pendingBytes = 0;
    toSend = [];
    for (const { subscriber } of rooms) {
      if (joinsComplete) subscriber.complete();
      else subscriber.error(error);
    }
    for (const { subscriber } of publishes) subscriber.error(error);
  };

  const receive = (text: string): void => {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    const room = message['room'] as string;
    const entry = joined.get(room);
    switch (message['type']) {
      case 'joined':
        if (entry !== undefined && entry.last === undefined) entry.last = message['after'] as Position;
        return;
      case 'message': {
        if (entry === undefined) return;
        const position = message['position'] as Position;
        // Across a reconnect the server may send what was delivered already: once is enough.
        if (entry.last !== undefined && entry.last.epoch === position.epoch && position.offset <= entry.last.offset) {
          return;
        }
        entry.last = position;
        const isString = typeof message['text'] === 'string';
        const data = isString
          ? (message['text'] as string)
          : (fromBase64(message['bytes'] as string) ?? new Uint8Array());
        entry.subscriber.next({ room, position, isString, data });
        return;
      }
      case 'ack': {
        const id = message['id'] as string;
        const waiting = pending.get(id);
        if (waiting === undefined) return;
        settle(waiting);
        waiting.subscriber.next(message['position'] as Position);
        waiting.subscriber.complete();
        return;
      }
      case 'error': {
        const code = message['code'];
        const id = message['id'];
        const error =
          code === 'ERR_ROOM_GAP'
            ? new RoomGapError(
                room,
                message['lastDelivered'] as Position | undefined,
                message['oldestAvailable'] as Position | undefined,
              )
            : new WebSocketPeerError(
                code === 'ERR_ROOM_FORBIDDEN' ? 'ERR_ROOM_FORBIDDEN' : 'ERR_ENGINE_DOWN',
                `Room ${JSON.stringify(room)}: the server answered ${String(code)}`,
              );
        if (typeof id === 'string') {
          const waiting = pending.get(id);
          if (waiting === undefined) return;
          settle(waiting);
          waiting.subscriber.error(error);
        } else if (entry !== undefined) {
          joined.delete(room);
          entry.subscriber.error(error);
        }
        return;
      }
    }
  };

  return {
    join(room: string, options: { from?: Position } = {}): Observable<RoomMessage> {
      checkRoom('join', room);
      return new Observable<RoomMessage>((subscriber) => {
        if (connection.currentStatus.state === 'closed') {
          subscriber.error(closedError(connection.currentStatus.reason));
          return undefined;
        }
        if (joined.has(room)) {
          subscriber.error(
            argumentError(TypeError, 'ERR_INVALID_ARG_TYPE', `join(): room ${JSON.stringify(room)} is joined already`),
          );
          return undefined;
        }
        const entry: Joined = { subscriber, last: options.from };
        joined.set(room, entry);
        // The first join or publish starts reading, which sends it with everything on each open.
        if (reading === undefined) start();
        else sendNow(joinFrame(room, entry.last));
        return () => {
          if (joined.get(room) !== entry) return;
          joined.delete(room);
          sendNow(JSON.stringify({ type: 'leave', room }));
        };
      });
    },

    publish(room: string, data: string | Uint8Array): Observable<Position> {
      checkRoom('publish', room);
      const bytes = typeof data === 'string' ? undefined : asBytes(data);
      if (typeof data !== 'string' && bytes === undefined) {
        throw argumentError(
          TypeError,
          'ERR_INVALID_DATA',
          `publish(): the data must be a string or bytes, got ${describe(data)}`,
        );
      }
      const id = `${prefix}:${++counter}`;
      const frame = JSON.stringify(
        bytes === undefined
          ? { type: 'publish', room, id, text: data }
          : { type: 'publish', room, id, bytes: toBase64(bytes) },
      );
      const weight = utf8Length(frame);
      return new Observable<Position>((subscriber) => {
        if (connection.currentStatus.state === 'closed') {
          subscriber.error(closedError(connection.currentStatus.reason));
          return undefined;
        }
        if (pending.size >= bounds.writes || pendingBytes + weight > bounds.bytes) {
          subscriber.error(
            new WebSocketPeerError(
              'ERR_QUEUE_FULL',
              `publish(): ${pending.size} publishes (${pendingBytes} bytes) wait for an acknowledgement already`,
              { held: pending.size },
            ),
          );
          return undefined;
        }
        const entry: Pending = { id, frame, bytes: weight, subscriber, inFlight: false };
        pending.set(id, entry);
        pendingBytes += weight;
        toSend.push(entry);
        if (reading === undefined) start();
        else pump();
        return () => {
          if (pending.get(id) === entry) settle(entry);
        };
      });
    },
  };
}

/** Why a connection closed for good, for the joins and publishes it ends: its reason, or `ERR_PEER_CLOSED`. */
function closedError(reason: unknown): unknown {
  return reason ?? new WebSocketPeerError('ERR_PEER_CLOSED', 'roomClient(): the connection is closed for good');
}

function checkRoom(fn: string, room: unknown): asserts room is string {
  if (typeof room !== 'string' || room.length === 0) {
    throw argumentError(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      `${fn}(): the room must be a non-empty string, got ${describe(room)}`,
    );
  }
}
