import { type ApplicationConfig, DOCUMENT, inject, provideZonelessChangeDetection } from '@angular/core';
import type { ReconnectOptions } from 'rx-websocket-peer';
import { CHAT_RECONNECT_OPTIONS, CHAT_URL, DEFAULT_CHAT_RECONNECT_OPTIONS } from './chat.service';

/**
 * The chat server: `?ws=ws://host:port/path` in the page's URL, else `/chat` on the page's own
 * host (where `server.mjs` serves it).
 */
export function chatUrlFrom(location: Location): string {
  const fromQuery = new URLSearchParams(location.search).get('ws');
  if (fromQuery) return fromQuery;
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/chat`;
}

/**
 * How the chat reconnects: the defaults, with the delay before the first retry from
 * `?initialDelay=N` in the page's URL when there is one (an integer >= 0, in ms), so that the
 * time offline after a drop can be made long enough to try, and test, sending meanwhile.
 */
export function chatReconnectOptionsFrom(location: Location): ReconnectOptions {
  const fromQuery = new URLSearchParams(location.search).get('initialDelay');
  const initialDelay = fromQuery && /^\d+$/.test(fromQuery) ? Number(fromQuery) : undefined;
  return initialDelay === undefined || !Number.isSafeInteger(initialDelay)
    ? DEFAULT_CHAT_RECONNECT_OPTIONS
    : {
        ...DEFAULT_CHAT_RECONNECT_OPTIONS,
        initialDelay,
        maxDelay: Math.max(initialDelay, DEFAULT_CHAT_RECONNECT_OPTIONS.maxDelay ?? 0),
      };
}

export const appConfig: ApplicationConfig = {
  providers: [
    provideZonelessChangeDetection(),
    { provide: CHAT_URL, useFactory: () => chatUrlFrom(inject(DOCUMENT).location) },
    { provide: CHAT_RECONNECT_OPTIONS, useFactory: () => chatReconnectOptionsFrom(inject(DOCUMENT).location) },
  ],
};
