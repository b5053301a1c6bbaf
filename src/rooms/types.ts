import type { Observable } from 'rxjs';

/**
 * Where a message stands in its room's log. Offsets grow by one per message, from 1; `epoch`
 * names the life of the room's history and changes whenever that history was lost (a room freed
 * and made again, an engine that restarted without its data), so that two positions compare only
 * within one epoch.
 */
export interface Position {
  readonly epoch: string;
  readonly offset: number;
}

/** One message of a room, as the engine stored it. */
export interface RoomMessage {
  readonly room: string;
  readonly position: Position;
  readonly isString: boolean;
  readonly data: string | Uint8Array;
}

/** Whether the engine can serve: `'catching-up'` while it reads what it missed (Redis, later). */
export type EngineState = 'up' | 'catching-up' | 'down';

/**
 * The log behind the rooms: `memoryRooms()` in one process, Redis across processes (issue 18).
 * Every method is cold and may answer asynchronously.
 */
export interface RoomEngine {
  /**
   * Appends `data` to `room` once per `id` (one is made when none is given, so that subscribing
   * twice appends once), and emits where it was stored, then completes. A publish retried with the
   * same `id` while its message is still in the room's history emits the same position.
   */
  publish(room: string, data: string | Uint8Array, id?: string): Observable<Position>;
  /**
   * The messages of `room` after `from` (exclusive), then each new one as it is published, in the
   * room's one order; without `from`, from the next message on. Errors with `ERR_ROOM_GAP`
   * (a `RoomGapError`) when the history no longer reaches back to `from`, or `from` is of
   * another epoch: never a silent hole.
   */
  room$(room: string, from?: Position): Observable<RoomMessage>;
  /**
   * The position of `room`'s last message (offset 0 in the room's epoch when it has none yet),
   * then completes: where a subscriber that joins from now starts, so that it can resume exactly
   * even before its first message (`room$(room, head)` misses nothing published meanwhile).
   */
  head(room: string): Observable<Position>;
  /** The engine's state on subscribe, then each change. */
  readonly state$: Observable<EngineState>;
}
