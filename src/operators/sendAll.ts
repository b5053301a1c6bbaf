import { Observable, type Subscription } from 'rxjs';
import { WriteMode } from '../peer/constants.js';
import { kWrite } from '../internal/symbols.js';
import { payloadLength, validateWriteMode } from '../peer/validation.js';
import { asBytes } from '../internal/bytes.js';
import type { WebSocketPeer } from '../peer/WebSocketPeer.js';
import { argumentError, WebSocketPeerError } from '../errors/WebSocketPeerError.js';
import { optionKeys } from '../internal/optionKeys.js';
import { resolveMarks, WATER_MARK_KEYS, type WaterMarks } from './marks.js';

/** What `sendAll()` can send: strings and bytes, from a sync or an async source. */
export type SendSource =
  | Iterable<string | Uint8Array | ArrayBuffer | ArrayBufferView>
  | AsyncIterable<string | Uint8Array | ArrayBuffer | ArrayBufferView>;

/** Options of `sendAll()`. */
export interface SendAllOptions extends WaterMarks {
  /**
   * Send every item as text (`WriteMode.Text`: bytes must be UTF-8) or as binary
   * (`WriteMode.Binary`). Default: each item by its type, strings as text and bytes as binary.
   */
  writeMode?: WriteMode;
}

/** @internal The keys `sendAll()` knows. */
export const SEND_ALL_OPTION_KEYS = optionKeys<SendAllOptions, keyof WaterMarks>({ writeMode: true }, WATER_MARK_KEYS);

/** How far `sendAll()` has come. */
export interface SendProgress {
  /** Items sent so far (each one message). */
  readonly packets: number;
  /** Their payload bytes. */
  readonly bytes: number;
  /** The peer's outbound buffer when this was emitted (`getCurrentOutboundBufferedAmount()`). */
  readonly bufferedAmount: number;
}

/** Items sent between two turns of the event loop while the kernel takes every write at once. */
const ITEMS_PER_TURN = 64;

/** Resolves on a later turn of the event loop, after I/O callbacks (a microtask would not be). */
const nextTurn = (): Promise<void> =>
  new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));

type Step = { done: false; value: unknown } | { done: true };
type Puller = { next(): Step | Promise<Step>; close(): void };

function pullerOf(source: SendSource): Puller | undefined {
  if (typeof source !== 'object' || source === null) return undefined;
  const asyncIterate = (source as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator];
  const iterate = (source as Partial<Iterable<unknown>>)[Symbol.iterator];
  if (typeof asyncIterate !== 'function' && typeof iterate !== 'function') return undefined;
  let iterator: AsyncIterator<unknown> | Iterator<unknown> | undefined;
  let done = false;
  const broken = (what: string): TypeError =>
    argumentError(TypeError, 'ERR_INVALID_ARG_TYPE', `sendAll(): the source's iterator ${what}`);
  const start = (): AsyncIterator<unknown> | Iterator<unknown> => {
    if (iterator) return iterator;
    const made: unknown =
      typeof asyncIterate === 'function' ? asyncIterate.call(source) : (iterate as () => unknown).call(source);
    if (typeof made !== 'object' || made === null || typeof (made as Iterator<unknown>).next !== 'function') {
      throw broken('is not an iterator (it has no next())');
    }
    return (iterator = made as Iterator<unknown>);
  };
  const settle = (result: unknown): Step => {
    if (typeof result !== 'object' || result === null) throw broken('gave a result that is not an object');
    const { done: finished, value } = result as IteratorResult<unknown>;
    if (finished) done = true;
    return finished ? { done: true } : { done: false, value };
  };
  return {
    next: () => {
      const result: unknown = start().next();
      const thenable =
        typeof result === 'object' && result !== null && typeof (result as PromiseLike<unknown>).then === 'function';
      return thenable ? Promise.resolve(result as PromiseLike<unknown>).then(settle) : settle(result);
    },
    // Ends the source early: a generator runs its `finally`, a file stream is destroyed.
    close: () => {
      if (done || !iterator) return;
      done = true;
      // What the source's cleanup throws (a `finally` that throws) must not stop our own ending.
      try {
        Promise.resolve(iterator.return?.()).catch(() => {});
      } catch {
        // ignored, as a rejection of an async `return()` is
      }
    },
  };
}

/**
 * Sends every item of `source` through `peer`, pulling the next item only while the peer's
 * outbound buffer is below `highWaterMark` (else once it is down to `lowWaterMark`), so memory
 * stays bounded whatever the source's size: a generator, an async generator, a file stream, a
 * `ReadableStream`. Cold: nothing is pulled until you subscribe. Emits a `SendProgress` after
 * each item; completes once the last item has been written to the OS. Errors if the source
 * throws, yields something that is not a string or bytes (`ERR_INVALID_DATA`) or, with
 * `writeMode: WriteMode.Text`, bytes that are not UTF-8 (`ERR_INVALID_UTF8`), nothing of that item
 * sent; or if the peer starts closing (`ERR_PEER_CLOSED`). Unsubscribing stops pulling and calls
 * the iterator's `return()`.
 *
 * ```ts
 * import { createReadStream } from 'node:fs';
 * import { sendAll } from 'rx-websocket-peer';
 * sendAll(peer, createReadStream('video.bin')).subscribe({
 *   complete: () => peer.close(1000, 'sent'),
 * });
 * ```
 * @param peer where to send.
 * @param source an `Iterable` or `AsyncIterable` of strings and bytes.
 * @param options `highWaterMark` (1 MiB), `lowWaterMark` (256 KiB), `writeMode` (by item type).
 * @throws TypeError (`ERR_INVALID_ARG_TYPE`, `ERR_INVALID_OPTION`) synchronously, for a bad argument.
 */
export function sendAll(
  peer: WebSocketPeer,
  source: SendSource,
  options: SendAllOptions = {},
): Observable<SendProgress> {
  const { high, low } = resolveMarks('sendAll', options, SEND_ALL_OPTION_KEYS);
  const { writeMode } = options;
  if (writeMode !== undefined) validateWriteMode(writeMode);
  if (typeof peer !== 'object' || peer === null || typeof peer[kWrite] !== 'function') {
    throw argumentError(TypeError, 'ERR_INVALID_ARG_TYPE', 'sendAll(): the first argument must be a WebSocketPeer');
  }
  if (pullerOf(source) === undefined) {
    throw argumentError(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      'sendAll(): the source must be an Iterable or an AsyncIterable',
    );
  }

  /**
   * How `item` goes: the `writeMode` option, else by its type; `undefined` when it is not data.
   * The peer then sends it as `putPacket()` would in that mode: bytes in text mode must be UTF-8.
   */
  const modeOf = (item: unknown): WriteMode | undefined => {
    if (typeof item === 'string') return writeMode ?? WriteMode.Text;
    if (asBytes(item)) return writeMode ?? WriteMode.Binary;
    return undefined;
  };

  return new Observable<SendProgress>((subscriber) => {
    const puller = pullerOf(source) as Puller;
    let packets = 0;
    let bytes = 0;
    let unwritten = 0;
    let waiter: Subscription | undefined;
    let wake: (() => void) | undefined;

    const closedError = (): WebSocketPeerError =>
      new WebSocketPeerError('ERR_PEER_CLOSED', `sendAll(): the peer closed after ${packets} item(s) were sent`, {
        held: unwritten,
      });
    /** Resolves when `ready()` holds, or with an error once the peer is no longer open. */
    const until = (ready: (amount: number) => boolean): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        wake = resolve;
        waiter = peer.bufferedAmount$.subscribe({
          next: (amount) => {
            if (!peer.isConnectedToHost()) reject(closedError());
            else if (ready(amount)) resolve();
          },
          complete: () => reject(closedError()),
        });
        waiter.add(
          peer.state$.subscribe((state) => {
            if (state !== 'open') reject(closedError());
          }),
        );
      }).finally(() => {
        waiter?.unsubscribe();
        waiter = undefined;
        wake = undefined;
      });

    const run = async (): Promise<void> => {
      let sinceTurn = 0;
      for (;;) {
        if (!peer.isConnectedToHost()) throw closedError();
        // The item about to go counts in the turn it goes in, so a turn has ITEMS_PER_TURN of
        // them: with one more, the peer's write log would outgrow the 64 slots a WeightedQueue
        // keeps and make new arrays every turn, which V8 then promoted (docs/performance.md).
        if (peer.getCurrentOutboundBufferedAmount() >= high) {
          await until((amount) => amount <= low);
          sinceTurn = 1;
        } else if (++sinceTurn > ITEMS_PER_TURN) {
          // While the kernel takes every write at once the buffer never reaches the mark (nor
          // with empty items): let timers, I/O and an unsubscribe in now and then.
          await nextTurn();
          sinceTurn = 1;
        }
        if (subscriber.closed) return;
        const step = await puller.next();
        if (subscriber.closed) return;
        if (step.done) break;
        const item = step.value as string | Uint8Array;
        const mode = modeOf(item);
        if (mode === undefined) {
          throw argumentError(TypeError, 'ERR_INVALID_DATA', `sendAll(): item ${packets} is not a string or bytes`);
        }
        peer[kWrite](
          item,
          () => {
            unwritten--;
            if (unwritten === 0) wake?.();
          },
          mode,
        );
        unwritten++;
        bytes += payloadLength(item);
        packets++;
        subscriber.next({ packets, bytes, bufferedAmount: peer.getCurrentOutboundBufferedAmount() });
      }
      if (unwritten > 0) await until(() => unwritten === 0);
      subscriber.complete();
    };

    run().catch((error: unknown) => {
      puller.close();
      if (!subscriber.closed) subscriber.error(error);
    });
    return () => {
      waiter?.unsubscribe();
      wake?.(); // lets run() see that it was unsubscribed, and return
      puller.close();
    };
  });
}
