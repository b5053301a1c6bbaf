import {
  asyncScheduler,
  concat,
  concatMap,
  defer,
  EMPTY,
  filter,
  map,
  type Observable,
  type Observer,
  type SchedulerLike,
  type Subscription,
  throwError,
  timer,
  catchError,
} from 'rxjs';
import { CloseCode, WriteMode } from '../peer/constants.js';
import { Inbox } from '../internal/Inbox.js';
import { LiveValue } from '../internal/LiveValue.js';
import type { CloseInfo, OutboundData, Packet } from '../peer/types.js';
import { checkOutbound, endedNormally, payloadLength, validateClose } from '../peer/validation.js';
import { WebSocketCloseError } from '../errors/WebSocketCloseError.js';
import { BoundedQueue, OVERFLOW_POLICIES } from '../internal/BoundedQueue.js';
import { kQueueBounds } from '../internal/symbols.js';
import type { WebSocketPeer } from '../peer/WebSocketPeer.js';
import { argumentError, WebSocketPeerError } from '../errors/WebSocketPeerError.js';
import { checkOptionKeys, optionKeys } from '../internal/optionKeys.js';
import {
  checkOption,
  invalidOption,
  isCount,
  isCountOrInfinity,
  isFraction,
  isFunction,
  isOneOf,
  optionMustBe,
} from '../internal/options.js';
import { CONNECT_OPTION_KEYS, type ConnectOptions } from '../observables/connectOptions.js';

/** @internal The `connect()` of the platform: Node's or the browser's. */
export type ConnectFunction = (url: string | URL, options?: ConnectOptions) => Observable<WebSocketPeer>;

/**
 * Why a connection dropped or could not open, as `status$` and `shouldReconnect` get it. Narrow
 * it with `instanceof`:
 * - `WebSocketCloseError`: an open connection ended; `code`, `reason` and `wasClean` say how
 *   (a clean 1000 too: a server that closes normally is a drop for a connection that reconnects);
 * - `WebSocketPeerError`: it could not open: `ERR_CONNECT_FAILED` (`cause` has Node's code, a
 *   TLS one for a certificate that did not verify), `ERR_HANDSHAKE_REJECTED` (`statusCode`),
 *   `ERR_HANDSHAKE_TIMEOUT`.
 */
export type DropReason = WebSocketCloseError | WebSocketPeerError;

/**
 * Where `reconnecting()` connects: one URL; several, tried in the order given, one per attempt
 * and round again (the first attempt goes to the first URL, each next attempt, after a failed
 * open or a dropped connection alike, to the URL after the last one tried); or a function of the
 * attempt number (`ConnectionStatus`'s `attempt`: 0 for the first connection, else the number of
 * the retry) that returns the URL to try.
 */
export type ReconnectTarget = string | URL | readonly (string | URL)[] | ((attempt: number) => string | URL);

/** Where a `Connection` is in its life, across reconnects. */
export type ConnectionStatus =
  /** Created; nothing asked for it yet (see `Connection.open()`). */
  | { readonly state: 'idle' }
  /** Opening: `attempt` 0 for the first connection, else the number of the retry. */
  | { readonly state: 'connecting'; readonly attempt: number }
  /** Open through `peer`. */
  | { readonly state: 'open'; readonly peer: WebSocketPeer; readonly attempt: number }
  /** The last connection dropped or failed (`reason`); retry number `attempt` starts in `delay` ms. */
  | { readonly state: 'reconnecting'; readonly attempt: number; readonly delay: number; readonly reason: DropReason }
  /**
   * Closed for good: by `close()`, or because it gave up (`reason` says why). `unsent` writes were
   * still waiting and were not sent.
   */
  | { readonly state: 'closed'; readonly reason?: DropReason; readonly unsent: number };

/** Options of `reconnecting()`: those of `connect()`, and how to reconnect. */
export interface ReconnectOptions extends ConnectOptions {
  /** The delay before the first retry, in ms; each next one doubles it. Default 500. */
  initialDelay?: number;
  /** The longest delay between retries, in ms. Default 30,000. */
  maxDelay?: number;
  /** Retries in a row before giving up. Default `Infinity`. */
  maxAttempts?: number;
  /**
   * The random part of each delay, from 0 (none) to 1: a delay `d` becomes a random value
   * between `d × (1 - jitter)` and `d`, so that clients dropped together do not all come back
   * at once. Default 0.5.
   */
  jitter?: number;
  /** A connection that stayed open this long (ms) resets the retry count to 0. Default 5,000. */
  resetAfter?: number;
  /**
   * Whether to reconnect after this drop. Default: always, except when a retry cannot mend it: an
   * HTTP 4xx answer to the handshake other than 408 and 429 (a 401 or 404 does not fix itself),
   * and a server certificate that did not verify (`ERR_CONNECT_FAILED` with a TLS verification
   * code in `cause.code`). An error it throws closes the connection for good, and `packets$`
   * errors with it.
   */
  shouldReconnect?: (reason: DropReason) => boolean;
  /** Writes that may wait while the connection is not open. Default 1,024. */
  maxQueuedWrites?: number;
  /** Their payload bytes. Default 16 MiB. */
  maxQueuedWriteBytes?: number;
  /**
   * Past either bound: `'error'` (the default: `send()` throws `ERR_QUEUE_FULL`), or drop the
   * oldest waiting write or the new one, handing it to `onDrop`.
   */
  overflow?: 'error' | 'drop-oldest' | 'drop-newest';
  /** Called with each write that an `overflow` drop policy dropped. Required with those policies. */
  onDrop?: (data: OutboundData) => void;
  /** Where the retry delays are scheduled; for tests. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

/** @internal The keys `reconnecting()` knows: its own, and those of `connect()`. */
export const RECONNECT_OPTION_KEYS = optionKeys<ReconnectOptions, keyof ConnectOptions>(
  {
    initialDelay: true,
    maxDelay: true,
    maxAttempts: true,
    jitter: true,
    resetAfter: true,
    shouldReconnect: true,
    maxQueuedWrites: true,
    maxQueuedWriteBytes: true,
    overflow: true,
    onDrop: true,
    scheduler: true,
  },
  CONNECT_OPTION_KEYS,
);

/** The keys `backoff()` knows. */
const BACKOFF_OPTION_KEYS = optionKeys<Pick<ReconnectOptions, 'initialDelay' | 'maxDelay' | 'jitter' | 'scheduler'>>({
  initialDelay: true,
  maxDelay: true,
  jitter: true,
  scheduler: true,
});

const DEFAULTS = {
  initialDelay: 500,
  maxDelay: 30_000,
  maxAttempts: Infinity,
  jitter: 0.5,
  resetAfter: 5_000,
  maxQueuedWrites: 1024,
  maxQueuedWriteBytes: 16 * 1024 * 1024,
};

/** @internal The delay before retry number `attempt` (1-based), before jitter. */
export function backoffDelay(attempt: number, initialDelay: number, maxDelay: number): number {
  // 2 ** attempt overflows to Infinity for large attempts; min() takes care of it.
  return Math.min(maxDelay, initialDelay * 2 ** (attempt - 1));
}

/**
 * The delays of `reconnecting()` for RxJS's own `retry()`: doubling from `initialDelay` up to
 * `maxDelay`, with `jitter` (see `ReconnectOptions`).
 *
 * ```ts
 * import { backoff, connect } from 'rx-websocket-peer';
 * import { retry } from 'rxjs';
 * connect(url).pipe(retry({ count: 10, delay: backoff({ maxDelay: 5_000 }), resetOnSuccess: true }));
 * ```
 */
export function backoff(
  options: Pick<ReconnectOptions, 'initialDelay' | 'maxDelay' | 'jitter' | 'scheduler'> = {},
): (error: unknown, retryCount: number) => Observable<0> {
  checkOptionKeys('backoff', options, BACKOFF_OPTION_KEYS);
  const { initialDelay = DEFAULTS.initialDelay, maxDelay = DEFAULTS.maxDelay, jitter = DEFAULTS.jitter } = options;
  const { scheduler = asyncScheduler } = options;
  // backoff() has always taken maxDelay: Infinity (no cap), where reconnecting() refuses it.
  if (!isCount(initialDelay) || !isCountOrInfinity(maxDelay) || maxDelay < initialDelay) {
    throw invalidOption('backoff', 'need integers 0 <= initialDelay <= maxDelay (ms)');
  }
  checkOption('backoff', 'jitter', jitter, isFraction, 'a number from 0 to 1');
  return (_error, retryCount) => timer(jittered(backoffDelay(retryCount, initialDelay, maxDelay), jitter), scheduler);
}

/** @internal A random delay between `delay × (1 - jitter)` and `delay`. */
export function jittered(delay: number, jitter: number): number {
  return Math.round(delay * (1 - jitter * Math.random()));
}

/**
 * Node's codes for a server certificate that did not verify: OpenSSL's X.509 verification
 * results, and Node's own host name check. Retrying meets the same certificate.
 */
const CERTIFICATE_FAILURES = new Set([
  'CERT_CHAIN_TOO_LONG',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REJECTED',
  'CERT_REVOKED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'PATH_LENGTH_EXCEEDED',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
]);

function defaultShouldReconnect(reason: DropReason): boolean {
  if (!(reason instanceof WebSocketPeerError)) return true;
  if (reason.code === 'ERR_CONNECT_FAILED') {
    const cause: unknown = reason.cause;
    const code = typeof cause === 'object' && cause !== null ? (cause as { code?: unknown }).code : undefined;
    return !(typeof code === 'string' && CERTIFICATE_FAILURES.has(code));
  }
  if (reason.code !== 'ERR_HANDSHAKE_REJECTED') return true;
  const status = reason.statusCode ?? 0;
  return !(status >= 400 && status < 500) || status === 408 || status === 429;
}

const isScheduler = (value: unknown): value is SchedulerLike =>
  typeof value === 'object' && value !== null && typeof (value as SchedulerLike).schedule === 'function';

/**
 * A connection that reopens itself. Its peers come from `connect(url, options)`; when one drops
 * or cannot open, the next try waits `initialDelay`, doubling up to `maxDelay`, with jitter,
 * until `maxAttempts` tries in a row have failed. Writes made while it is not open wait, in
 * order, in a bounded queue and go out once it is open again; nothing is sent twice (a message
 * handed to a connection that then drops is not sent again: that needs acknowledgements from
 * the other side). Get one from `reconnecting()`.
 */
export class Connection {
  /** The current status synchronously on subscribe, then each change; completes after `'closed'`. */
  readonly status$: Observable<ConnectionStatus>;
  /** Each peer as it opens (the current one first, if open); completes when closed for good. */
  readonly peer$: Observable<WebSocketPeer>;
  /**
   * Inbound packets of every connection in turn, in order: those of a connection that dropped
   * come before those of the next. Completes after `close()`; errors with the last reason if it
   * gave up. Subscribing opens the connection if it is idle.
   */
  readonly packets$: Observable<Packet>;
  /** `next(data)` is `send(data)`; `complete()` is `close()`; `error()` closes with 1011. */
  readonly sink: Observer<OutboundData>;

  private readonly status = new LiveValue<ConnectionStatus>({ state: 'idle' });
  /** Peers whose packets `packets$` has not taken yet, in the order they opened. */
  private readonly peers = new Inbox<WebSocketPeer>();
  /** Writes waiting for the connection to open, within `maxQueuedWrites` and `maxQueuedWriteBytes`. */
  private readonly queue: BoundedQueue<OutboundData>;
  /** @internal The bounds of the queue, for `roomClient()`'s own. */
  readonly [kQueueBounds]: { readonly writes: number; readonly bytes: number };
  private retries = 0;
  private openedAt: number | undefined;
  private attemptSubscription: Subscription | undefined;
  private retryTimer: Subscription | undefined;
  /** What `packets$` errors with once closed for good; `undefined`: it completes. */
  private finalError: unknown;
  /** One cold `connect()` per URL of a fixed list, checked when made. */
  private readonly sources: readonly Observable<WebSocketPeer>[] | undefined;
  /** Attempts made so far: the next one goes to `sources[tries % sources.length]`. */
  private tries = 0;
  /** A function's URLs: `connect()` is called for each attempt, with the URL it returns. */
  private readonly urlFor: ((attempt: number) => string | URL) | undefined;
  /** The function's first attempt, made (and so checked) by the constructor. */
  private firstSource: Observable<WebSocketPeer> | undefined;
  private readonly connect: ConnectFunction;
  private readonly connectOptions: ConnectOptions;
  private readonly options: Required<
    Omit<ReconnectOptions, keyof ConnectOptions | 'maxQueuedWrites' | 'maxQueuedWriteBytes' | 'overflow' | 'onDrop'>
  > & { writeMode: WriteMode };

  /** @internal Use `reconnecting()`. */
  constructor(target: ReconnectTarget, options: ReconnectOptions, connect: ConnectFunction) {
    // Before connect() sees its share: an unknown key is reconnecting()'s to report.
    checkOptionKeys('reconnecting', options, RECONNECT_OPTION_KEYS);
    const {
      initialDelay = DEFAULTS.initialDelay,
      maxDelay = DEFAULTS.maxDelay,
      maxAttempts = DEFAULTS.maxAttempts,
      jitter = DEFAULTS.jitter,
      resetAfter = DEFAULTS.resetAfter,
      shouldReconnect = defaultShouldReconnect,
      maxQueuedWrites = DEFAULTS.maxQueuedWrites,
      maxQueuedWriteBytes = DEFAULTS.maxQueuedWriteBytes,
      overflow = 'error',
      onDrop,
      scheduler = asyncScheduler,
      ...connectOptions
    } = options;
    // After the defaults, each against what it must be; in this order, so the first bad one is named.
    const fn = 'reconnecting';
    checkOption(fn, 'initialDelay', initialDelay, isCount, 'an integer >= 0 (ms)');
    const isMaxDelay = (value: unknown): value is number => isCount(value) && value >= initialDelay;
    checkOption(fn, 'maxDelay', maxDelay, isMaxDelay, 'an integer (ms) >= initialDelay');
    checkOption(fn, 'maxAttempts', maxAttempts, isCountOrInfinity, 'an integer >= 0 or Infinity');
    checkOption(fn, 'jitter', jitter, isFraction, 'a number from 0 to 1');
    checkOption(fn, 'resetAfter', resetAfter, isCount, 'an integer >= 0 (ms)');
    checkOption(fn, 'shouldReconnect', shouldReconnect, isFunction, 'a function');
    checkOption(fn, 'maxQueuedWrites', maxQueuedWrites, isCount, 'an integer >= 0');
    checkOption(fn, 'maxQueuedWriteBytes', maxQueuedWriteBytes, isCount, 'an integer >= 0');
    checkOption(fn, 'overflow', overflow, isOneOf(OVERFLOW_POLICIES), "'error', 'drop-oldest' or 'drop-newest'");
    if (overflow !== 'error' && !isFunction(onDrop)) {
      throw optionMustBe(fn, 'onDrop', `a function with overflow '${overflow}'`);
    }
    checkOption(fn, 'scheduler', scheduler, isScheduler, 'an RxJS scheduler');
    // connect() checks each URL and its own options now, synchronously; it is cold, so nothing opens.
    this.connect = connect;
    this.connectOptions = connectOptions;
    if (typeof target === 'function') {
      this.urlFor = target;
      this.firstSource = connect(target(0), connectOptions);
    } else if (Array.isArray(target)) {
      if (target.length === 0) {
        throw argumentError(TypeError, 'ERR_INVALID_URL', 'reconnecting(): the list of URLs is empty');
      }
      this.sources = target.map((url: string | URL) => connect(url, connectOptions));
    } else {
      this.sources = [connect(target as string | URL, connectOptions)];
    }
    this.options = {
      initialDelay,
      maxDelay,
      maxAttempts,
      jitter,
      resetAfter,
      shouldReconnect,
      scheduler,
      writeMode: connectOptions.writeMode ?? WriteMode.Text,
    };
    this.queue = new BoundedQueue(maxQueuedWrites, maxQueuedWriteBytes, overflow, onDrop);
    this[kQueueBounds] = { writes: maxQueuedWrites, bytes: maxQueuedWriteBytes };

    this.status$ = this.status.observable;
    this.peer$ = this.status.observable.pipe(
      filter((status): status is Extract<ConnectionStatus, { state: 'open' }> => status.state === 'open'),
      map((status) => status.peer),
    );
    this.packets$ = defer(() => {
      this.open();
      return concat(
        this.peers.observable.pipe(concatMap((peer) => peer.packets$.pipe(catchError(() => EMPTY)))),
        defer(() => (this.finalError === undefined ? EMPTY : throwError(() => this.finalError))),
      );
    });
    this.sink = {
      next: (data) => this.send(data),
      complete: () => this.close(),
      error: () => this.close(CloseCode.InternalError),
    };
  }

  /** The current status. */
  get currentStatus(): ConnectionStatus {
    return this.status.value;
  }

  /** How many writes wait for the connection to open. */
  get queuedWrites(): number {
    return this.queue.size;
  }

  /** Starts connecting, if nothing has asked for the connection yet. Does nothing otherwise. */
  open(): void {
    if (this.status.value.state === 'idle') this.attempt();
  }

  /**
   * Sends `data` now if the connection is open, else queues it until it is (and opens it if idle).
   * @throws WebSocketPeerError `ERR_QUEUE_FULL` past the queue's bounds (with `overflow: 'error'`),
   *   `ERR_PEER_CLOSED` once closed for good; TypeError `ERR_INVALID_DATA`/`ERR_INVALID_UTF8` for
   *   data no peer would send. Nothing is sent or queued then.
   */
  send(data: OutboundData): void {
    const status = this.status.value;
    if (status.state === 'closed') {
      throw new WebSocketPeerError('ERR_PEER_CLOSED', 'Cannot send: the connection is closed for good');
    }
    if (status.state === 'open' && status.peer.isConnectedToHost() && this.queue.size === 0) {
      status.peer.putPacket(data);
      return;
    }
    checkOutbound(data, this.options.writeMode);
    if (!this.queue.offer(data, payloadLength(data))) {
      throw new WebSocketPeerError(
        'ERR_QUEUE_FULL',
        `Cannot queue the write: ${this.queue.size} writes (${this.queue.weight} bytes) wait for the connection to open`,
        { held: this.queue.size },
      );
    }
    this.open();
  }

  /**
   * Closes for good: stops reconnecting and closes the open peer with `code` and `reason`. Writes
   * still queued are not sent; the `'closed'` status counts them.
   * @throws RangeError as `WebSocketPeer.close()` does, for a code or reason out of range.
   */
  close(code: number = CloseCode.Normal, reason = ''): void {
    validateClose(code, reason);
    const status = this.status.value;
    if (status.state === 'closed') return;
    // The peer first, with the caller's code: finish() would close it with 1000.
    if (status.state === 'open') status.peer.close(code, reason);
    this.finish(undefined);
  }

  /** The cold `connect()` of attempt `attempt`: see `ReconnectTarget`. */
  private sourceFor(attempt: number): Observable<WebSocketPeer> {
    if (this.sources !== undefined)
      return this.sources[this.tries++ % this.sources.length] as Observable<WebSocketPeer>;
    const first = this.firstSource;
    this.firstSource = undefined;
    if (attempt === 0 && first !== undefined) return first;
    return this.connect((this.urlFor as (attempt: number) => string | URL)(attempt), this.connectOptions);
  }

  private attempt(): void {
    let source: Observable<WebSocketPeer>;
    try {
      source = this.sourceFor(this.retries);
    } catch (error) {
      // The function threw, or gave what is no URL: a bug to report, not a network to retry.
      const message = error instanceof Error ? error.message : String(error);
      this.finish(
        new WebSocketPeerError('ERR_INVALID_URL', `reconnecting(): no URL for attempt ${this.retries}: ${message}`, {
          cause: error,
        }),
      );
      return;
    }
    this.status.set({ state: 'connecting', attempt: this.retries });
    let peer: WebSocketPeer | undefined;
    this.attemptSubscription = source.subscribe({
      next: (opened) => {
        peer = opened;
        this.openedAt = this.options.scheduler.now();
        this.peers.put(opened, 1);
        this.status.set({ state: 'open', peer: opened, attempt: this.retries });
        this.flush(opened);
      },
      // connect() errors with nothing else: a WebSocketPeerError before it opens, else a WebSocketCloseError.
      error: (error: unknown) => this.dropped(error as DropReason),
      // A clean close with 1000 (by the server: our own close() has unsubscribed).
      complete: () => {
        let info: CloseInfo = { code: CloseCode.Normal, reason: '', wasClean: true };
        peer?.closed$.subscribe((closed) => (info = closed)).unsubscribe();
        this.dropped(new WebSocketCloseError(info));
      },
    });
  }

  private dropped(reason: DropReason): void {
    this.attemptSubscription = undefined;
    if (this.status.value.state === 'closed') return;
    const { scheduler, resetAfter, maxAttempts, shouldReconnect, initialDelay, maxDelay, jitter } = this.options;
    if (this.openedAt !== undefined && scheduler.now() - this.openedAt >= resetAfter) this.retries = 0;
    this.openedAt = undefined;
    let again: boolean;
    try {
      again = this.retries < maxAttempts && shouldReconnect(reason);
    } catch (error) {
      this.finish(reason, error);
      return;
    }
    if (!again) {
      this.finish(reason);
      return;
    }
    this.retries++;
    const delay = jittered(backoffDelay(this.retries, initialDelay, maxDelay), jitter);
    this.status.set({ state: 'reconnecting', attempt: this.retries, delay, reason });
    this.retryTimer = scheduler.schedule(() => {
      this.retryTimer = undefined;
      this.attempt();
    }, delay);
  }

  /** Closed for good: by `close()` (no `reason`), or giving up after `reason`. */
  private finish(reason: DropReason | undefined, error: unknown = reason): void {
    this.retryTimer?.unsubscribe();
    this.retryTimer = undefined;
    const attempt = this.attemptSubscription;
    this.attemptSubscription = undefined;
    // packets$ completes after close(), and after a clean 1000 it chose not to retry; else it errors.
    this.finalError = error instanceof WebSocketCloseError && endedNormally(error) ? undefined : error;
    const unsent = this.queue.size;
    this.queue.clear();
    this.status.set(reason === undefined ? { state: 'closed', unsent } : { state: 'closed', reason, unsent });
    this.status.complete();
    this.peers.end();
    // Unsubscribing closes an open peer with 1000 (close() closes it first with its own code),
    // or aborts a handshake in progress.
    attempt?.unsubscribe();
  }

  private flush(peer: WebSocketPeer): void {
    // In order, and each write leaves the queue as it is handed over: none goes twice.
    while (this.queue.size > 0 && peer.isConnectedToHost()) peer.putPacket(this.queue.shift());
  }
}
