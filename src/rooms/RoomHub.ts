// One room on one serveRooms() server: a single engine subscription whose messages are encoded
// once and written to every member that is caught up with broadcast(); a member that joins from
// further back reads on a subscription of its own, paced by its peer's buffer, until it reaches
// the hub and joins the broadcast.
import { Subscription, takeWhile } from 'rxjs';
import { broadcastTexts } from '../peer/broadcast.js';
import type { WebSocketPeer } from '../peer/WebSocketPeer.js';
import { RoomGapError } from './RoomGapError.js';
import type { Position, RoomEngine, RoomMessage } from './types.js';
import { errorFrame, joinedFrame, messageFrame, samePosition } from './wire.js';

/** @internal What a hub needs of one peer's session. */
export interface Outbox {
  readonly peer: WebSocketPeer;
  /** Sends `frame` to this peer alone, then judges whether it keeps up (as `sent()`). */
  send(frame: string): void;
  /** `frames` reached this peer by a broadcast: judges whether it keeps up, and closes it if not. */
  sent(frames?: number): void;
  /** Half its bound waits to be sent: a member catching up pauses until it has drained. */
  readonly busy: boolean;
  /** Calls `then` once nothing waits to be sent; unsubscribe to stop waiting. */
  whenDrained(then: () => void): Subscription;
  /** The member of `room` has left it: the engine ended its subscription with an error. */
  left(member: Member): void;
}

/** @internal One peer in one room. */
export class Member {
  /** The hub's member list it is on; `gone` once it left. */
  state: 'waiting' | 'behind' | 'live' | 'gone' = 'waiting';
  /** Its own subscription, while behind. */
  own: Subscription | undefined;
  /** While behind and paused: its wait for the peer to drain. */
  paused: Subscription | undefined;

  constructor(
    readonly hub: RoomHub,
    readonly outbox: Outbox,
    /** The last position it was sent (or where delivery starts after). */
    public last: Position | undefined,
  ) {}

  stop(): void {
    this.own?.unsubscribe();
    this.paused?.unsubscribe();
    this.own = this.paused = undefined;
  }
}

/**
 * Frames of the messages that members catching up were sent, by message: the engine hands the same
 * message object to every reader, so many members resuming at once encode each message once.
 */
const frames = new WeakMap<RoomMessage, string>();
function frameOf(message: RoomMessage): string {
  let frame = frames.get(message);
  if (frame === undefined) frames.set(message, (frame = messageFrame(message)));
  return frame;
}

/** @internal The members of one room of one `serveRooms()`, fed by one engine subscription. */
export class RoomHub {
  /** Members that get each new message by `broadcast()`, by peer (a peer joins a room once). */
  private readonly live = new Map<WebSocketPeer, Member>();
  /** Members that read on their own subscription until they stand where the hub does. */
  private readonly behind = new Set<Member>();
  /** Members joining from now, until the hub knows where the room stands. */
  private readonly waiting = new Set<Member>();
  /** The last position the hub delivered (the room's head when it started). */
  private last: Position | undefined;
  private readonly subscription = new Subscription();
  private started = false;
  /**
   * The frames of the messages delivered in this turn, not yet written: at the end of the turn
   * (a microtask) each live member gets them all in one write. The live members do not change
   * while frames wait: whatever would change them writes the frames first.
   */
  private batch: string[] = [];
  private flushing = false;
  private readonly flushLater = (): void => {
    this.flushing = false;
    this.flush();
  };

  constructor(
    private readonly engine: RoomEngine,
    readonly room: string,
    /** Called once the hub has no member left, or failed: its owner forgets it. */
    private readonly ended: (hub: RoomHub) => void,
  ) {}

  /** `outbox` joins from after `from`, or from now; `joined` is sent before any message. */
  join(outbox: Outbox, from: Position | undefined): Member {
    const member = new Member(this, outbox, from);
    if (!this.started) this.start();
    if (from === undefined) {
      if (this.last === undefined) this.waiting.add(member);
      else this.admit(member);
      return member;
    }
    outbox.send(joinedFrame(this.room, from));
    if (this.subscription.closed === false && samePosition(from, this.last)) this.goLive(member);
    else {
      member.state = 'behind';
      this.behind.add(member);
      this.catchUp(member);
    }
    return member;
  }

  leave(member: Member): void {
    if (member.state === 'gone') return;
    if (member.state === 'live') this.flush();
    member.stop();
    if (this.live.get(member.outbox.peer) === member) this.live.delete(member.outbox.peer);
    this.behind.delete(member);
    this.waiting.delete(member);
    member.state = 'gone';
    if (this.live.size === 0 && this.behind.size === 0 && this.waiting.size === 0) this.end();
  }

  private start(): void {
    this.started = true;
    this.subscription.add(
      this.engine.head(this.room).subscribe({
        next: (head) => {
          if (this.subscription.closed || this.last !== undefined) return;
          this.last = head;
          for (const member of this.waiting) this.admit(member);
          this.waiting.clear();
          this.subscription.add(
            this.engine.room$(this.room, head).subscribe({
              next: (message) => this.deliver(message),
              error: (error: unknown) => this.fail(error),
            }),
          );
        },
        error: (error: unknown) => this.fail(error),
      }),
    );
  }

  /** A member joining from now, once the hub stands somewhere: from there. */
  private admit(member: Member): void {
    const last = this.last as Position;
    member.last = last;
    member.outbox.send(joinedFrame(this.room, last));
    this.goLive(member);
  }

  private goLive(member: Member): void {
    if (member.state === 'gone') return;
    this.flush();
    member.stop();
    this.behind.delete(member);
    this.waiting.delete(member);
    member.state = 'live';
    this.live.set(member.outbox.peer, member);
  }

  /** A new message of the room: encoded once, written to every live member at the end of the turn. */
  private deliver(message: RoomMessage): void {
    // Members that caught up to the message before this one go on with everyone from here.
    for (const member of this.behind) if (samePosition(member.last, this.last)) this.goLive(member);
    this.last = message.position;
    if (this.live.size > 0) {
      this.batch.push(messageFrame(message));
      for (const member of this.live.values()) member.last = message.position;
      if (!this.flushing) {
        this.flushing = true;
        queueMicrotask(this.flushLater);
      }
    }
    // Members whose own subscription had this one already: with everyone from the next one.
    for (const member of this.behind) if (samePosition(member.last, this.last)) this.goLive(member);
  }

  /** Writes the waiting frames to every live member, in one write each. */
  private flush(): void {
    if (this.batch.length === 0) return;
    const frames = this.batch;
    this.batch = [];
    broadcastTexts(this.live.keys(), frames);
    for (const member of this.live.values()) member.outbox.sent(frames.length);
  }

  /** A member behind reads from its last position on, until it stands where the hub does. */
  private catchUp(member: Member): void {
    const own = new Subscription();
    member.own = own;
    // The engine may replay the history at once, inside subscribe(): once the member pauses or
    // goes live (`own` closed), the next message ends the replay rather than being sent.
    const reading = this.engine.room$(this.room, member.last).pipe(takeWhile(() => !own.closed));
    own.add(
      reading.subscribe({
        next: (message) => {
          member.outbox.send(frameOf(message));
          member.last = message.position;
          if (!this.subscription.closed && samePosition(member.last, this.last)) this.goLive(member);
          else if (member.outbox.busy) this.pause(member);
        },
        error: (error: unknown) => {
          const { outbox, last } = member;
          this.leave(member);
          outbox.left(member);
          outbox.send(errorFrameOf(this.room, error, last));
        },
      }),
    );
  }

  /** Stops reading for `member` until its peer has sent what waits, then resumes where it stood. */
  private pause(member: Member): void {
    member.own?.unsubscribe();
    member.own = undefined;
    member.paused = member.outbox.whenDrained(() => {
      member.paused = undefined;
      if (member.state === 'behind') this.catchUp(member);
    });
  }

  /** The engine ended the hub's subscription: every member that depended on it is told and leaves. */
  private fail(error: unknown): void {
    this.flush();
    this.subscription.unsubscribe();
    const told = [...this.live.values(), ...this.waiting];
    this.live.clear();
    this.waiting.clear();
    for (const member of told) {
      member.state = 'gone';
      member.outbox.left(member);
      member.outbox.send(errorFrameOf(this.room, error, member.last));
    }
    // Members behind go on by themselves: their own subscriptions answer for them.
    this.end();
  }

  private end(): void {
    this.subscription.unsubscribe();
    this.ended(this);
  }
}

/**
 * An engine's error as the protocol sends it: for a member that stood at `last`, or (with `id`)
 * for one publish. Anything but a gap or a coded error is `ERR_ENGINE_DOWN`.
 */
export function errorFrameOf(room: string, error: unknown, last: Position | undefined, id?: string): string {
  if (error instanceof RoomGapError) {
    return errorFrame(room, error.code, { lastDelivered: last, oldestAvailable: error.oldestAvailable });
  }
  const code = (error as { code?: unknown } | null)?.code;
  return errorFrame(room, typeof code === 'string' ? code : 'ERR_ENGINE_DOWN', id === undefined ? {} : { id });
}
