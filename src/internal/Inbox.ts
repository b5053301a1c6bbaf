import { Observable, type Subscriber } from 'rxjs';
import { WeightedQueue } from './WeightedQueue.js';

/** @internal The key of {@link InboxOwner}'s method. */
export const kOnTaken: unique symbol = Symbol('rx-websocket-peer.onTaken');

/** @internal Who hears of each item that leaves an {@link Inbox}: a method, so no closure per inbox. */
export interface InboxOwner<T> {
  [kOnTaken](item: T): void;
}

const NO_TAKERS: ReadonlySet<never> = new Set();
const NO_WATCHERS: readonly never[] = [];

/**
 * @internal A queue with a stream over it. Each item is taken once: by all current subscribers
 * of `observable` together or, while there are none, by `take()`. Items wait while nobody takes
 * them. Once ended, late subscribers get what still waits, then the end (complete or error).
 * Each item has a weight (bytes, say) so the owner can bound the queue by size.
 */
export class Inbox<T> {
  /** Made with the first item: an inbox nothing came to costs none. */
  private queue: WeightedQueue<T> | undefined;
  /** The Set is made for the first taker: an inbox nobody has subscribed to costs none. */
  private takers: Set<Subscriber<T>> | ReadonlySet<never> = NO_TAKERS;
  private ending: { error: unknown } | undefined;
  private delivering = false;
  /** Replaced, never changed in place: a notification goes to the watchers of its start, without a copy. */
  private watchers: readonly (() => void)[] = NO_WATCHERS;
  private stream: Observable<T> | undefined;

  /** @param owner told of each item after it leaves the queue. */
  constructor(private readonly owner?: InboxOwner<T>) {}

  get observable(): Observable<T> {
    return (this.stream ??= new Observable<T>((subscriber) => this.subscribe(subscriber)));
  }

  /** How many items wait. */
  get size(): number {
    return this.queue?.size ?? 0;
  }

  /** The summed weight of the items that wait. */
  get weight(): number {
    return this.queue?.weight ?? 0;
  }

  get hasTakers(): boolean {
    return this.takers.size > 0;
  }

  /** Whether `end()` was called (items may still wait). */
  get ended(): boolean {
    return this.ending !== undefined;
  }

  /**
   * Calls `listener()` after each `put()` that leaves an item waiting and after `end()`: for
   * consumers that pull with `take()`. Returns the function that stops it.
   */
  watch(listener: () => void): () => void {
    this.watchers = [...this.watchers, listener];
    return () => {
      this.watchers = this.watchers.filter((watcher) => watcher !== listener);
    };
  }

  put(item: T, weight: number): void {
    if (this.takers.size > 0 && !this.delivering && this.size === 0) {
      // Straight to the takers: what put() then drain() would do, without the queue.
      this.owner?.[kOnTaken](item);
      this.delivering = true;
      try {
        for (const taker of this.takers) taker.next(item);
      } finally {
        this.delivering = false;
      }
      // What a taker put or ended meanwhile waited for this delivery to end.
      if (this.size === 0 && this.ending === undefined) return;
      this.drain();
    } else {
      (this.queue ??= new WeightedQueue()).push(item, weight);
      this.drain();
    }
    if (this.size > 0) this.notify();
  }

  /** Takes the oldest waiting item, or `undefined` when none waits. */
  take(): T | undefined {
    if (this.size === 0) return undefined;
    const item = (this.queue as WeightedQueue<T>).shift();
    this.owner?.[kOnTaken](item);
    return item;
  }

  /** No more items will come: takers get the rest, then `complete()`, or `error(error)` if given. */
  end(error?: unknown): void {
    if (this.ending) return;
    this.ending = { error };
    this.drain();
    this.notify();
  }

  private subscribe(subscriber: Subscriber<T>): void {
    if (this.takers === NO_TAKERS) this.takers = new Set();
    const takers = this.takers as Set<Subscriber<T>>;
    // Teardown first: a subscriber that unsubscribes while the queue drains into it (take(1))
    // must leave the set at once, or the items after it would be taken for nobody.
    subscriber.add(() => takers.delete(subscriber));
    takers.add(subscriber);
    this.drain();
  }

  private notify(): void {
    const watchers = this.watchers;
    for (let i = 0; i < watchers.length; i++) (watchers[i] as () => void)();
  }

  private drain(): void {
    // A taker may subscribe, unsubscribe or take while we deliver; the outer loop carries on.
    if (this.delivering) return;
    this.delivering = true;
    try {
      while (this.takers.size > 0 && this.size > 0) {
        const item = this.take() as T;
        // Set iteration skips takers removed meanwhile and includes ones added meanwhile.
        for (const taker of this.takers) taker.next(item);
      }
    } finally {
      this.delivering = false;
    }
    if (this.ending && this.size === 0 && this.takers.size > 0) {
      const takers = [...this.takers];
      this.takers = NO_TAKERS;
      const { error } = this.ending;
      for (const taker of takers) {
        if (error === undefined) taker.complete();
        else taker.error(error);
      }
    }
  }
}
