import { DestroyRef, inject, Injectable, InjectionToken } from '@angular/core';
import {
  CloseCode,
  type ConnectionStatus,
  type Position,
  reconnecting,
  type ReconnectOptions,
  RoomGapError,
  roomClient,
  ROOMS_PROTOCOL,
} from 'rx-websocket-peer';
import {
  BehaviorSubject,
  catchError,
  defer,
  EMPTY,
  finalize,
  map,
  type Observable,
  of,
  retry,
  share,
  Subject,
  Subscription,
  takeUntil,
  tap,
} from 'rxjs';

/** The WebSocket URL of the rooms server (`ws:` or `wss:`). */
export const CHAT_URL = new InjectionToken<string>('CHAT_URL');

/** The room the chat is ('chat' unless told otherwise). */
export const CHAT_ROOM = new InjectionToken<string>('CHAT_ROOM', { factory: () => 'chat' });

/** How the chat reconnects unless told otherwise: 0.5 s after a drop, doubling up to 10 s. */
export const DEFAULT_CHAT_RECONNECT_OPTIONS: ReconnectOptions = { initialDelay: 500, maxDelay: 10_000 };

/** How the chat reconnects: the options of `reconnecting()` (its subprotocol is the rooms one, always). */
export const CHAT_RECONNECT_OPTIONS = new InjectionToken<ReconnectOptions>('CHAT_RECONNECT_OPTIONS', {
  factory: () => DEFAULT_CHAT_RECONNECT_OPTIONS,
});

/** A message of the room, for a template. */
export interface ChatMessage {
  /** Where it stands in the room: `offset` grows by one per message, within one `epoch`. */
  readonly position: Position;
  /** Its text (bytes, which this app never sends, as `[N bytes]`). */
  readonly text: string;
}

/** The connection's state, for a template: no peer object, just what to show. */
export interface ChatState {
  readonly state: ConnectionStatus['state'];
  /** The connection attempt (0 for the first), while connecting, open or reconnecting. */
  readonly attempt?: number;
  /** While reconnecting: the ms until the next attempt. */
  readonly delay?: number;
}

/**
 * What happened to the room across a reconnect, to tell the user:
 * - `'resumed'`: the connection opened again and the room was joined again from the last message
 *   shown: whatever was published meanwhile comes now, nothing missed and nothing twice;
 * - `'gap'`: the server no longer had every message since the last one shown (its history is
 *   bounded, or it restarted): some were missed, and the chat goes on from now;
 * - `'ended'`: the room cannot be read any more (the connection gave up, or the server refused).
 */
export interface ChatNotice {
  readonly kind: 'resumed' | 'gap' | 'ended';
  readonly text: string;
}

/** A `send()` that failed: its message was not stored. */
export interface ChatSendError {
  /**
   * `'ERR_PEER_CLOSED'`: the connection is closed for good (it gave up, or the service is gone);
   * else the server's refusal (`'ERR_ROOM_FORBIDDEN'`, `'ERR_ENGINE_DOWN'`).
   */
  readonly code: string;
  /** The explanation. */
  readonly message: string;
  /** The text that was not stored. */
  readonly text: string;
}

/**
 * A chat room over one WebSocket that reopens itself with backoff: `roomClient()` over a
 * `reconnecting()` connection. Each message is shown once, in the room's order, and after a
 * reconnect the room resumes from the last message shown; a message sent while offline is sent
 * on the next connection, and again after each cut until the server acknowledged it (stored
 * once). Nothing connects until someone subscribes to `messages$` or calls `send()`; everything
 * closes (1000) when the injector that made the service is destroyed.
 */
@Injectable({ providedIn: 'root' })
export class ChatService {
  private readonly room = inject(CHAT_ROOM);
  private readonly connection = reconnecting(inject(CHAT_URL), {
    ...inject(CHAT_RECONNECT_OPTIONS),
    protocols: ROOMS_PROTOCOL,
  });
  private readonly rooms = roomClient(this.connection);
  /** The publishes not yet acknowledged: ended on destroy. */
  private readonly publishes = new Subscription();
  private readonly unacknowledged = new BehaviorSubject(0);
  private readonly notice = new BehaviorSubject<ChatNotice | undefined>(undefined);
  private readonly refusal = new BehaviorSubject<ChatSendError | undefined>(undefined);
  /** Whether `messages$` has the room joined now. */
  private joined = false;
  /** The texts sent and not acknowledged yet, by send. */
  private readonly waiting = new Map<number, string>();
  private sent = 0;
  /** Emits once the connection is closed for good, or the service destroyed. */
  private readonly ended = new Subject<void>();

  /**
   * The room's messages from when the first subscriber joined: each once, in the room's order,
   * across reconnects; one join however many subscribe. When the server's history no longer
   * reaches back after a reconnect, it joins again from now (`notice$` says `'gap'`). Completes
   * when the service is destroyed, or when the room cannot be read any more (`notice$` says why).
   */
  readonly messages$: Observable<ChatMessage> = defer(() => this.rooms.join(this.room)).pipe(
    tap({
      subscribe: () => (this.joined = true),
      finalize: () => (this.joined = false),
    }),
    retry({
      delay: (error: unknown) => {
        if (!(error instanceof RoomGapError)) throw error;
        const last = error.lastDelivered?.offset;
        this.notice.next({
          kind: 'gap',
          text:
            `Reconnected, but the server no longer has every message after ${last === undefined ? 'the last one shown' : `#${last}`}: ` +
            'some were missed. New messages from now on.',
        });
        return of(undefined); // join again, from now
      },
    }),
    map((message): ChatMessage => ({
      position: message.position,
      text: typeof message.data === 'string' ? message.data : `[${message.data.byteLength} bytes]`,
    })),
    catchError((error: unknown) => {
      this.notice.next({ kind: 'ended', text: `The chat ended: ${describeError(error)}` });
      return EMPTY;
    }),
    takeUntil(this.ended),
    share(),
  );

  /** The current state first, then each change; completes once closed. Does not connect. */
  readonly state$: Observable<ChatState> = this.connection.status$.pipe(
    map((status): ChatState => {
      switch (status.state) {
        case 'connecting':
        case 'open':
          return { state: status.state, attempt: status.attempt };
        case 'reconnecting':
          return { state: status.state, attempt: status.attempt, delay: status.delay };
        default:
          return { state: status.state };
      }
    }),
  );

  /**
   * How many sent messages the server has not acknowledged yet (waiting for a connection, or
   * for the server's answer): the current count first, then each change.
   */
  readonly unacknowledged$: Observable<number> = this.unacknowledged.asObservable();

  /**
   * What the last reconnect meant for the room (see `ChatNotice`), `undefined` before the first
   * one and while the connection is down: the current value first, then each change.
   */
  readonly notice$: Observable<ChatNotice | undefined> = this.notice.asObservable();

  /** Why the latest `send()` failed, or `undefined` once one is taken: the current value first. */
  readonly sendError$: Observable<ChatSendError | undefined> = this.refusal.asObservable();

  constructor() {
    let wasOpen = false;
    const statuses = this.connection.status$.subscribe((status) => {
      if (status.state === 'open') {
        // roomClient() has sent the join again, from the last message shown, as it opened.
        if (wasOpen && this.joined) {
          this.notice.next({ kind: 'resumed', text: 'Resumed after reconnect, nothing missed.' });
        }
        wasOpen = true;
      } else if (status.state === 'reconnecting' && this.notice.value?.kind === 'resumed') {
        this.notice.next(undefined);
      } else if (status.state === 'closed' && !this.ended.closed) {
        // It gave up (maxAttempts, or a refusal not worth retrying). roomClient() does not end its
        // joins and publishes then (they would wait forever): we end ours.
        const why = status.reason?.message ?? 'the connection closed';
        if (this.joined) this.notice.next({ kind: 'ended', text: `The chat ended: ${why}` });
        const unsent = [...this.waiting.values()];
        this.end();
        if (unsent.length > 0) {
          this.refusal.next({
            code: 'ERR_PEER_CLOSED',
            message: `The connection is closed for good (${why}): ${unsent.length} message(s) not stored.`,
            text: unsent[0] as string,
          });
        }
      }
    });
    inject(DestroyRef).onDestroy(() => {
      // Ours first, so that closing the connection ends nothing with an error.
      this.end();
      statuses.unsubscribe();
      this.connection.close(CloseCode.Normal);
      this.notice.complete();
      this.refusal.complete();
    });
  }

  /** Ends messages$ and every publish, and the count of those unacknowledged. */
  private end(): void {
    this.ended.next();
    this.ended.complete();
    this.unacknowledged.complete();
    this.publishes.unsubscribe();
    this.waiting.clear();
  }

  /**
   * Publishes `text` into the room: sent now if open, else on the next connection, and again
   * after each cut until the server acknowledged it; connects if nothing has yet. Returns `false`
   * when the connection is closed for good; `sendError$` tells why, then and when the server
   * refuses it later.
   */
  send(text: string): boolean {
    if (this.connection.currentStatus.state === 'closed') {
      this.refusal.next({ code: 'ERR_PEER_CLOSED', message: 'The connection is closed for good.', text });
      return false;
    }
    this.refusal.next(undefined);
    const id = ++this.sent;
    this.waiting.set(id, text);
    this.unacknowledged.next(this.waiting.size);
    this.publishes.add(
      this.rooms
        .publish(this.room, text)
        .pipe(
          finalize(() => {
            this.waiting.delete(id);
            if (!this.unacknowledged.closed) this.unacknowledged.next(this.waiting.size);
          }),
        )
        .subscribe({
          error: (error: unknown) => this.refusal.next({ code: codeOf(error), message: describeError(error), text }),
        }),
    );
    return true;
  }
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'ERR_PEER_CLOSED';
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
