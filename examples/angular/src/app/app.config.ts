import { type ApplicationConfig, DOCUMENT, inject, provideZonelessChangeDetection } from '@angular/core';
import { CHAT_URL } from './chat.service';

/**
 * The chat server: `?ws=ws://host:port/path` in the page's URL, else `/chat` on the page's own
 * host (where `server.mjs` serves it).
 */
export function chatUrlFrom(location: Location): string {
  const fromQuery = new URLSearchParams(location.search).get('ws');
  if (fromQuery) return fromQuery;
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/chat`;
}

export const appConfig: ApplicationConfig = {
  providers: [
    provideZonelessChangeDetection(),
    { provide: CHAT_URL, useFactory: () => chatUrlFrom(inject(DOCUMENT).location) },
  ],
};
