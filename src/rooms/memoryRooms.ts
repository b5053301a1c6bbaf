// The embedded room engine: each room's log in this process's memory, bounded by a message count
// and an age, and freed once nobody uses it and its history has expired.
import { Observable, type Subscriber } from 'rxjs';
import { argumentError } from '../errors/WebSocketPeerError.js';
import { checkOptionKeys, optionKeys } from '../internal/optionKeys.js';
import { checkOption, isPositiveInteger } from '../internal/options.js';
import { checkPosition, checkPublish, checkRoom } from './checks.js';
import { WeightedQueue } from '../internal/WeightedQueue.js';
import { idMaker, newId } from './ids.js';
import { RoomGapError } from './RoomGapError.js';
import type { EngineState, Position, RoomEngine, RoomMessage } from './types.js';

/** Options of `memoryRooms()`. */
export interface MemoryRoomsOptions {
  /** Messages each room keeps for subscribers that resume. Default 10,000. */
  historySize?: number;
  /** How long (ms) a message stays in its room's history. Default 5 minutes. */
  historyAge?: number;
}

export const MEMORY_ROOMS_OPTION_KEYS = optionKeys<MemoryRoomsOptions>({ historySize: true, historyAge: true });

const DEFAULT_HISTORY_SIZE = 10_000;
const DEFAULT_HISTORY_AGE_MS = 5 * 60_000;
/** Publish ids each room remembers for retries, at least (more if `historySize` is larger). */
const ID_LIMIT = 10_000;
/** How often expired messages leave and idle rooms are freed, at most (ms). */
const SWEEP_MS = 1_000;

/** A stored message, with when it was stored (for `historyAge`) and its publish id. */
interface Entry {
  readonly message: RoomMessage;
  readonly at: number;
  readonly id: string;
}

/** One room: its history (a window of the log) and who reads it live. */
class Room {
  readonly epoch = newId();
  /** The history, oldest first; the oldest has offset `first`. (Weights unused: 0.) */
  private readonly entries = new WeightedQueue<Entry>();
  first = 1;
  /**
   * Publish ids of the room's recent messages, for retries: kept for `historyAge` like the
   * messages, but up to `idLimit` of them however small `historySize` is, so that a publisher
   * with more in flight than the history holds still has its retries recognized. Oldest first.
   */
  readonly ids = new Map<string, number>();
  private readonly idOrder = new WeightedQueue<{ id: string; at: number }>();
  readonly readers = new Set<Subscriber<RoomMessage>>();
  /** Messages published while others were being delivered: delivered after, in order. */
  private pending: RoomMessage[] | undefined;

  constructor(readonly name: string) {}

  /** The offset the next message gets. */
  get next(): number {
    return this.first + this.entries.size;
  }

  get size(): number {
    return this.entries.size;
  }

  at(offset: number): Entry {
    return this.entries.at(offset - this.first);
  }

  position(offset: number): Position {
    return { epoch: this.epoch, offset };
  }

  append(data: string | Uint8Array, id: string, now: number, historySize: number): Position {
    const offset = this.next;
    const message: RoomMessage = {
      room: this.name,
      position: this.position(offset),
      isString: typeof data === 'string',
      data,
    };
    this.entries.push({ message, at: now, id }, 0);
    this.ids.set(id, offset);
    this.idOrder.push({ id, at: now }, 0);
    if (this.size > historySize) this.drop(this.size - historySize);
    if (this.idOrder.size > Math.max(historySize, ID_LIMIT)) this.forgetIds(1);
    this.deliver(message);
    return message.position;
  }

  /** Lets the `count` oldest messages go. */
  drop(count: number): void {
    for (let i = 0; i < count; i++) this.entries.shift();
    this.first += count;
  }

  /** Lets the messages, and the ids, stored before `before` go. */
  expire(before: number): void {
    let count = 0;
    while (count < this.size && this.entries.at(count).at < before) count++;
    if (count > 0) this.drop(count);
    count = 0;
    while (count < this.idOrder.size && this.idOrder.at(count).at < before) count++;
    if (count > 0) this.forgetIds(count);
  }

  /** Forgets the `count` oldest ids. */
  private forgetIds(count: number): void {
    for (let i = 0; i < count; i++) this.ids.delete(this.idOrder.shift().id);
  }

  /** Whether it holds nothing a subscriber or a retry could still need. */
  get idle(): boolean {
    return this.size === 0 && this.readers.size === 0 && this.idOrder.size === 0;
  }

  private deliver(message: RoomMessage): void {
    if (this.pending !== undefined) {
      // A reader published while we deliver: its message goes to everyone after this one.
      this.pending.push(message);
      return;
    }
    this.pending = [message];
    try {
      for (let i = 0; i < this.pending.length; i++) {
        const next = this.pending[i] as RoomMessage;
        for (const reader of this.readers) reader.next(next);
      }
    } finally {
      this.pending = undefined;
    }
  }
}

/**
 * The embedded `RoomEngine`: rooms in this process's memory. Each keeps its last `historySize`
 * messages, each for `historyAge` ms, for subscribers that resume from a position; memory is
 * bounded by those (and the size of the messages). A room nobody reads and whose history has
 * expired is freed: a subscriber that comes back to it later gets `ERR_ROOM_GAP`, since a new
 * room has a new epoch, even if nothing was published meanwhile. Everything is lost when the
 * process ends: for rooms that survive a process, and many processes, see `redisRooms()`.
 *
 * @throws TypeError (`ERR_INVALID_OPTION`) for an unknown or bad option.
 */
export function memoryRooms(options: MemoryRoomsOptions = {}): RoomEngine {
  if (typeof options !== 'object' || options === null) {
    throw argumentError(TypeError, 'ERR_INVALID_OPTION', 'memoryRooms(): options must be an object');
  }
  checkOptionKeys('memoryRooms', options, MEMORY_ROOMS_OPTION_KEYS);
  const { historySize = DEFAULT_HISTORY_SIZE, historyAge = DEFAULT_HISTORY_AGE_MS } = options;
  checkOption('memoryRooms', 'historySize', historySize, isPositiveInteger, 'a positive integer');
  checkOption('memoryRooms', 'historyAge', historyAge, isPositiveInteger, 'a positive integer (ms)');

  const rooms = new Map<string, Room>();
  const newPublishId = idMaker();
  let sweeper: ReturnType<typeof setInterval> | undefined;

  /** Expired messages leave, idle empty rooms go; the timer stops when no room is left. */
  const sweep = (): void => {
    const before = Date.now() - historyAge;
    for (const [name, room] of rooms) {
      room.expire(before);
      if (room.idle) rooms.delete(name);
    }
    if (rooms.size === 0 && sweeper !== undefined) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  };

  const roomNamed = (name: string): Room => {
    let room = rooms.get(name);
    if (room === undefined) {
      room = new Room(name);
      rooms.set(name, room);
      if (sweeper === undefined) {
        sweeper = setInterval(sweep, Math.min(SWEEP_MS, historyAge));
        // An engine with rooms does not keep the process alive by itself.
        if (typeof sweeper === 'object') sweeper.unref();
      }
    } else room.expire(Date.now() - historyAge);
    return room;
  };

  return {
    publish(room: string, data: string | Uint8Array, id?: string): Observable<Position> {
      const payload = checkPublish(room, data, id);
      // A copy: the caller may change its bytes once this returns; the history keeps them.
      const stored = typeof payload === 'string' ? payload : payload.slice();
      const publishId = id ?? newPublishId();
      return new Observable<Position>((subscriber) => {
        const target = roomNamed(room);
        const known = target.ids.get(publishId);
        subscriber.next(
          known !== undefined ? target.position(known) : target.append(stored, publishId, Date.now(), historySize),
        );
        subscriber.complete();
      });
    },

    room$(room: string, from?: Position): Observable<RoomMessage> {
      checkRoom('room$', room);
      if (from !== undefined) checkPosition(from);
      return new Observable<RoomMessage>((subscriber) => {
        const target = roomNamed(room);
        if (from !== undefined) {
          // The history must hold every message after `from`, in `from`'s epoch.
          if (from.epoch !== target.epoch || from.offset < target.first - 1 || from.offset >= target.next) {
            const oldest = target.size > 0 ? target.position(target.first) : undefined;
            subscriber.error(new RoomGapError(room, from, oldest));
            return undefined;
          }
          for (let offset = from.offset + 1; offset < target.next && !subscriber.closed; offset++) {
            if (offset < target.first) {
              // Publishes made by the reader itself during the replay pushed the rest out.
              subscriber.error(new RoomGapError(room, target.position(offset - 1), target.position(target.first)));
              return undefined;
            }
            subscriber.next(target.at(offset).message);
          }
        }
        if (subscriber.closed) return undefined;
        target.readers.add(subscriber);
        return () => {
          target.readers.delete(subscriber);
        };
      });
    },

    head(room: string): Observable<Position> {
      checkRoom('head', room);
      return new Observable<Position>((subscriber) => {
        const target = roomNamed(room);
        subscriber.next(target.position(target.next - 1));
        subscriber.complete();
      });
    },

    state$: new Observable<EngineState>((subscriber) => {
      // In memory it is up as long as the process is.
      subscriber.next('up');
    }),
  };
}
