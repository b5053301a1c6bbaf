import {
  Connection,
  type ConnectFunction,
  type ReconnectOptions as AnyPlatformReconnectOptions,
  type ReconnectTarget,
} from './Connection.js';
import { connect, type ConnectOptions } from '../observables/connect.js';
import type { PemInput } from '../observables/options.js';

/** Options of `reconnecting()`: those of `connect()`, and how to reconnect. */
export interface ReconnectOptions extends ConnectOptions, AnyPlatformReconnectOptions {
  /**
   * `wss:` only: the certificate authorities to trust, PEM, as for `connect()`. (Declared again:
   * Node's `ConnectOptions` takes `Buffer`s where the options of every platform take bytes.)
   */
  ca?: PemInput;
}

/**
 * A connection to `url` that reopens itself with exponential backoff and jitter, and queues
 * writes while it is not open. `url` may be several URLs to fail over to, tried in the order
 * given, one per attempt, or a function of the attempt number (see `ReconnectTarget`). Nothing happens until you subscribe to `packets$`/`peer$`, call
 * `send()` or `open()`; it stays until `close()` or until it gives up.
 *
 * ```ts
 * import { reconnecting } from 'rx-websocket-peer';
 * const chat = reconnecting('ws://127.0.0.1:8080/chat', { maxDelay: 10_000 });
 * chat.status$.subscribe((s) => console.log(s.state, 'attempt' in s ? s.attempt : ''));
 * chat.packets$.subscribe((p) => console.log(p.data));
 * chat.send('hello'); // waits until the connection is open
 * ```
 * @param url a `ws:` or `wss:` URL; an array of them, tried in order and round again, each attempt
 *   going to the URL after the last one tried; or a function from the attempt number to one,
 *   called with 0 at once (to check its URL and the options, as for one URL) and then before each
 *   later attempt.
 * @param options those of `connect()`, and `initialDelay` (500 ms), `maxDelay` (30 s),
 *   `maxAttempts` (Infinity), `jitter` (0.5), `resetAfter` (5 s), `shouldReconnect`,
 *   `maxQueuedWrites` (1,024), `maxQueuedWriteBytes` (16 MiB), `overflow` (`'error'`).
 * @throws TypeError (`ERR_INVALID_URL`, `ERR_INVALID_OPTION`) synchronously, for a bad URL (any of
 *   a list, or the function's first), an empty list, or a bad option. A function that later throws
 *   or gives what is no URL closes the connection for good with `ERR_INVALID_URL`.
 */
export function reconnecting(url: ReconnectTarget, options: ReconnectOptions = {}): Connection {
  // Connection hands connect() what it was given here, Node's options: the cast widens only
  // what the type says of `ca`.
  return new Connection(url, options, connect as ConnectFunction);
}
