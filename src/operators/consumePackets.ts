import { from, Observable, type ObservableInput, of, Subscription } from 'rxjs';
import { kWatchInbox } from '../internal/symbols.js';
import type { CloseInfo, Packet } from '../peer/types.js';
import { WebSocketCloseError } from '../errors/WebSocketCloseError.js';
import { endedNormally } from '../peer/validation.js';
import type { WebSocketPeer } from '../peer/WebSocketPeer.js';
import { checkOptionKeys, optionKeys } from '../internal/optionKeys.js';
import { checkOption, isPositiveInteger } from '../internal/options.js';
import { argumentError } from '../errors/WebSocketPeerError.js';

/** What a handler returned, as an observable: a plain value, a string too, is one value. */
function outputOf<R>(result: ObservableInput<R> | R): Observable<R> {
  if (result !== null && (typeof result === 'object' || typeof result === 'function')) {
    try {
      return from(result as ObservableInput<R>);
    } catch {
      // from() refuses synchronously what it cannot take (a plain object): that is a plain value.
    }
  }
  return of(result as R);
}

/** Options of `consumePackets()`. */
export interface ConsumePacketsOptions {
  /** How many packets may be handled at once. Default 1: one after the other, in order. */
  concurrency?: number;
}

/** @internal The keys `consumePackets()` knows. */
export const CONSUME_PACKETS_OPTION_KEYS = optionKeys<ConsumePacketsOptions>({ concurrency: true });

/**
 * Handles the peer's inbound packets at the handler's own pace: takes a packet from the peer only
 * when a handler slot is free (one by default), and emits what the handler returns (a value, a
 * promise, an observable). A plain value, a string or `undefined` included, is emitted as it is;
 * what RxJS's `from()` takes (a promise, an observable, an array...) is emitted value by value, as
 * `mergeMap` would. Packets not taken yet wait in the peer, whose queue is bounded: when it
 * is full the peer stops reading from the socket and TCP slows the sender down. So a slow
 * consumer costs bounded memory, end to end, and loses nothing. (`packets$.pipe(concatMap(...))`
 * is not bounded: `packets$` hands out every waiting packet at once and `concatMap` buffers them.)
 *
 * Completes once the peer has closed cleanly with 1000 and every packet has been handled; errors
 * with `WebSocketCloseError` after the last packet of any other end, or with the handler's error
 * (later packets then stay in the peer). Unsubscribing stops taking packets. While `packets$` has
 * subscribers, they take the packets instead.
 *
 * ```ts
 * import { consumePackets } from 'rx-websocket-peer';
 * consumePackets(peer, async (packet) => {
 *   await db.insert(packet.data); // the next packet is taken when this is done
 * }).subscribe();
 * ```
 * @param peer whose packets to take.
 * @param handler called with each packet and its index.
 * @param options `concurrency` (default 1).
 * @throws TypeError (`ERR_INVALID_ARG_TYPE`, `ERR_INVALID_OPTION`) synchronously, for a bad argument.
 */
export function consumePackets<R>(
  peer: WebSocketPeer,
  handler: (packet: Packet, index: number) => ObservableInput<R> | R,
  options: ConsumePacketsOptions = {},
): Observable<R> {
  if (typeof peer !== 'object' || peer === null || typeof peer[kWatchInbox] !== 'function') {
    throw argumentError(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      'consumePackets(): the first argument must be a WebSocketPeer',
    );
  }
  if (typeof handler !== 'function') {
    throw argumentError(TypeError, 'ERR_INVALID_ARG_TYPE', 'consumePackets(): the handler must be a function');
  }
  checkOptionKeys('consumePackets', options, CONSUME_PACKETS_OPTION_KEYS);
  const { concurrency = 1 } = options;
  checkOption('consumePackets', 'concurrency', concurrency, isPositiveInteger, 'a positive integer');

  return new Observable<R>((subscriber) => {
    const handlers = new Subscription();
    let active = 0;
    let index = 0;
    let closeInfo: CloseInfo | undefined;
    let pumping = false;
    let again = false;

    const takeWhileFree = (): void => {
      while (active < concurrency && !subscriber.closed) {
        const packet = peer.getPacket();
        if (packet === undefined) break;
        active++;
        let result: ObservableInput<R> | R;
        try {
          result = handler(packet, index++);
        } catch (error) {
          subscriber.error(error);
          return;
        }
        if (result === null || (typeof result !== 'object' && typeof result !== 'function')) {
          // A plain value (undefined, most often): what of(result) would do at once, without an
          // Observable, an observer and a subscription for every packet.
          subscriber.next(result as R);
          active--;
          continue;
        }
        const output = outputOf(result);
        const slot = new Subscription();
        handlers.add(slot);
        slot.add(
          output.subscribe({
            next: (value) => subscriber.next(value),
            error: (error: unknown) => subscriber.error(error),
            complete: () => {
              handlers.remove(slot);
              active--;
              pump();
            },
          }),
        );
      }
      if (active === 0 && closeInfo && peer.getAvailablePacketCount() === 0) {
        if (endedNormally(closeInfo)) subscriber.complete();
        else subscriber.error(new WebSocketCloseError(closeInfo));
      }
    };
    // A handler that finishes synchronously re-enters here; loop instead of recursing.
    const pump = (): void => {
      if (pumping) {
        again = true;
        return;
      }
      pumping = true;
      try {
        do {
          again = false;
          takeWhileFree();
        } while (again && !subscriber.closed);
      } finally {
        pumping = false;
      }
    };

    handlers.add(peer[kWatchInbox](pump));
    handlers.add(
      peer.closed$.subscribe((info) => {
        closeInfo = info;
        pump();
      }),
    );
    pump();
    return handlers;
  });
}
