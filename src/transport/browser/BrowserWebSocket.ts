/** @internal What we use of a WHATWG `WebSocket` (typed here, so the build needs no DOM types). */
export interface BrowserWebSocket {
  readonly url: string;
  readonly protocol: string;
  readonly readyState: number;
  readonly bufferedAmount: number;
  binaryType: string;
  send(data: string | ArrayBufferView | ArrayBuffer): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: never) => void): void;
  removeEventListener(type: string, listener: (event: never) => void): void;
}

/** @internal The constructor of a WHATWG `WebSocket`. */
export type BrowserWebSocketConstructor = new (url: string, protocols?: string | string[]) => BrowserWebSocket;

/** @internal The values of a WHATWG `WebSocket`'s `readyState` (its static `CONNECTING`, `OPEN`, ...). */
export const ReadyState = {
  Connecting: 0,
  Open: 1,
  Closing: 2,
  Closed: 3,
} as const;
