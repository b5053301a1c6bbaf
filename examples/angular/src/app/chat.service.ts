import { DestroyRef, inject, Injectable, InjectionToken } from '@angular/core';
import { CloseCode, type ConnectionStatus, reconnecting, type ReconnectOptions } from 'rx-websocket-peer';
import { map, type Observable, share } from 'rxjs';

/** The WebSocket URL the chat connects to (`ws:` or `wss:`). */
export const CHAT_URL = new InjectionToken<string>('CHAT_URL');

/** How the chat reconnects: the options of `reconnecting()`. */
export const CHAT_RECONNECT_OPTIONS = new InjectionToken<ReconnectOptions>('CHAT_RECONNECT_OPTIONS', {
  factory: () => ({ initialDelay: 500, maxDelay: 10_000 }),
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

/**
 * A chat over one WebSocket that reopens itself with backoff. Nothing connects until someone
 * subscribes to `messages$` or calls `send()`; the connection closes (1000) when the injector
 * that made the service is destroyed.
 */
@Injectable({ providedIn: 'root' })
export class ChatService {
  private readonly connection = reconnecting(inject(CHAT_URL), inject(CHAT_RECONNECT_OPTIONS));

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

  constructor() {
    inject(DestroyRef).onDestroy(() => this.connection.close(CloseCode.Normal));
  }

  /** Sends `text` now if open, else once (re)connected; connects if nothing has yet. */
  send(text: string): void {
    this.connection.send(text);
  }
}
