import { type MonoTypeOperatorFunction, Observable, type Observer, Subscription } from 'rxjs';
import type { OutboundData, PeerState } from '../peer/types.js';
import { payloadLength, payloadLengthBound } from '../peer/validation.js';
import { BoundedQueue, OVERFLOW_POLICIES } from '../internal/BoundedQueue.js';
import { argumentError, WebSocketPeerError } from '../errors/WebSocketPeerError.js';
import { optionKeys } from '../internal/optionKeys.js';
import { checkOption, invalidOption, isFunction, isOneOf, isPositiveInteger } from '../internal/options.js';
import { DEFAULT_MAX_HELD_BYTES, resolveMarks, WATER_MARK_KEYS, type WaterMarks } from './marks.js';

/** What `backpressure()` watches: a `WebSocketPeer`, or anything with the same two streams. */
export interface FlowControlled {
  readonly bufferedAmount$: Observable<number>;
  readonly state$: Observable<PeerState>;
  /**
   * The amount `bufferedAmount$` last emitted. Where there is one (a `WebSocketPeer` has it),
   * the operator reads it before each value and watches `bufferedAmount$` only while above the
   * marks: a value passes through without a notification per send.
   */
  getCurrentOutboundBufferedAmount?(): number;
}

/** What `backpressure()` does when holding the next value would pass `maxHeldBytes`. */
export type OverflowPolicy<T> =
  /** Error with `ERR_BACKPRESSURE_OVERFLOW` (the default). */
  | { overflow?: 'error' }
  /** Give the oldest held values (`'drop-oldest'`) or the new one (`'drop-newest'`) to `onDrop`, which must be given. */
  | { overflow: 'drop-oldest' | 'drop-newest'; onDrop: (value: T) => void };

/** Options of `backpressure()`. */
export type BackpressureOptions<T> = WaterMarks & {
  /**
   * The payload bytes (strings by their UTF-8 length) the operator may hold while the peer's
   * buffer is above the marks. Default 64 MiB.
   */
  maxHeldBytes?: number;
} & OverflowPolicy<T>;

/** @internal The keys `backpressure()` knows. */
export const BACKPRESSURE_OPTION_KEYS = optionKeys<BackpressureOptions<unknown>, keyof WaterMarks>(
  { maxHeldBytes: true, overflow: true, onDrop: true },
  WATER_MARK_KEYS,
);

/**
 * Forwards values while the peer's outbound buffer is below `highWaterMark`; once it reaches the
 * mark, holds them, in order, until the buffer is down to `lowWaterMark`. Pipe the result into
 * `peer.sink` and a fast source can no longer fill memory. Nothing is dropped silently: past
 * `maxHeldBytes` the `overflow` policy applies (an error by default). Completes after the source
 * completes and every held value has been forwarded; a source error also waits for the held
 * values. Errors with `ERR_PEER_CLOSED` (naming how many values it held) if the peer starts
 * closing first. Unsubscribing discards what it holds.
 *
 * ```ts
 * import { backpressure } from 'rx-websocket-peer';
 * import { interval, map } from 'rxjs';
 * interval(0)
 *   .pipe(map((i) => `tick ${i}`), backpressure(peer, { highWaterMark: 1 << 20 }))
 *   .subscribe(peer.sink);
 * ```
 * @param peer the peer whose buffer to watch (only its `bufferedAmount$` and `state$` are used).
 * @param options `highWaterMark` (1 MiB), `lowWaterMark` (256 KiB), `maxHeldBytes` (64 MiB),
 *   `overflow` (`'error'`; `'drop-oldest'`/`'drop-newest'` with `onDrop`).
 * @throws TypeError/RangeError (`ERR_INVALID_OPTION`) synchronously, for a bad option.
 */
export function backpressure<T extends OutboundData>(
  peer: FlowControlled,
  options: BackpressureOptions<T> = {},
): MonoTypeOperatorFunction<T> {
  const { high, low } = resolveMarks('backpressure', options, BACKPRESSURE_OPTION_KEYS);
  const { maxHeldBytes = DEFAULT_MAX_HELD_BYTES, overflow = 'error' } = options;
  const onDrop = 'onDrop' in options ? options.onDrop : undefined;
  if (typeof peer !== 'object' || peer === null || !('bufferedAmount$' in peer) || !('state$' in peer)) {
    throw argumentError(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      'backpressure(): the first argument must be a WebSocketPeer',
    );
  }
  checkOption('backpressure', 'maxHeldBytes', maxHeldBytes, isPositiveInteger, 'a positive integer (bytes)');
  const policies = `one of ${OVERFLOW_POLICIES.join(', ')}`;
  checkOption('backpressure', 'overflow', overflow, isOneOf(OVERFLOW_POLICIES), policies);
  if (overflow !== 'error' && !isFunction(onDrop)) {
    throw invalidOption('backpressure', `overflow '${overflow}' needs an onDrop(value) function`);
  }

  return (source) =>
    new Observable<T>((subscriber) => {
      // Bounded by bytes only: a count would add nothing that maxHeldBytes does not bound.
      const held = new BoundedQueue<T>(Infinity, maxHeldBytes, overflow, onDrop);
      /**
       * Whether `held` weighs each value by its exact payload length. While what it holds is far
       * from `maxHeldBytes`, a string is weighed by what it can be at most (3 bytes per UTF-16
       * unit), known for nothing: counting its UTF-8 bytes there would decide nothing, and the
       * peer counts them anyway when it sends it. Once that estimate could pass the bound, what
       * is held is weighed again, exactly, and so is every value after it until the operator
       * holds nothing: the bound holds to the byte.
       */
      let exact = false;
      let open = false;
      let aboveMarks = false;
      let flushing = false;
      let sourceEnd: { error?: unknown; failed: boolean } | undefined;
      const subscriptions = new Subscription();
      const canRead = typeof peer.getCurrentOutboundBufferedAmount === 'function';
      /** `bufferedAmount$`: always where the amount cannot be read, else only while above the marks. */
      let watch: Subscription | undefined;

      const watchBuffer = (): void => {
        watch = peer.bufferedAmount$.subscribe((amount) => {
          if (amount >= high) aboveMarks = true;
          else if (aboveMarks && amount <= low) {
            aboveMarks = false;
            if (canRead) stopWatching();
            flush();
          }
        });
      };
      const stopWatching = (): void => {
        watch?.unsubscribe();
        watch = undefined;
      };
      /** Whether the peer's buffer is above the marks: read now where it can be, else as last told. */
      const full = (): boolean => {
        if (!aboveMarks && canRead && (peer.getCurrentOutboundBufferedAmount?.() ?? 0) >= high) {
          aboveMarks = true;
          watchBuffer();
        }
        return aboveMarks;
      };

      const fail = (error: unknown): void => {
        held.clear();
        subscriber.error(error);
      };
      const endIfDone = (): void => {
        if (!sourceEnd || held.size > 0) return;
        if (sourceEnd.failed) subscriber.error(sourceEnd.error);
        else subscriber.complete();
      };
      const flush = (): void => {
        // Each next() may send, which may push the buffer over the mark again, synchronously.
        if (flushing) return;
        flushing = true;
        try {
          while (open && held.size > 0 && !full() && !subscriber.closed) subscriber.next(held.shift());
        } finally {
          flushing = false;
        }
        endIfDone();
      };
      const hold = (value: T): void => {
        if (held.size === 0) exact = false;
        let size = exact ? payloadLength(value) : payloadLengthBound(value);
        if (!exact && !held.fits(size)) {
          held.reweigh(payloadLength);
          exact = true;
          size = payloadLength(value);
        }
        if (!held.offer(value, size)) {
          const count = held.size;
          fail(
            new WebSocketPeerError(
              'ERR_BACKPRESSURE_OVERFLOW',
              `backpressure(): holding ${count} value(s), ${held.weight} bytes; the next one (${size} bytes) would pass maxHeldBytes (${maxHeldBytes})`,
              { held: count },
            ),
          );
        }
      };

      subscriptions.add(
        peer.state$.subscribe((state) => {
          open = state === 'open';
          if (open) flush();
          else if (state !== 'connecting' && !subscriber.closed) {
            const count = held.size;
            fail(
              new WebSocketPeerError(
                'ERR_PEER_CLOSED',
                `backpressure(): the peer is ${state}; ${count} held value(s) were not sent`,
                { held: count, cause: sourceEnd?.error },
              ),
            );
          }
        }),
      );
      subscriptions.add(stopWatching);
      if (!canRead) watchBuffer();
      if (subscriber.closed) return subscriptions;

      subscriptions.add(
        source.subscribe(
          new SourceSubscriber<T>(
            (value) => {
              if (open && held.size === 0 && !full()) subscriber.next(value);
              else {
                try {
                  hold(value);
                } catch (error) {
                  fail(error); // from onDrop
                }
              }
            },
            (failed, error) => {
              sourceEnd = { error, failed };
              endIfDone();
            },
          ),
        ),
      );
      subscriptions.add(() => held.clear());
      return subscriptions;
    });
}

/**
 * The operator's subscriber to its source: a `Subscription` with the `Observer` methods, which
 * RxJS subscribes as it is, as it does its own operators' subscribers, rather than wrapping an
 * observer in two more objects. Between a synchronous loop and `peer.sink`, those two calls per
 * value cost more than everything else the operator does (64 B messages: 0.91x of the same path
 * without the operator, against 0.99x for `map()`).
 */
class SourceSubscriber<T> extends Subscription implements Observer<T> {
  private stopped = false;

  constructor(
    private readonly onNext: (value: T) => void,
    private readonly onEnd: (failed: boolean, error?: unknown) => void,
  ) {
    super();
  }

  next(value: T): void {
    if (!this.stopped) this.onNext(value);
  }

  error(error: unknown): void {
    this.end(true, error);
  }

  complete(): void {
    this.end(false);
  }

  override unsubscribe(): void {
    this.stopped = true;
    super.unsubscribe();
  }

  /** As an RxJS subscriber ends: once, then it lets go of the source. */
  private end(failed: boolean, error?: unknown): void {
    if (this.stopped) return;
    this.stopped = true;
    try {
      this.onEnd(failed, error);
    } finally {
      this.unsubscribe();
    }
  }
}
