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

// The values of a WHATWG `WebSocket`'s `readyState`, named as its static constants. Constants of
// their own rather than an object's properties: a bundler writes the numbers where they are used,
// so that naming them costs a browser bundle nothing.
/** @internal The opening handshake is under way. */
export const CONNECTING = 0;
/** @internal Open: messages go both ways. */
export const OPEN = 1;
/** @internal The closing handshake is under way. */
export const CLOSING = 2;
/** @internal Closed, or it could not open. */
export const CLOSED = 3;
