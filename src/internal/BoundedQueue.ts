import { WeightedQueue } from './WeightedQueue.js';

/**
 * @internal What a {@link BoundedQueue} does with an item that would pass its bounds: refuse it
 * (its owner reports the overflow), drop the oldest items until it fits, or drop the new one.
 */
export type Overflow = 'error' | 'drop-oldest' | 'drop-newest';

/** @internal The policies, in the order the options' messages name them. */
export const OVERFLOW_POLICIES: readonly Overflow[] = ['error', 'drop-oldest', 'drop-newest'];

/**
 * @internal A FIFO bounded by count and by weight (bytes, say), with its overflow policy: the one
 * place where `backpressure()` (its held values) and `Connection` (its writes waiting for a
 * connection) decide what passing a bound means. Each owner weighs its items (the queue imports
 * nothing of ours) and reports a refused item its own way: `backpressure()` errors its stream,
 * `Connection.send()` throws.
 *
 * It is a `WeightedQueue` with four more fields, not a wrapper around one: one object per queue,
 * nothing allocated per item, no closure per queue (`onDrop` is the owner's function as given).
 * An owner that bounds only one side passes `Infinity` for the other.
 */
export class BoundedQueue<T> extends WeightedQueue<T> {
  /**
   * @param maxCount the most items that may wait (`Infinity`: any number).
   * @param maxWeight the most summed weight that may wait.
   * @param overflow what `offer()` does with an item that would pass either bound.
   * @param onDrop given each dropped item, oldest first; needed by the drop policies (the owner checks).
   */
  constructor(
    private readonly maxCount: number,
    private readonly maxWeight: number,
    private readonly overflow: Overflow,
    private readonly onDrop: ((item: T) => void) | undefined,
  ) {
    super();
  }

  /** Whether one more item of `weight` would stay within both bounds. */
  fits(weight: number): boolean {
    return this.size < this.maxCount && this.weight + weight <= this.maxWeight;
  }

  /**
   * Queues `item` if it fits; else applies the policy. `'drop-oldest'` hands the oldest items to
   * `onDrop` until the new one fits, then, if it still does not (heavier than `maxWeight` alone),
   * the new one; `'drop-newest'` hands it the new one. Returns `false`, changing nothing, only
   * under `'error'`: the caller reports the overflow, with the queue's size and weight as they
   * are. What `onDrop` throws propagates; the items it was handed have left the queue.
   */
  offer(item: T, weight: number): boolean {
    if (!this.fits(weight)) {
      if (this.overflow === 'error') return false;
      const drop = this.onDrop as (item: T) => void;
      // fits() again on each turn: onDrop may itself have queued (a send() from the callback).
      if (this.overflow === 'drop-oldest') {
        while (this.size > 0 && !this.fits(weight)) drop(this.shift());
      }
      if (!this.fits(weight)) {
        drop(item);
        return true;
      }
    }
    this.push(item, weight);
    return true;
  }
}
