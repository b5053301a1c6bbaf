import {
  kOnAlive,
  kOnClose,
  kOnError,
  kOnMessage,
  kOnWritten,
  type Transport,
  type TransportHandlers,
} from '../../peer/Transport.js';
import type { HandshakeInfo } from '../../peer/types.js';
import { CloseCode } from '../../peer/constants.js';
import { utf8Length } from '../../internal/bytes.js';
import { type BrowserWebSocket, OPEN } from './BrowserWebSocket.js';

interface MessageEventLike {
  readonly data: string | ArrayBuffer;
}
interface CloseEventLike {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
}

/**
 * @internal How often `bufferedAmount` is read while it is above 0: the browser tells nothing
 * when its buffer drains, and a timer that runs only then costs an idle peer nothing.
 */
export const BUFFER_SAMPLE_MS = 10;

const encoder = new TextEncoder();
// ignoreBOM: a leading byte-order mark is part of the bytes the user sends, not to be eaten.
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * @internal The browser transport: a WHATWG `WebSocket` that is already open. What the browser
 * does not expose (addresses, socket options, pings, pausing) it leaves out, and the peer says so.
 */
export class BrowserTransport implements Transport {
  readonly closeCodes = 'application';
  readonly protocol: string;
  readonly remoteHost = undefined;
  readonly remotePort = undefined;
  readonly handshake: HandshakeInfo;
  private handlers: TransportHandlers | undefined;
  /** Payload bytes handed to `send()` so far, and the running total at the end of each unreported message. */
  private sent = 0;
  private pending: number[] = [];
  private watchAlive = false;
  private sampler: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly ws: BrowserWebSocket) {
    ws.binaryType = 'arraybuffer';
    this.protocol = ws.protocol;
    // The browser shows neither the request's nor the response's headers.
    this.handshake = { url: ws.url, headers: {} };
  }

  bind(handlers: TransportHandlers, watchAlive: boolean): void {
    this.handlers = handlers;
    this.watchAlive = watchAlive;
    this.ws.addEventListener('message', this.onMessage);
    this.ws.addEventListener('close', this.onClose);
    this.ws.addEventListener('error', this.onError);
  }

  send(data: string | Uint8Array, asText: boolean): number {
    const before = this.ws.bufferedAmount;
    if (asText) this.ws.send(typeof data === 'string' ? data : decoder.decode(data));
    else this.ws.send(typeof data === 'string' ? encoder.encode(data) : data);
    // The browser adds the payload to bufferedAmount at once (text as its UTF-8 bytes).
    const added = Math.max(0, this.ws.bufferedAmount - before);
    this.sent += added;
    this.pending.push(this.sent);
    this.sampler ??= setTimeout(this.sample, 0);
    return added;
  }

  isOpen(): boolean {
    return this.ws.readyState === OPEN;
  }

  queuedBytes(): number {
    return this.ws.bufferedAmount;
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  terminate(): void {
    // The browser cannot drop a connection without its closing handshake; 1000 is what it can send.
    this.ws.close(CloseCode.Normal);
  }

  /** Reports each message whose bytes the browser has handed on; looks again later if some wait. */
  private readonly sample = (): void => {
    this.sampler = undefined;
    const handedOn = this.sent - this.ws.bufferedAmount;
    let count = 0;
    while (count < this.pending.length && (this.pending[count] as number) <= handedOn) count++;
    this.pending.splice(0, count);
    for (let i = 0; i < count; i++) this.handlers?.[kOnWritten]();
    if (this.pending.length > 0 && this.handlers) this.sampler = setTimeout(this.sample, BUFFER_SAMPLE_MS);
  };

  private readonly onMessage = (event: MessageEventLike): void => {
    const { data } = event;
    if (typeof data === 'string') this.handlers?.[kOnMessage]({ isString: true, data }, utf8Length(data));
    else this.handlers?.[kOnMessage]({ isString: false, data: new Uint8Array(data) }, data.byteLength);
    if (this.watchAlive) this.handlers?.[kOnAlive]();
  };

  private readonly onError = (): void => {
    // The browser says nothing more than that an error happened; the close event follows.
    this.handlers?.[kOnError](new Error('WebSocket error'));
  };

  private readonly onClose = (event: CloseEventLike): void => {
    const handlers = this.handlers;
    this.handlers = undefined;
    this.ws.removeEventListener('message', this.onMessage);
    this.ws.removeEventListener('close', this.onClose);
    this.ws.removeEventListener('error', this.onError);
    if (this.sampler !== undefined) clearTimeout(this.sampler);
    this.sampler = undefined;
    // What was not sent never will be: the peer settles those writes as it closes.
    this.pending = [];
    handlers?.[kOnClose](event.code, event.reason, event.wasClean);
  };
}
