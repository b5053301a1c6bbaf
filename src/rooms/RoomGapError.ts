import { WebSocketPeerError } from '../errors/WebSocketPeerError.js';
import type { Position } from './types.js';

/**
 * `ERR_ROOM_GAP`: the room's history no longer reaches back to where the subscriber stands, or
 * it is a history of another epoch. Nothing after `lastDelivered` can be delivered without a
 * hole; `oldestAvailable` is the oldest message still there (`undefined` when none is).
 */
export class RoomGapError extends WebSocketPeerError {
  constructor(
    readonly room: string,
    readonly lastDelivered: Position | undefined,
    readonly oldestAvailable: Position | undefined,
  ) {
    super(
      'ERR_ROOM_GAP',
      `Room ${JSON.stringify(room)}: the history does not reach back to ${describePosition(lastDelivered)} ` +
        `(oldest available: ${describePosition(oldestAvailable)})`,
    );
  }
}

function describePosition(position: Position | undefined): string {
  return position === undefined ? 'none' : `${position.offset} of epoch ${position.epoch}`;
}
