// The room engine on Redis 7 (issue 18), through the user's own node-redis client: per room a
// Redis Stream is the log and a pub/sub channel only a nudge (Centrifugo's design). Publishing is
// one Lua script (next offset, XADD at that offset, the publish id's record, PUBLISH); each
// process holds one subscriber connection with one subscription per room it reads, and reads
// from the stream whatever the channel did not bring, so delivery is in offset order with no hole.
import { BehaviorSubject, distinctUntilChanged, Observable, type Subscriber } from 'rxjs';
import { argumentError, WebSocketPeerError } from '../errors/WebSocketPeerError.js';
import { describe } from '../internal/bytes.js';
import { checkOptionKeys, optionKeys } from '../internal/optionKeys.js';
import { checkOption, isPositiveInteger } from '../internal/options.js';
import { fromBase64, toBase64 } from './base64.js';
import { checkPosition, checkPublish, checkRoom } from './checks.js';
import { idMaker } from './ids.js';
import { RoomGapError } from './RoomGapError.js';
import type { EngineState, Position, RoomEngine, RoomMessage } from './types.js';

/**
 * What `redisRooms()` uses of a node-redis client (`redis` on npm, v5 or later): a structural
 * type, so that this package never imports `redis`. Pass the client you made with
 * `createClient()` and connected; you own its life and its `'error'` listener.
 */
export interface RedisClientLike {
  readonly isReady: boolean;
  sendCommand(args: readonly string[]): Promise<unknown>;
  on(event: 'ready' | 'end' | 'reconnecting', listener: () => void): unknown;
  off(event: 'ready' | 'end' | 'reconnecting', listener: () => void): unknown;
  /** A second connection like this one: the engine's subscriber, which the engine owns. */
  duplicate(): RedisSubscriberLike;
}

/** The engine's own subscriber connection, made with `duplicate()`. */
export interface RedisSubscriberLike {
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  destroy(): void;
  on(event: 'ready' | 'end' | 'reconnecting' | 'error', listener: (error?: unknown) => void): unknown;
  subscribe(channel: string, listener: (message: string, channel: string) => void): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
}

/** The engine `redisRooms()` makes: a `RoomEngine` you can let go of. */
export interface RedisRoomEngine extends RoomEngine {
  /**
   * Lets go of the client (its listeners come off; the client stays yours, connected) and closes
   * the engine's own subscriber connection. Readers, and publishes not yet sent, end with
   * `ERR_ENGINE_DOWN`; later calls fail with it; `state$` ends after `'down'`. Idempotent.
   */
  close(): void;
}

/** Options of `redisRooms()`. */
export interface RedisRoomsOptions {
  /** Messages each room keeps for readers (the stream may hold a few more: `MAXLEN ~`). Default 10,000. */
  historySize?: number;
  /**
   * How long (ms) a room's keys live after its last publish, at least (at most a tenth longer): a
   * room nobody publishes into for this long is freed, and comes back in a new epoch. Its publish
   * ids (the last 10,000, or `historySize` if larger) are remembered as long. Default 5 minutes.
   */
  historyAge?: number;
  /** The start of every key and channel name. Default `'rxwp'`. */
  prefix?: string;
}

export const REDIS_ROOMS_OPTION_KEYS = optionKeys<RedisRoomsOptions>({
  historySize: true,
  historyAge: true,
  prefix: true,
});

const DEFAULT_HISTORY_SIZE = 10_000;
const DEFAULT_HISTORY_AGE_MS = 5 * 60_000;
/** Publish ids each room remembers for retries, at least (more if `historySize` is larger). */
const ID_LIMIT = 10_000;
/**
 * Stream entries read at a time, while catching up: each holds the messages of one publish call,
 * so at most MAX_BATCH messages and about MAX_BATCH_BYTES.
 */
const PAGE_ENTRIES = 16;
/** Publishes of one room stored by one call, at most (more wait for the next): Lua's unpack() takes 8,000 values. */
const MAX_BATCH = 1_000;
/** Data of one call, about (a larger message goes alone). */
const MAX_BATCH_BYTES = 1 << 20;
/** How soon a reader reads again after Redis answered LOADING (or BUSY, ...). */
const RETRY_MS = 50;

/**
 * The publishes of one room, stored in one call (at most MAX_BATCH of them, their ids distinct).
 * KEYS: log (stream), ids and the ids before them (hashes). ARGV: a new epoch (used if the room
 * has none), the history size, the age in ms, the channel, how many ids to remember at least, the
 * messages (`packMessages()`), then the id of each. Returns { epoch, first offset }: the messages
 * got the next offsets, in order. If Redis remembers any of the ids, it stores nothing and returns
 * { epoch, '', index (1-based), offset, index, offset, ... } of those: the caller sends the others
 * again (a retry: rare, and never a hole in the order).
 *
 * A call's messages are one stream entry, id `<last offset>-<first offset>`, one field `m` -> the
 * messages packed as the caller gave them (so a reader finds offset F in the first entry whose id
 * is at least `F-0`), and go out in one nudge: `<first offset> <epoch> <packed messages>`. One
 * XADD of one field per call and no Lua string per message but its id: an XADD per message cost
 * a script about 1.5 us a message, and a kind and a data argument per message (and a field each
 * in the entry, and cjson for the nudge) 0.8 us (redis-benchmark of the script, 6 publishes a
 * call: 19 us against 24).
 *
 * The ids hash also holds the room's head under the field '' (no publish id is empty):
 * `<last offset> <ms the expiries were refreshed> <epoch>`. Keys live at least `historyAge` after
 * the last publish: their expiry is set to 1.1 x the age, again only once a tenth of the age has
 * gone by (Redis's clock: TIME), not by every call.
 *
 * Ids are kept in two generations: when the offsets pass a multiple of the number to remember,
 * the ids hash becomes the previous one (RENAME, which drops the generation before), so the last
 * that many are always known, at most twice as many are kept, and no id is deleted one by one (a
 * sorted set trimmed by score cost a ZADD and a ZSCORE per message). The stream drops entries
 * whose messages are all older than the history (`MINID ~`); READ_SCRIPT hides the older
 * messages of the entry that straddles it, so a reader sees exactly `historySize` messages, as
 * from memoryRooms().
 */
const PUBLISH_SCRIPT = `
local n = #ARGV - 6
local now = redis.call('HMGET', KEYS[2], '', unpack(ARGV, 7))
local before = redis.call('HMGET', KEYS[3], unpack(ARGV, 7))
local epoch, seq, refreshed
if now[1] then
  local s, r
  s, r, epoch = string.match(now[1], '^(%d+) (%d+) (.*)$')
  seq, refreshed = tonumber(s), tonumber(r)
else
  epoch, seq, refreshed = ARGV[1], 0, 0
end
local known
for j = 1, n do
  local offset = now[j + 1] or before[j]
  if offset then
    known = known or {epoch, ''}
    known[#known + 1] = j
    known[#known + 1] = offset
  end
end
if known then return known end
local age = tonumber(ARGV[3])
local t = redis.call('TIME')
local ms = t[1] * 1000 + math.floor(t[2] / 1000)
local refresh = ms - refreshed >= age / 10
if refresh then refreshed = ms end
local first = seq + 1
seq = seq + n
local floor = math.max(seq - tonumber(ARGV[2]) + 1, 1)
redis.call('XADD', KEYS[1], 'MINID', '~', floor .. '-0', seq .. '-' .. first, 'm', ARGV[6])
local keep = tonumber(ARGV[5])
if now[1] and math.floor(seq / keep) > math.floor((first - 1) / keep) then
  redis.call('RENAME', KEYS[2], KEYS[3])
  refresh = true
end
local added = {'', seq .. ' ' .. refreshed .. ' ' .. epoch}
for j = 1, n do
  added[2 * j + 1] = ARGV[6 + j]
  added[2 * j + 2] = first + j - 1
end
redis.call('HSET', KEYS[2], unpack(added))
if refresh then
  local ttl = math.floor(age * 1.1)
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
end
redis.call('PUBLISH', ARGV[4], first .. ' ' .. epoch .. ' ' .. ARGV[6])
return {epoch, first}
`;

/**
 * KEYS: log, ids. ARGV: a new epoch (for a room that has none), the age in ms, the first offset
 * wanted (0: none), how many entries, the history size. Returns { epoch, seq, the oldest offset
 * kept or '', entries from the one that holds the first offset wanted }: one snapshot, so the
 * epoch, the head and the entries agree. The oldest offset is that of the history (the last
 * `historySize`), not of what the stream still holds beyond it.
 */
const READ_SCRIPT = `
local head = redis.call('HGET', KEYS[2], '')
local epoch, seq
if head then
  local s
  s, epoch = string.match(head, '^(%d+) %d+ (.*)$')
  seq = tonumber(s)
else
  epoch, seq = ARGV[1], 0
  redis.call('HSET', KEYS[2], '', '0 0 ' .. epoch)
  redis.call('PEXPIRE', KEYS[2], math.floor(tonumber(ARGV[2]) * 1.1))
end
local floor = math.max(seq - tonumber(ARGV[5]) + 1, 1)
local oldest = redis.call('XRANGE', KEYS[1], floor .. '-0', '+', 'COUNT', 1)
local first = ''
if #oldest > 0 then
  first = tostring(math.max(floor, tonumber(string.match(oldest[1][1], '%-(%d+)$'))))
end
local entries = {}
local wanted = tonumber(ARGV[3])
if wanted > 0 then
  entries = redis.call('XRANGE', KEYS[1], math.max(wanted, floor) .. '-0', '+', 'COUNT', ARGV[4])
end
return {epoch, tostring(seq), first, entries}
`;

type StreamEntry = [string, string[]];

/** A publish waiting for the end of its turn. */
interface PendingPublish {
  readonly kind: 't' | 'b';
  readonly data: string;
  readonly id: string;
  readonly subscriber: Subscriber<Position>;
}

/** A nudge from a room's channel, parsed once for all its readers. */
interface Nudge {
  readonly epoch: string;
  readonly message: RoomMessage;
}

/**
 * The `RoomEngine` on Redis 7: rooms shared by every process that uses the same Redis, each
 * message stored once, in one order, for as long as the stream holds it. See docs/rooms.md,
 * "Many processes: `redisRooms()`".
 *
 * @throws TypeError (`ERR_INVALID_ARG_TYPE`) for what is not a node-redis client,
 *   (`ERR_INVALID_OPTION`) for an unknown or bad option.
 */
export function redisRooms(client: RedisClientLike, options: RedisRoomsOptions = {}): RedisRoomEngine {
  if (
    typeof client !== 'object' ||
    client === null ||
    typeof client.sendCommand !== 'function' ||
    typeof client.duplicate !== 'function'
  ) {
    throw argumentError(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      `redisRooms(): the first argument must be a node-redis client (createClient()), got ${describe(client)}`,
    );
  }
  if (typeof options !== 'object' || options === null) {
    throw argumentError(TypeError, 'ERR_INVALID_OPTION', 'redisRooms(): options must be an object');
  }
  checkOptionKeys('redisRooms', options, REDIS_ROOMS_OPTION_KEYS);
  const { historySize = DEFAULT_HISTORY_SIZE, historyAge = DEFAULT_HISTORY_AGE_MS, prefix = 'rxwp' } = options;
  checkOption('redisRooms', 'historySize', historySize, isPositiveInteger, 'a positive integer');
  checkOption('redisRooms', 'historyAge', historyAge, isPositiveInteger, 'a positive integer (ms)');
  checkOption(
    'redisRooms',
    'prefix',
    prefix,
    (value: unknown): value is string => typeof value === 'string' && value.length > 0 && !/[{}\s]/.test(value),
    'a non-empty string without braces or spaces',
  );
  return new RedisEngine(client, historySize, historyAge, prefix);
}

class RedisEngine implements RedisRoomEngine {
  private readonly state = new BehaviorSubject<EngineState>('up');
  readonly state$: Observable<EngineState> = this.state.pipe(distinctUntilChanged());
  /** The rooms this process reads, each with its one channel subscription. */
  private readonly feeds = new Map<string, Feed>();
  private subscriber: RedisSubscriberLike | undefined;
  private subscriberReady: Promise<unknown> | undefined;
  /** Called once the subscriber connection is ready again: subscriptions to ask for again. */
  private readonly onSubscriberReady: (() => void)[] = [];
  /** Each script's SHA1, learned from Redis once (SCRIPT LOAD), for EVALSHA. */
  private readonly shas = new Map<string, string>();
  /** The scripts Redis ran since the client's last (re)connection: those EVALSHA may name. */
  private readonly loaded = new Set<string>();
  /**
   * A candidate epoch goes with every publish and read, for a room that has none yet: new per
   * room life and across processes (`idMaker()`).
   */
  private readonly newEpoch = idMaker();
  /** A publish without an id gets one of these (cheap: a random draw per publish cost a third). */
  private readonly newPublishId = idMaker();
  /** Publish ids each room remembers for retries: at least its last max(historySize, 10,000). */
  private readonly idLimit: string;
  private readonly historySizeArg: string;
  private readonly historyAgeArg: string;
  /**
   * Each room's publishes waiting to be stored: those of this turn, and those made while the
   * room's previous call was in flight.
   */
  private readonly waiting = new Map<string, PendingPublish[]>();
  /** Rooms with a publish call in flight: their next publishes wait for its answer. */
  private readonly inFlight = new Set<string>();
  private storing = false;
  private closed = false;

  constructor(
    private readonly client: RedisClientLike,
    historySize: number,
    historyAge: number,
    private readonly prefix: string,
  ) {
    this.state.next(client.isReady ? 'up' : 'down');
    this.idLimit = String(Math.max(historySize, ID_LIMIT));
    this.historySizeArg = String(historySize);
    this.historyAgeArg = String(historyAge);
    // Until close(), rooms read or not: state$ follows the client even when nothing reads (a
    // publisher's engine, or after every reader ended).
    client.on('ready', this.onClientReady);
    client.on('end', this.onClientChange);
    client.on('reconnecting', this.onClientChange);
  }

  private readonly onClientReady = (): void => {
    // A new connection may reach a Redis that restarted, without our scripts.
    this.loaded.clear();
    // Readers whose catch-up found Redis away read on now.
    for (const feed of this.feeds.values()) for (const reader of feed.readers) if (reader.stalled) reader.catchUp();
    this.updateState();
  };

  private readonly onClientChange = (): void => this.updateState();

  /** See `RedisRoomEngine.close()`; publishes already sent to Redis end as Redis answers. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.off('ready', this.onClientReady);
    this.client.off('end', this.onClientChange);
    this.client.off('reconnecting', this.onClientChange);
    const error = closedError();
    for (const batch of this.waiting.values()) for (const { subscriber } of batch) subscriber.error(error);
    this.waiting.clear();
    const feeds = [...this.feeds.values()];
    this.feeds.clear();
    for (const feed of feeds) for (const reader of [...feed.readers]) reader.fail(error);
    this.closeSubscriber();
    this.state.next('down');
    this.state.complete();
  }

  /** The keys of `room`, all with one hash tag: a Redis Cluster keeps them on one slot. */
  keys(room: string): { log: string; ids: string; idsBefore: string; channel: string } {
    const base = `${this.prefix}:{${room}}`;
    return {
      log: `${base}:log`,
      ids: `${base}:ids`,
      idsBefore: `${base}:ids-before`,
      channel: `${base}:ch`,
    };
  }

  publish(room: string, data: string | Uint8Array, id?: string): Observable<Position> {
    const payload = checkPublish(room, data, id);
    // Encoded now: the caller may change its bytes once this returns.
    const kind = typeof payload === 'string' ? 't' : 'b';
    const stored = typeof payload === 'string' ? payload : toBase64(payload);
    const publishId = id ?? this.newPublishId();
    return new Observable<Position>((subscriber) => {
      if (this.closed) {
        subscriber.error(closedError());
        return;
      }
      let batch = this.waiting.get(room);
      if (batch === undefined) this.waiting.set(room, (batch = []));
      batch.push({ kind, data: stored, id: publishId, subscriber });
      this.storeSoon();
    });
  }

  private storeSoon(): void {
    if (this.storing) return;
    this.storing = true;
    queueMicrotask(this.storeBatches);
  }

  /**
   * At the end of a turn, stores the waiting publishes of each room with one script call, in the
   * order they were made (a publisher's order: one room's calls reach Redis one after the other).
   * One call per room at a time: what is made while it is in flight goes in the next, so that the
   * busier a room, the more each call carries (group commit: the per-call costs, in Redis and
   * here, are paid once for many publishes), and an idle room's publish goes at once.
   */
  private readonly storeBatches = (): void => {
    this.storing = false;
    for (const [room, all] of this.waiting) {
      if (this.inFlight.has(room)) continue;
      this.waiting.delete(room);
      // A publish unsubscribed before it was sent is not stored.
      let batch = all.filter((entry) => !entry.subscriber.closed);
      let count = 0;
      for (
        let bytes = 0;
        count < batch.length && count < MAX_BATCH && (count === 0 || bytes < MAX_BATCH_BYTES);
        count++
      ) {
        bytes += (batch[count] as PendingPublish).data.length;
      }
      if (count < batch.length) {
        this.waiting.set(room, batch.slice(count));
        batch = batch.slice(0, count);
      }
      if (batch.length === 0) continue;
      this.inFlight.add(room);
      this.store(room, batch);
    }
  };

  /**
   * One publish call for `batch` (a room's, in order); the room is in flight until it is answered.
   * An id twice in the batch is sent once: the later publish gets the first one's offset. Ids
   * Redis remembers get their offsets, and the others are sent again at once, before anything
   * published since.
   */
  private store(room: string, batch: PendingPublish[]): void {
    const keys = this.keys(room);
    const first = new Map<string, number>();
    const unique: PendingPublish[] = [];
    const slot = batch.map((entry) => {
      const seen = first.get(entry.id);
      if (seen !== undefined) return seen;
      first.set(entry.id, unique.length);
      return unique.push(entry) - 1;
    });
    const args = [this.newEpoch(), this.historySizeArg, this.historyAgeArg, keys.channel, this.idLimit];
    args.push(packMessages(unique), ...unique.map(({ id }) => id));
    const settled = (): void => {
      this.inFlight.delete(room);
      if (this.waiting.has(room)) this.storeSoon();
    };
    this.script(PUBLISH_SCRIPT, [keys.log, keys.ids, keys.idsBefore], args).then(
      (reply) => {
        const [epoch, start, ...known] = (reply as unknown[]).map(String) as [string, string, ...string[]];
        const offsets: number[] = [];
        if (start !== '') {
          for (let i = 0; i < unique.length; i++) offsets.push(Number(start) + i);
        } else {
          for (let k = 0; k < known.length; k += 2) offsets[Number(known[k]) - 1] = Number(known[k + 1]);
        }
        const rest = batch.filter((_, i) => offsets[slot[i] as number] === undefined);
        if (rest.length > 0) this.store(room, rest);
        else settled();
        batch.forEach(({ subscriber }, i) => {
          const offset = offsets[slot[i] as number];
          if (offset === undefined) return;
          subscriber.next({ epoch, offset });
          subscriber.complete();
        });
      },
      (error: unknown) => {
        settled();
        const down = engineDown(error);
        for (const { subscriber } of batch) subscriber.error(down);
      },
    );
  }

  head(room: string): Observable<Position> {
    checkRoom('head', room);
    return new Observable<Position>((subscriber) => {
      this.read(room, 0)
        .then((snapshot) => {
          subscriber.next({ epoch: snapshot.epoch, offset: snapshot.seq });
          subscriber.complete();
        })
        .catch((error: unknown) => subscriber.error(engineDown(error)));
    });
  }

  room$(room: string, from?: Position): Observable<RoomMessage> {
    checkRoom('room$', room);
    if (from !== undefined) checkPosition(from);
    return new Observable<RoomMessage>((subscriber) => {
      if (this.closed) {
        subscriber.error(closedError());
        return undefined;
      }
      const reader = new Reader(this, room, subscriber);
      const feed = this.feed(room);
      feed.readers.add(reader);
      // Live nudges wait in the reader until the stream has been read up to them.
      feed.ready.then(() => reader.start(from)).catch((error: unknown) => reader.fail(engineDown(error)));
      return () => {
        reader.close();
        feed.readers.delete(reader);
        if (feed.readers.size === 0) this.dropFeed(room, feed);
      };
    });
  }

  /** One snapshot of `room`: epoch, head, oldest offset, and up to a page of entries from `first`. */
  async read(
    room: string,
    first: number,
  ): Promise<{ epoch: string; seq: number; oldest: number | undefined; messages: RoomMessage[]; entries: number }> {
    const keys = this.keys(room);
    const reply = (await this.script(
      READ_SCRIPT,
      [keys.log, keys.ids],
      [this.newEpoch(), this.historyAgeArg, String(first), String(PAGE_ENTRIES), this.historySizeArg],
    )) as [string, string, string, StreamEntry[]];
    const [epoch, seq, oldest, entries] = reply;
    const from = Math.max(first, oldest === '' ? 0 : Number(oldest));
    const messages: RoomMessage[] = [];
    for (const entry of entries) entryMessages(room, epoch, entry, from, messages);
    return {
      epoch,
      seq: Number(seq),
      oldest: oldest === '' ? undefined : Number(oldest),
      messages,
      entries: entries.length,
    };
  }

  /**
   * Runs `body` as one command, so that calls reach Redis in the order they were made (a publisher's
   * order): EVALSHA once Redis is known to hold the script, else EVAL. Never a NOSCRIPT answer
   * followed by a second command, which calls made in between would overtake.
   */
  private async script(body: string, keys: string[], args: string[]): Promise<unknown> {
    if (this.closed) throw closedError();
    if (!this.client.isReady) throw new WebSocketPeerError('ERR_ENGINE_DOWN', 'redisRooms(): Redis is not connected');
    const tail = [String(keys.length), ...keys, ...args];
    // '' while SCRIPT LOAD is on its way.
    const sha = this.shas.get(body);
    if (sha && this.loaded.has(body)) {
      try {
        return await this.client.sendCommand(['EVALSHA', sha, ...tail]);
      } catch (error) {
        // Flushed behind our back (SCRIPT FLUSH): EVAL from now on, until it ran again.
        if (!String((error as Error | undefined)?.message).startsWith('NOSCRIPT')) throw error;
        this.loaded.delete(body);
      }
    }
    const reply = await this.client.sendCommand(['EVAL', body, ...tail]);
    this.loaded.add(body);
    if (!this.shas.has(body)) {
      this.shas.set(body, '');
      this.client.sendCommand(['SCRIPT', 'LOAD', body]).then(
        (learned) => this.shas.set(body, learned as string),
        () => this.shas.delete(body),
      );
    }
    return reply;
  }

  /** The feed of `room`: made with its channel subscription on first use. */
  private feed(room: string): Feed {
    let feed = this.feeds.get(room);
    if (feed === undefined) {
      const made: Feed = { readers: new Set(), ready: Promise.resolve(), channel: this.keys(room).channel };
      const listener = (text: string): void => {
        for (const nudge of parseNudges(room, text)) for (const reader of made.readers) reader.nudge(nudge);
      };
      const subscribe = (): Promise<unknown> =>
        this.subscription()
          .then(() => (this.feeds.get(room) === made ? this.subscriber?.subscribe(made.channel, listener) : undefined))
          .catch((error: unknown) => {
            // Cut before Redis answered: node-redis reconnects, but subscribes again only to the
            // channels it saw confirmed. Asked again once the connection is back, and the
            // readers wait meanwhile, as for any outage.
            const subscriber = this.subscriber;
            if (this.feeds.get(room) === made && subscriber !== undefined && !subscriber.isReady) {
              return new Promise<void>((resolve) => this.onSubscriberReady.push(resolve)).then(subscribe);
            }
            throw error;
          });
      made.ready = subscribe().catch((error: unknown) => {
        // Refused by a connected Redis (an ACL, say): the next reader of the room tries again;
        // with no room left, the subscriber connection goes (node-redis would go on
        // reconnecting it for nobody).
        if (this.feeds.get(room) === made) this.feeds.delete(room);
        if (this.feeds.size === 0) this.closeSubscriber();
        throw error;
      });
      feed = made;
      this.feeds.set(room, feed);
    }
    return feed;
  }

  private dropFeed(room: string, feed: Feed): void {
    if (this.feeds.get(room) !== feed) return;
    this.feeds.delete(room);
    const subscriber = this.subscriber;
    void feed.ready.then(() => subscriber?.unsubscribe(feed.channel)).catch(() => undefined);
    if (this.feeds.size === 0) this.closeSubscriber();
  }

  /** The engine's subscriber connection, connected: made on the first room read, closed after the last. */
  private subscription(): Promise<unknown> {
    if (this.subscriberReady !== undefined) return this.subscriberReady;
    const subscriber = this.client.duplicate();
    this.subscriber = subscriber;
    // Ours: its errors are the engine's state, never an unhandled 'error'.
    subscriber.on('error', () => this.updateState());
    subscriber.on('end', () => this.updateState());
    subscriber.on('reconnecting', () => this.updateState());
    let connectedOnce = false;
    subscriber.on('ready', () => {
      // Reconnected: the channel lost what was published meanwhile; the readers read it from the
      // streams (first, so that state$ goes from 'down' to 'catching-up', not through 'up').
      if (connectedOnce) for (const feed of this.feeds.values()) for (const reader of feed.readers) reader.catchUp();
      connectedOnce = true;
      // Subscriptions cut before they were confirmed are asked again.
      for (const retry of this.onSubscriberReady.splice(0)) retry();
      this.updateState();
    });
    this.subscriberReady = subscriber.connect();
    return this.subscriberReady;
  }

  private closeSubscriber(): void {
    this.onSubscriberReady.length = 0;
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    this.subscriberReady = undefined;
    subscriber?.destroy();
  }

  clientReady(): boolean {
    return this.client.isReady;
  }

  updateState(): void {
    if (this.closed) return;
    const up = this.client.isReady && (this.subscriber === undefined || this.subscriber.isReady);
    let recovering = false;
    for (const feed of this.feeds.values()) for (const reader of feed.readers) recovering ||= reader.recovering;
    this.state.next(!up ? 'down' : recovering ? 'catching-up' : 'up');
  }
}

interface Feed {
  readonly readers: Set<Reader>;
  ready: Promise<unknown>;
  readonly channel: string;
}

/**
 * One `room$()` subscriber: it reads the stream from where it stands, then takes the channel's
 * nudges in offset order; a nudge past the next offset (one the channel lost) makes it read the
 * missing ones from the stream first. Nudges that come while it reads wait, in order.
 */
class Reader {
  closed = false;
  /** Reading the stream: nudges wait in `waiting`. */
  catching = true;
  /** Reading what the channel lost (a reconnect, a hole in the nudges): the engine is catching up. */
  recovering = false;
  /** Its catch-up found the client disconnected: it reads on when the client is ready again. */
  stalled = false;
  /** The subscriber reconnected while it read the stream: it reads once more before going live. */
  private readAgain = false;
  private last: Position | undefined;
  /** Redis answered LOADING or the like: the read again, RETRY_MS later. */
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private waiting: Nudge[] = [];

  constructor(
    private readonly engine: RedisEngine,
    private readonly room: string,
    private readonly subscriber: { next(message: RoomMessage): void; error(error: unknown): void },
  ) {}

  /**
   * Reads from `from` (or from the room's head), then goes live. Redis away, or answering LOADING
   * (just restarted) or the like: it waits and reads from there when it can, as a reader that was
   * live does (`failOrStall()`); anything else ends it.
   */
  start(from: Position | undefined): void {
    const reading =
      from === undefined
        ? this.engine.read(this.room, 0).then((snapshot) => {
            this.last = { epoch: snapshot.epoch, offset: snapshot.seq };
            return this.readOn(false);
          })
        : ((this.last = from), this.readOn(true));
    reading.catch((error: unknown) => this.failOrStall(error));
  }

  /** Runs `run` RETRY_MS from now, unless the reader ends first. */
  private later(run: () => void): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.closed) run();
    }, RETRY_MS);
  }

  /** Unsubscribed: nothing more to deliver, no timer left. */
  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
  }

  /** After a subscriber or client reconnect: read what the channel may have lost. */
  catchUp(): void {
    if (this.closed) return;
    if (this.catching && !this.stalled) {
      // Its read may have been answered before what the channel lost was stored: once more.
      this.readAgain = true;
      return;
    }
    this.stalled = false;
    // Stalled before it knew the room's head: "from now" is from the head now.
    if (this.last === undefined) this.start(undefined);
    else this.recover();
  }

  /** Reads what the channel lost from the stream, nudges waiting meanwhile: the engine is catching up. */
  private recover(): void {
    this.catching = true;
    this.recovering = true;
    this.engine.updateState();
    this.readOn(true).catch((error: unknown) => this.failOrStall(error));
  }

  nudge(nudge: Nudge): void {
    // Stalled, it reads the stream once the client is back: that has this one.
    if (this.closed || this.stalled) return;
    if (this.catching) {
      this.waiting.push(nudge);
      return;
    }
    const last = this.last as Position;
    const { position } = nudge.message;
    if (nudge.epoch === last.epoch && position.offset <= last.offset) return;
    if (nudge.epoch === last.epoch && position.offset === last.offset + 1) {
      this.deliver(nudge.message);
      return;
    }
    // A hole in the nudges, or a new epoch: the stream decides.
    this.waiting.push(nudge);
    this.recover();
  }

  /**
   * A read failed. With the client disconnected (Redis away, or restarting), the reader waits for
   * it and reads on from where it stood: an outage is no error of its own; what Redis lost
   * meanwhile is a gap, found then (the failed call's answer reaches here in the same turn, before
   * the client's next 'ready', which wakes it). Connected to a Redis that answers LOADING (still
   * reading its AOF or RDB after a restart; it accepts connections meanwhile) or the like, it
   * tries again shortly. Anything else ends it.
   */
  private failOrStall(error: unknown): void {
    if (this.closed) return;
    const transient = transientReply(error);
    if (this.engine.clientReady() && !transient) {
      this.fail(engineDown(error));
      return;
    }
    this.stalled = true;
    this.waiting = [];
    this.engine.updateState();
    if (transient) {
      this.later(() => {
        if (this.stalled) this.catchUp();
      });
    }
  }

  /** Reads the stream after `last`, page by page, then what waited; `check`: the epoch must match. */
  private async readOn(check: boolean): Promise<void> {
    for (;;) {
      if (this.closed) return;
      const last = this.last as Position;
      const snapshot = await this.engine.read(this.room, last.offset + 1);
      if (this.closed) return;
      if (check || snapshot.epoch !== last.epoch) {
        const next = snapshot.messages[0]?.position.offset;
        const gap =
          snapshot.epoch !== last.epoch ||
          last.offset > snapshot.seq ||
          (last.offset < snapshot.seq && next !== last.offset + 1);
        if (gap) {
          const oldest = snapshot.oldest === undefined ? undefined : { epoch: snapshot.epoch, offset: snapshot.oldest };
          this.fail(new RoomGapError(this.room, last, oldest));
          return;
        }
      }
      for (const message of snapshot.messages) {
        if (this.closed) return;
        this.deliver(message);
      }
      if (snapshot.entries < PAGE_ENTRIES) {
        if (!this.readAgain) break;
        this.readAgain = false;
        check = true;
      }
    }
    this.catching = false;
    this.recovering = false;
    const waiting = this.waiting;
    this.waiting = [];
    this.engine.updateState();
    for (const nudge of waiting) this.nudge(nudge);
  }

  private deliver(message: RoomMessage): void {
    this.last = message.position;
    this.subscriber.next(message);
  }

  fail(error: unknown): void {
    if (this.closed) return;
    this.close();
    this.catching = false;
    this.recovering = false;
    this.engine.updateState();
    this.subscriber.error(error);
  }
}

/**
 * A call's messages as one string, each `<kind><length>:<data>` (kind t or b, the length in UTF-16
 * code units of the data, base64 for bytes): one argument and one stream field for them all.
 */
function packMessages(batch: readonly PendingPublish[]): string {
  let packed = '';
  for (const { kind, data } of batch) packed += `${kind}${data.length}:${data}`;
  return packed;
}

/**
 * The messages of `packed` (from `packMessages()`), the first at offset `first`, from offset
 * `from` on. What does not parse ends the list (Redis holds only what the script wrote).
 */
function unpackMessages(
  room: string,
  epoch: string,
  first: number,
  packed: string,
  from: number,
  into: RoomMessage[],
): void {
  for (let at = 0, offset = first; at < packed.length; offset++) {
    const colon = packed.indexOf(':', at + 1);
    const length = Number(packed.slice(at + 1, colon));
    if (colon < 0 || !Number.isSafeInteger(length) || colon + 1 + length > packed.length) return;
    if (offset >= from) {
      into.push(message(room, epoch, offset, packed.charAt(at), packed.slice(colon + 1, colon + 1 + length)));
    }
    at = colon + 1 + length;
  }
}

/** The messages of a stream entry (id `<last>-<first>`, field m: the packed messages) from offset `from` on. */
function entryMessages(
  room: string,
  epoch: string,
  [id, fields]: StreamEntry,
  from: number,
  into: RoomMessage[],
): void {
  unpackMessages(room, epoch, Number(id.slice(id.indexOf('-') + 1)), fields[1] ?? '', from, into);
}

function message(room: string, epoch: string, offset: number, kind: string, data: string): RoomMessage {
  const position = { epoch, offset };
  return kind === 'b'
    ? { room, position, isString: false, data: fromBase64(data) ?? new Uint8Array() }
    : { room, position, isString: true, data };
}

/** The messages of a nudge, `<first offset> <epoch> <packed messages>` as the publish script sends it. */
function parseNudges(room: string, text: string): Nudge[] {
  const space = text.indexOf(' ');
  const second = text.indexOf(' ', space + 1);
  if (space < 0 || second < 0) return [];
  const epoch = text.slice(space + 1, second);
  const messages: RoomMessage[] = [];
  unpackMessages(room, epoch, Number(text.slice(0, space)), text.slice(second + 1), 0, messages);
  return messages.map((message) => ({ epoch, message }));
}

/** Redis is there but cannot answer now: loading its data, busy with a script, and the like. */
function transientReply(error: unknown): boolean {
  return /^(LOADING|BUSY|MASTERDOWN|TRYAGAIN)\b/.test(String((error as Error | undefined)?.message));
}

function closedError(): WebSocketPeerError {
  return new WebSocketPeerError('ERR_ENGINE_DOWN', 'redisRooms(): the engine was closed (close())');
}

function engineDown(error: unknown): unknown {
  if (error instanceof WebSocketPeerError) return error;
  return new WebSocketPeerError(
    'ERR_ENGINE_DOWN',
    `redisRooms(): ${error instanceof Error ? error.message : String(error)}`,
    { cause: error },
  );
}
