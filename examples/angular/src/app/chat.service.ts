import { DestroyRef, inject, Injectable, InjectionToken } from '@angular/core';
import {
  CloseCode,
  type ConnectionStatus,
  reconnecting,
  type ReconnectOptions,
  WebSocketPeerError,
} from 'rx-websocket-peer';
import {
  asapScheduler,
  BehaviorSubject,
  distinctUntilChanged,
  map,
  merge,
  type Observable,
  observeOn,
  share,
  Subject,
} from 'rxjs';

/** The WebSocket URL the chat connects to (`ws:` or `wss:`). */
export const CHAT_URL = new InjectionToken<string>('CHAT_URL');

/** How the chat reconnects unless told otherwise: 0.5 s after a drop, doubling up to 10 s. */
export const DEFAULT_CHAT_RECONNECT_OPTIONS: ReconnectOptions = { initialDelay: 500, maxDelay: 10_000 };

/**
 * How the chat reconnects, and how many sends may wait while it is offline (`maxQueuedWrites`,
 * 1,024 unless set): the options of `reconnecting()`.
 */
export const CHAT_RECONNECT_OPTIONS = new InjectionToken<ReconnectOptions>('CHAT_RECONNECT_OPTIONS', {
  factory: () => DEFAULT_CHAT_RECONNECT_OPTIONS,
});

/** A received message: text frames as strings, binary frames as bytes. */
export type ChatMessage = string | Uint8Array;

/** The connection's state, for a template: no peer object, just what to show. */
export interface ChatState {
  readonly state: ConnectionStatus['state'];
  /** The connection attempt (0 for the first), while connecting, open or reconnecting. */
  readonly attempt?: number;
  /** While reconnecting: the ms until the next attempt. */
  readonly delay?: number;
}

/** A `send()` the connection refused: nothing of it was sent or queued. */
export interface ChatSendError {
  /**
   * `'ERR_QUEUE_FULL'`: offline, with `maxQueuedWrites` sends already waiting.
   * `'ERR_PEER_CLOSED'`: the connection is closed for good (it gave up, or the service is gone).
   */
  readonly code: 'ERR_QUEUE_FULL' | 'ERR_PEER_CLOSED';
  /** The library's explanation. */
  readonly message: string;
  /** The text that was not sent. */
  readonly text: string;
}

/**
 * A chat over one WebSocket that reopens itself with backoff. Nothing connects until someone
 * subscribes to `messages$` or calls `send()`; the connection closes (1000) when the injector
 * that made the service is destroyed.
 */
@Injectable({ providedIn: 'root' })
export class ChatService {
  private readonly connection = reconnecting(inject(CHAT_URL), inject(CHAT_RECONNECT_OPTIONS));
  /** Ticks after each `send()`, taken or not. */
  private readonly sends = new Subject<void>();
  private readonly refusal = new BehaviorSubject<ChatSendError | undefined>(undefined);

  /** Messages of every connection in turn, in order; one connection however many subscribe. */
  readonly messages$: Observable<ChatMessage> = this.connection.packets$.pipe(
    map((packet) => packet.data),
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
   * How many `send()`s wait for the connection to (re)open: the current count first, then each
   * change. Does not connect; completes when the service is destroyed.
   */
  readonly queued$: Observable<number> = merge(
    this.connection.status$,
    // The connection tells 'open' before it hands the waiting writes to the new peer: count again
    // once it has.
    this.connection.peer$.pipe(observeOn(asapScheduler)),
    this.sends,
  ).pipe(
    map(() => this.connection.queuedWrites),
    distinctUntilChanged(),
  );

  /**
   * Why the latest `send()` was refused, or `undefined` if it was taken (or none was made yet):
   * the current value first, then one per `send()`.
   */
  readonly sendError$: Observable<ChatSendError | undefined> = this.refusal.asObservable();

  constructor() {
    inject(DestroyRef).onDestroy(() => {
      this.connection.close(CloseCode.Normal);
      this.sends.complete();
    });
  }

  /**
   * Sends `text` now if open, else queues it until (re)connected, in order; connects if nothing
   * has yet. Returns `false` when the connection refuses it (see `ChatSendError`), and
   * `sendError$` tells why: a refusal is something to show, not an exception.
   */
  send(text: string): boolean {
    try {
      this.connection.send(text);
      this.refusal.next(undefined);
      return true;
    } catch (error) {
      if (!(error instanceof WebSocketPeerError)) throw error;
      if (error.code !== 'ERR_QUEUE_FULL' && error.code !== 'ERR_PEER_CLOSED') throw error;
      this.refusal.next({ code: error.code, message: error.message, text });
      return false;
    } finally {
      this.sends.next();
    }
  }
}
