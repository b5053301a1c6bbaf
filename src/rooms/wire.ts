// The rooms protocol's frames (docs/rooms.md, "The wire protocol"): what a client may send, checked
// field by field, and the server's answers, encoded. serveRooms() and roomClient() both speak it.
import { utf8Length } from '../internal/bytes.js';
import { CloseCode } from '../peer/constants.js';
import type { Packet } from '../peer/types.js';
import { fromBase64, toBase64 } from './base64.js';
import { isPosition, MAX_ID_BYTES, MAX_ROOM_BYTES } from './checks.js';
import type { Position, RoomMessage } from './types.js';

/** A client's message, once checked. */
export type ClientMessage =
  | { type: 'join'; room: string; from: Position | undefined }
  | { type: 'leave'; room: string }
  | { type: 'publish'; room: string; id: string; data: string | Uint8Array };

/** Why a frame is no client message: the close code and its reason. */
export class ProtocolViolation {
  constructor(
    readonly code: number,
    readonly reason: string,
  ) {}
}

/** One frame as a client message, or why it is none: 1002 for what is not JSON text, 1008 for the rest. */
export function parseClientMessage(packet: Packet): ClientMessage | ProtocolViolation {
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

/** A room's message as the server sends it: one JSON text, the same for every subscriber. */
export function messageFrame(message: RoomMessage): string {
  return JSON.stringify(
    message.isString
      ? { type: 'message', room: message.room, position: message.position, text: message.data }
      : {
          type: 'message',
          room: message.room,
          position: message.position,
          bytes: toBase64(message.data as Uint8Array),
        },
  );
}

export function joinedFrame(room: string, after: Position): string {
  return JSON.stringify({ type: 'joined', room, after });
}

export function ackFrame(id: string, room: string, position: Position): string {
  return JSON.stringify({ type: 'ack', id, room, position });
}

/** An error for a room (or, with `id`, for one publish into it); the connection stays open. */
export function errorFrame(room: string, code: string, details?: object): string {
  return JSON.stringify({ type: 'error', room, code, ...details });
}

function isText(value: unknown, maxBytes: number): value is string {
  return typeof value === 'string' && value.length > 0 && utf8Length(value) <= maxBytes;
}

/** Whether two positions are the same one (the same epoch, the same offset). */
export function samePosition(a: Position | undefined, b: Position | undefined): boolean {
  return a !== undefined && b !== undefined && a.offset === b.offset && a.epoch === b.epoch;
}
