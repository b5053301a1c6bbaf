// The server side of the rooms protocol (docs/rooms.md, "The wire protocol"): an operator on
// peers$ that reads each peer's join, leave and publish messages and answers through the engine.
import {
  filter,
  from,
  mergeMap,
  Observable,
  type ObservableInput,
  type OperatorFunction,
  Subscription,
  take,
} from 'rxjs';
import { argumentError } from '../errors/WebSocketPeerError.js';
import { checkOptionKeys, optionKeys } from '../internal/optionKeys.js';
import { checkOption, isPositiveInteger } from '../internal/options.js';
import type { WebSocketPeer } from '../peer/WebSocketPeer.js';
import { errorFrameOf, type Member, type Outbox, RoomHub } from './RoomHub.js';
import type { RoomEngine } from './types.js';
import { ackFrame, type ClientMessage, errorFrame, parseClientMessage, ProtocolViolation } from './wire.js';

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
   * client reconnects and resumes from its position. A peer catching up from further back is
   * paced instead: it reads on once half of this has been sent. Default 4 MiB.
   */
  maxQueuedBytes?: number;
  /**
   * Messages a peer may have been sent since it last had nothing waiting, before it is closed
   * with 4001 as above: it bounds the per-message cost of a slow reader of small messages.
   * Default 10,000.
   */
  maxQueuedMessages?: number;
}

export const SERVE_ROOMS_OPTION_KEYS = optionKeys<ServeRoomsOptions>({
  authorize: true,
  maxQueuedBytes: true,
  maxQueuedMessages: true,
});

/** The close code of a subscriber that could not keep up. */
export const SLOW_SUBSCRIBER_CODE = 4001;
const DEFAULT_MAX_QUEUED_BYTES = 4 * 1024 * 1024;
const DEFAULT_MAX_QUEUED_MESSAGES = 10_000;

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
  const {
    authorize,
    maxQueuedBytes = DEFAULT_MAX_QUEUED_BYTES,
    maxQueuedMessages = DEFAULT_MAX_QUEUED_MESSAGES,
  } = options;
  if (authorize !== undefined && typeof authorize !== 'function') {
    throw argumentError(TypeError, 'ERR_INVALID_OPTION', "serveRooms(): option 'authorize' must be a function");
  }
  checkOption('serveRooms', 'maxQueuedBytes', maxQueuedBytes, isPositiveInteger, 'a positive integer (bytes)');
  checkOption('serveRooms', 'maxQueuedMessages', maxQueuedMessages, isPositiveInteger, 'a positive integer');
  return (peers$) =>
    new Observable<never>((subscriber) => {
      // The rooms of this server, each with one engine subscription for all its peers.
      const hubs = new Map<string, RoomHub>();
      // The sessions sent something this turn: one timer judges them all.
      let due: Session[] = [];
      let timer: ReturnType<typeof setTimeout> | undefined;
      const judgeAll = (): void => {
        timer = undefined;
        const sessions = due;
        due = [];
        for (const session of sessions) session.judge();
      };
      const server: Server = {
        engine,
        authorize,
        limits: { bytes: maxQueuedBytes, messages: maxQueuedMessages },
        hub: (room) => {
          let hub = hubs.get(room);
          if (hub === undefined) {
            hub = new RoomHub(engine, room, (ended) => {
              if (hubs.get(room) === ended) hubs.delete(room);
            });
            hubs.set(room, hub);
          }
          return hub;
        },
        judgeLater: (session) => {
          due.push(session);
          timer ??= setTimeout(judgeAll, 0);
        },
      };
      const serving = peers$.pipe(mergeMap((peer) => servePeer(peer, server))).subscribe(subscriber);
      serving.add(() => clearTimeout(timer));
      return serving;
    });
}

/** What every peer's session shares. */
interface Server {
  readonly engine: RoomEngine;
  readonly authorize: ServeRoomsOptions['authorize'];
  readonly limits: { readonly bytes: number; readonly messages: number };
  hub(room: string): RoomHub;
  /** Judges `session` once this turn's frames went to the OS. */
  judgeLater(session: Session): void;
}

/**
 * One peer's side of its rooms: what it was sent, and whether it keeps up. A peer is judged once
 * its frames of a turn went to the OS (on a timer of its server, not after each frame, so that a
 * burst a reader takes in stride does not count against it): if more than the bounds still wait,
 * it is closed with 4001.
 */
class Session implements Outbox {
  /** Frames sent since the peer was last seen with nothing waiting. */
  private unsent = 0;
  /** Whether a judgement is due. */
  private due = false;
  /** Each joined room's membership. */
  readonly members = new Map<string, Member>();
  /** Closed by us (a protocol error, too slow): nothing it sends is acted on any more. */
  refused = false;

  constructor(
    readonly peer: WebSocketPeer,
    private readonly server: Server,
    /** Leaves every room. */
    private readonly cut: () => void,
  ) {}

  send(frame: string): void {
    if (!this.peer.isConnectedToHost()) return;
    this.peer.putPacket({ isString: true, data: frame });
    this.sent();
  }

  sent(frames = 1): void {
    this.unsent += frames;
    if (!this.due) {
      this.due = true;
      this.server.judgeLater(this);
    }
  }

  judge(): void {
    this.due = false;
    const waiting = this.peer.getCurrentOutboundBufferedAmount();
    if (waiting === 0) this.unsent = 0;
    else if (waiting > this.server.limits.bytes || this.unsent > this.server.limits.messages) {
      // It leaves its rooms at once: nothing more is sent to it while its close waits behind the rest.
      this.refused = true;
      this.peer.close(SLOW_SUBSCRIBER_CODE, 'subscriber too slow');
      this.cut();
    }
  }

  get busy(): boolean {
    const { limits } = this.server;
    return this.peer.getCurrentOutboundBufferedAmount() > limits.bytes / 2 || this.unsent > limits.messages / 2;
  }

  whenDrained(then: () => void): Subscription {
    const waiting = new Subscription();
    // Never at once: a member that paused reads on in a later turn, not deeper in this stack.
    const timer = setTimeout(() => {
      waiting.add(
        this.peer.bufferedAmount$
          .pipe(
            filter((amount) => amount === 0),
            take(1),
          )
          .subscribe(() => {
            this.unsent = 0;
            then();
          }),
      );
    }, 0);
    waiting.add(() => clearTimeout(timer));
    return waiting;
  }

  left(member: Member): void {
    for (const [room, joined] of this.members) if (joined === member) this.members.delete(room);
  }
}

function servePeer(peer: WebSocketPeer, server: Server): Observable<never> {
  const { engine, authorize } = server;
  return new Observable<never>((subscriber) => {
    const all = new Subscription();
    const leave = (room: string): void => {
      const member = session.members.get(room);
      if (member === undefined) return;
      session.members.delete(room);
      member.hub.leave(member);
    };
    const leaveAll = (): void => {
      for (const room of [...session.members.keys()]) leave(room);
    };
    const session = new Session(peer, server, leaveAll);
    all.add(leaveAll);
    /** The peer's publishes the engine has not answered yet: ended with the peer. */
    const inFlight = new Set<Subscription>();
    all.add(() => {
      for (const publishing of inFlight) publishing.unsubscribe();
      inFlight.clear();
    });

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

    function handle(message: ClientMessage): void {
      if (waiting !== undefined) {
        waiting.push(message);
        return;
      }
      const { room } = message;
      if (message.type === 'leave') {
        leave(room);
        return;
      }
      if (message.type === 'join') {
        allowed(
          room,
          'join',
          () => {
            leave(room);
            if (all.closed) return;
            session.members.set(room, server.hub(room).join(session, message.from));
          },
          () => session.send(errorFrame(room, 'ERR_ROOM_FORBIDDEN')),
        );
        return;
      }
      const { id, data } = message;
      allowed(
        room,
        'publish',
        () => {
          // In a Set, not added to `all`: a Subscription's children are an array, and each of
          // hundreds of publishes in flight leaving it scanned it (3% of a server on Redis).
          // (An engine may answer inside subscribe(), before the subscription is known.)
          const publishing: { subscription?: Subscription } = {};
          const done = (): void => void (publishing.subscription && inFlight.delete(publishing.subscription));
          publishing.subscription = engine.publish(room, data, id).subscribe({
            next: (position) => session.send(ackFrame(id, room, position)),
            error: (error: unknown) => {
              done();
              session.send(errorFrameOf(room, error, undefined, id));
            },
            complete: done,
          });
          if (!publishing.subscription.closed) inFlight.add(publishing.subscription);
        },
        () => session.send(errorFrame(room, 'ERR_ROOM_FORBIDDEN', { id })),
      );
    }

    all.add(
      peer.packets$.subscribe({
        next: (packet) => {
          // Closed by us, for a protocol error or as too slow: what it sent after is not acted on.
          // (Closed by server.stop(), it is: what arrives before the close is handled.)
          if (session.refused) return;
          const message = parseClientMessage(packet);
          if (message instanceof ProtocolViolation) {
            session.refused = true;
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
