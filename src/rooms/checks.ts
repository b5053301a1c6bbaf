// What every room engine checks of its caller's arguments, the same way: the engines are
// interchangeable, so their errors are too.
import { argumentError } from '../errors/WebSocketPeerError.js';
import { asBytes, describe, utf8Length } from '../internal/bytes.js';
import type { Position } from './types.js';

/** The longest room name and publish id, in UTF-8 bytes: they travel in every message. */
export const MAX_ROOM_BYTES = 256;
export const MAX_ID_BYTES = 128;

export function checkRoom(fn: string, room: unknown): asserts room is string {
  checkText(fn, 'the room', room, MAX_ROOM_BYTES);
}

export function checkId(fn: string, id: unknown): asserts id is string {
  checkText(fn, 'the id', id, MAX_ID_BYTES);
}

function checkText(fn: string, what: string, value: unknown, maxBytes: number): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) {
    throw argumentError(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      `${fn}(): ${what} must be a non-empty string, got ${describe(value)}`,
    );
  }
  if (utf8Length(value) > maxBytes) {
    throw argumentError(RangeError, 'ERR_INVALID_ARG_TYPE', `${fn}(): ${what} is over ${maxBytes} UTF-8 bytes`);
  }
}

export function isPosition(value: unknown): value is Position {
  const p = value as Partial<Position> | null;
  return (
    typeof p === 'object' &&
    p !== null &&
    typeof p.epoch === 'string' &&
    Number.isSafeInteger(p.offset) &&
    (p.offset as number) >= 0
  );
}

export function checkPosition(position: unknown): asserts position is Position {
  if (!isPosition(position)) {
    throw argumentError(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      `room$(): from must be a Position { epoch: string, offset: integer >= 0 }, got ${describe(position)}`,
    );
  }
}

/**
 * The arguments of `engine.publish()`, checked as every engine checks them: the data as a string
 * or a plain `Uint8Array` view of the caller's bytes (not copied: an engine keeps its own copy).
 */
export function checkPublish(room: unknown, data: unknown, id: unknown): string | Uint8Array {
  checkRoom('publish', room);
  const payload = typeof data === 'string' ? data : asBytes(data);
  if (payload === undefined) {
    throw argumentError(
      TypeError,
      'ERR_INVALID_DATA',
      `publish(): the data must be a string or bytes, got ${describe(data)}`,
    );
  }
  if (id !== undefined) checkId('publish', id);
  return payload;
}
