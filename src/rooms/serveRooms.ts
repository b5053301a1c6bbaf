// The server side of the rooms protocol (docs/rooms.md, "The wire protocol"): an operator on
// peers$ that reads each peer's join, leave and publish messages and answers through the engine.
import { from, mergeMap, Observable, type ObservableInput, type OperatorFunction, Subscription } from 'rxjs';
import { argumentError } from '../errors/WebSocketPeerError.js';
import { checkOptionKeys, optionKeys } from '../internal/optionKeys.js';
import { checkOption, isPositiveInteger } from '../internal/options.js';
import { utf8Length } from '../internal/bytes.js';
import { CloseCode } from '../peer/constants.js';
import type { Packet } from '../peer/types.js';
import type { WebSocketPeer } from '../peer/WebSocketPeer.js';
import { fromBase64, toBase64 } from './base64.js';
import { RoomGapError } from './RoomGapError.js';
import type { Position, RoomEngine, RoomMessage } from './types.js';

/** What a peer asks to do in a room, for `authorize`. */
export type RoomAction = 'join' | 'publish';

/** Options of `serveRooms()`. */
export interface ServeRoomsOptions {
  /**
   * Whether `peer` may `action` in `room`: a boolean, or a promise or observable of one (its
   * first value). A refusal is an `ERR_ROOM_FORBIDDEN` error for that room, not a closed
   * connection. Default: everything is allowed.
   */
  authorize?: (peer: WebSocketPeer, room: string, action: RoomAction) => boolean | ObservableInput<boolean>;
  /**
   * Bytes a peer may have waiting to be sent (its `bufferedAmount$`) before it is closed with
   * 4001, "subscriber too slow", so that a slow reader never grows the server without bound. Its
   * client reconnects and resumes from its position. Default 4 MiB.
   */
  maxQueuedBytes?: number;
}

export const SERVE_ROOMS_OPTION_KEYS = optionKeys<ServeRoomsOptions>({ authorize: true, maxQueuedBytes: true });

/** The close code of a subscriber that could not keep up. */
export const SLOW_SUBSCRIBER_CODE = 4001;
const DEFAULT_MAX_QUEUED_BYTES = 4 * 1024 * 1024;
const MAX_ROOM_BYTES = 256;
const MAX_ID_BYTES = 128;

/** The messages a client sends, once checked. */
type ClientMessage =
  | { type: 'join'; room: string; from: Position | undefined }
  | { type: 'leave'; room: string }
  | { type: 'publish'; room: string; id: string; data: string | Uint8Array };

/** Why a frame is no protocol message: the close code and its reason. */
class ProtocolViolation {
  constructor(
    readonly code: number,
    readonly reason: string,
  ) {}
}

/**
 * An operator on `peers$` that speaks the rooms protocol with each peer, through `engine`: a
 * peer joins rooms (from a position, or from now), leaves them, and publishes into them, and gets
 * each room's messages in the room's one order, acknowledgements, and errors for the room they
 * concern. It emits nothing; it completes when `peers$` has completed and every peer has closed.
 *
 * ```ts
 * import { listen, memoryRooms, serveRooms } from 'rx-websocket-peer';
 * import { switchMap } from 'rxjs';
 *
 * const engine = memoryRooms();
 * listen({ port: 8080 }).pipe(switchMap((server) => server.peers$), serveRooms(engine)).subscribe();
 * ```
 * @throws TypeError (`ERR_INVALID_OPTION`) for an unknown or bad option.
 */
export function serveRooms(
  engine: RoomEngine,
  options: ServeRoomsOptions = {},
): OperatorFunction<WebSocketPeer, never> {
  if (typeof engine !== 'object' || engine === null || typeof engine.room$ !== 'function') {
    throw argumentError(TypeError, 'ERR_INVALID_ARG_TYPE', 'serveRooms(): the first argument must be a RoomEngine');
  }
  if (typeof options !== 'object' || options === null) {
    throw argumentError(TypeError, 'ERR_INVALID_OPTION', 'serveRooms(): options must be an object');
  }
  checkOptionKeys('serveRooms', options, SERVE_ROOMS_OPTION_KEYS);
  const { authorize, maxQueuedBytes = DEFAULT_MAX_QUEUED_BYTES } = options;
  if (authorize !== undefined && typeof authorize !== 'function') {
    throw argumentError(TypeError, 'ERR_INVALID_OPTION', "serveRooms(): option 'authorize' must be a function");
  }
  checkOption('serveRooms', 'maxQueuedBytes', maxQueuedBytes, isPositiveInteger, 'a positive integer (bytes)');
  return (peers$) => peers$.pipe(mergeMap((peer) => servePeer(peer, engine, authorize, maxQueuedBytes)));
}

function servePeer(
  peer: WebSocketPeer,
  engine: RoomEngine,
  authorize: ServeRoomsOptions['authorize'],
  maxQueuedBytes: number,
): Observable<never> {
  return new Observable<never>((subscriber) => {
    const all = new Subscription();
    /** Each joined room's subscription to the engine. */
    const joined = new Map<string, Subscription>();

    const send = (message: object): void => {
      if (!peer.isConnectedToHost()) return;
      peer.putPacket({ isString: true, data: JSON.stringify(message) });
      if (peer.getCurrentOutboundBufferedAmount() > maxQueuedBytes) {
        peer.close(SLOW_SUBSCRIBER_CODE, 'subscriber too slow');
      }
    };
    /**
     * A peer's messages are handled one after the other, in order: while `authorize` answers one
     * asynchronously, the next ones wait here (so a publisher's messages are stored in the order
     * it sent them, and a join comes before what follows it).
     */
    let waiting: ClientMessage[] | undefined;
    const allowed = (room: string, action: RoomAction, then: () => void, refused: () => void): void => {
      if (authorize === undefined) {
        then();
        return;
      }
      let answer: boolean | ObservableInput<boolean>;
      try {
        answer = authorize(peer, room, action);
      } catch {
        refused();
        return;
      }
      if (typeof answer === 'boolean') {
        if (answer) then();
        else refused();
        return;
      }
      waiting = [];
      let decided = false;
      const decide = (ok: boolean): void => {
        if (decided) return;
        decided = true;
        if (ok) then();
        else refused();
        // Then what came meanwhile, in order (it may wait again).
        const next = waiting ?? [];
        waiting = undefined;
        while (next.length > 0 && waiting === undefined) handle(next.shift() as ClientMessage);
        if (next.length > 0) waiting = [...next, ...((waiting as ClientMessage[] | undefined) ?? [])];
      };
      all.add(
        from(answer).subscribe({
          next: (ok) => decide(ok === true),
          error: () => decide(false),
          complete: () => decide(false),
        }),
      );
    };

    const join = (room: string, position: Position | undefined): void => {
      joined.get(room)?.unsubscribe();
      const subscription = new Subscription();
      joined.set(room, subscription);
      all.add(subscription);
      const start = (after: Position): void => {
        if (subscription.closed) return;
        send({ type: 'joined', room, after });
        subscription.add(
          engine.room$(room, after).subscribe({
            next: (message) => send(messageFrame(message)),
            error: (error: unknown) => {
              joined.delete(room);
              if (error instanceof RoomGapError) {
                send({
                  type: 'error',
                  room,
                  code: error.code,
                  lastDelivered: error.lastDelivered,
                  oldestAvailable: error.oldestAvailable,
                });
              } else send({ type: 'error', room, code: codeOf(error) });
            },
          }),
        );
      };
      if (position !== undefined) start(position);
      else {
        subscription.add(
          engine.head(room).subscribe({
            next: start,
            error: (error: unknown) => send({ type: 'error', room, code: codeOf(error) }),
          }),
        );
      }
    };

    function handle(message: ClientMessage): void {
      if (waiting !== undefined) {
        waiting.push(message);
        return;
      }
      const { room } = message;
      if (message.type === 'leave') {
        joined.get(room)?.unsubscribe();
        joined.delete(room);
        return;
      }
      if (message.type === 'join') {
        allowed(
          room,
          'join',
          () => join(room, message.from),
          () => send({ type: 'error', room, code: 'ERR_ROOM_FORBIDDEN' }),
        );
        return;
      }
      const { id, data } = message;
      allowed(
        room,
        'publish',
        () =>
          all.add(
            engine.publish(room, data, id).subscribe({
              next: (position) => send({ type: 'ack', id, room, position }),
              error: (error: unknown) => send({ type: 'error', room, id, code: codeOf(error) }),
            }),
          ),
        () => send({ type: 'error', room, id, code: 'ERR_ROOM_FORBIDDEN' }),
      );
    }

    all.add(
      peer.packets$.subscribe({
        next: (packet) => {
          const message = parse(packet);
          if (message instanceof ProtocolViolation) {
            peer.close(message.code, message.reason);
            return;
          }
          handle(message);
        },
        // The peer is gone: its rooms go with it.
        error: () => subscriber.complete(),
        complete: () => subscriber.complete(),
      }),
    );
    return all;
  });
}

/** A room's message as the protocol sends it. */
function messageFrame(message: RoomMessage): object {
  return message.isString
    ? { type: 'message', room: message.room, position: message.position, text: message.data }
    : { type: 'message', room: message.room, position: message.position, bytes: toBase64(message.data as Uint8Array) };
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'ERR_ENGINE_DOWN';
}

/** One frame as a client message, or why it is none. */
function parse(packet: Packet): ClientMessage | ProtocolViolation {
  if (!packet.isString) return new ProtocolViolation(CloseCode.ProtocolError, 'rooms: binary frames are not used');
  let value: unknown;
  try {
    value = JSON.parse(packet.data);
  } catch {
    return new ProtocolViolation(CloseCode.ProtocolError, 'rooms: a frame that is not JSON');
  }
  const bad = (what: string): ProtocolViolation => new ProtocolViolation(CloseCode.PolicyViolation, `rooms: ${what}`);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return bad('a message must be an object');
  const message = value as Record<string, unknown>;
  const room = message['room'];
  if (!isText(room, MAX_ROOM_BYTES)) return bad('room must be a non-empty string of at most 256 bytes');
  switch (message['type']) {
    case 'join': {
      const position = message['from'];
      if (position === undefined || position === null) return { type: 'join', room, from: undefined };
      if (!isPosition(position)) return bad('from must be a position { epoch, offset }');
      return { type: 'join', room, from: { epoch: position.epoch, offset: position.offset } };
    }
    case 'leave':
      return { type: 'leave', room };
    case 'publish': {
      const id = message['id'];
      if (!isText(id, MAX_ID_BYTES)) return bad('id must be a non-empty string of at most 128 bytes');
      const text = message['text'];
      const bytes = message['bytes'];
      if (typeof text === 'string' && bytes === undefined) return { type: 'publish', room, id, data: text };
      if (typeof bytes === 'string' && text === undefined) {
        const decoded = fromBase64(bytes);
        if (decoded !== undefined) return { type: 'publish', room, id, data: decoded };
      }
      return bad('a publish has text (a string) or bytes (base64), one of them');
    }
    default:
      return bad(`no message of type ${JSON.stringify(message['type'])}`);
  }
}

function isText(value: unknown, maxBytes: number): value is string {
  return typeof value === 'string' && value.length > 0 && utf8Length(value) <= maxBytes;
}

function isPosition(value: unknown): value is Position {
  const p = value as Partial<Position> | null;
  return (
    typeof p === 'object' &&
    p !== null &&
    typeof p.epoch === 'string' &&
    Number.isSafeInteger(p.offset) &&
    (p.offset as number) >= 0
  );
}
