import { Observable, type Subscriber } from 'rxjs';
import { WeightedQueue } from './WeightedQueue.js';

/**
 * @internal A queue with a stream over it. Each item is taken once: by all current subscribers
 * of `observable` together or, while there are none, by `take()`. Items wait while nobody takes
 * them. Once ended, late subscribers get what still waits, then the end (complete or error).
 * Each item has a weight (bytes, say) so the owner can bound the queue by size.
 */
export class Inbox<T> {
  private readonly queue = new WeightedQueue<T>();
  private readonly takers = new Set<Subscriber<T>>();
  private ending: { error: unknown } | undefined;
  private delivering = false;
  private readonly watchers = new Set<() => void>();

  readonly observable = new Observable<T>((subscriber) => {
    // Teardown first: a subscriber that unsubscribes while the queue drains into it (take(1))
    // must leave the set at once, or the items after it would be taken for nobody.
    subscriber.add(() => this.takers.delete(subscriber));
    this.takers.add(subscriber);
    this.drain();
  });

  /** @param onTaken called after each item leaves the queue, with the item. */
  constructor(private readonly onTaken: (item: T) => void = () => {}) {}

  /** How many items wait. */
  get size(): number {
    return this.queue.size;
  }

  /** The summed weight of the items that wait. */
  get weight(): number {
    return this.queue.weight;
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
    this.watchers.add(listener);
    return () => {
      this.watchers.delete(listener);
    };
  }

  put(item: T, weight: number): void {
    this.queue.push(item, weight);
    this.drain();
    if (this.size > 0) this.notify();
  }

  /** Takes the oldest waiting item, or `undefined` when none waits. */
  take(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.queue.shift();
    this.onTaken(item);
    return item;
  }

  /** No more items will come: takers get the rest, then `complete()`, or `error(error)` if given. */
  end(error?: unknown): void {
    if (this.ending) return;
    this.ending = { error };
    this.drain();
    this.notify();
  }

  private notify(): void {
    for (const watcher of [...this.watchers]) watcher();
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
      this.takers.clear();
      const { error } = this.ending;
      for (const taker of takers) {
        if (error === undefined) taker.complete();
        else taker.error(error);
      }
    }
  }
}
