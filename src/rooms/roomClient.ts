// The client side of the rooms protocol (docs/rooms.md): joins and publishes over a reconnecting()
// connection, resuming every room from the last position it delivered after each reconnect.
import { Observable, type Subscriber, type Subscription } from 'rxjs';
import { argumentError, WebSocketPeerError } from '../errors/WebSocketPeerError.js';
import { asBytes, describe } from '../internal/bytes.js';
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
  frame: string;
  subscriber: Subscriber<Position>;
}

/**
 * The rooms of a `reconnecting()` connection to a `serveRooms()` server. Nothing is sent until
 * you join or publish; the connection is opened then.
 */
export function roomClient(connection: Connection): RoomClient {
  if (typeof connection !== 'object' || connection === null || typeof connection.send !== 'function') {
    throw argumentError(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      'roomClient(): the argument must be a reconnecting() Connection',
    );
  }
  const joined = new Map<string, Joined>();
  const pending = new Map<string, Pending>();
  let reading: Subscription | undefined;
  let counter = 0;
  const prefix = newId();

  const sendNow = (frame: string): void => {
    // While not open, nothing is queued: every join and pending publish goes out on the next open.
    if (connection.currentStatus.state === 'open') connection.send(frame);
  };
  const joinFrame = (room: string, last: Position | undefined): string =>
    JSON.stringify(last === undefined ? { type: 'join', room } : { type: 'join', room, from: last });

  const start = (): void => {
    if (reading !== undefined) return;
    reading = connection.peer$.subscribe(() => {
      // A new connection: every room resumes where it stood, every publish not acknowledged goes again.
      for (const [room, entry] of joined) connection.send(joinFrame(room, entry.last));
      for (const { frame } of pending.values()) connection.send(frame);
    });
    reading.add(
      connection.packets$.subscribe({
        next: (packet) => {
          if (packet.isString) receive(packet.data);
        },
        error: (error: unknown) => fail(error),
        complete: () => fail(new WebSocketPeerError('ERR_PEER_CLOSED', 'roomClient(): the connection closed')),
      }),
    );
    connection.open();
  };

  /** The connection is gone for good: every join and publish ends with `error`. */
  const fail = (error: unknown): void => {
    for (const entry of joined.values()) entry.subscriber.error(error);
    for (const { subscriber } of pending.values()) subscriber.error(error);
    joined.clear();
    pending.clear();
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
        pending.delete(id);
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
          pending.delete(id);
          waiting?.subscriber.error(error);
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
      return new Observable<Position>((subscriber) => {
        pending.set(id, { frame, subscriber });
        if (reading === undefined) start();
        else sendNow(frame);
        return () => {
          pending.delete(id);
        };
      });
    },
  };
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
