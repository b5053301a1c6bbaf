/**
 * Past this many slots, an emptied queue lets its arrays go rather than keep them for reuse: a
 * peer that once queued a burst does not keep its arrays (8 bytes a slot, each) while idle.
 */
const KEEP_SLOTS = 64;
/** A queue that never empties is compacted once this many taken slots lead its arrays. */
const COMPACT_AFTER_SLOTS = 1024;

/**
 * @internal A FIFO whose items have a weight (bytes, say), so its owner can bound it by size.
 * It neither shifts its array on each take nor grows forever, lets go of each item as it is
 * taken, and allocates nothing per item while it stays small: an emptied queue starts again at
 * the front of the same arrays. The inbound queue, the peer's write log, and (as a
 * `BoundedQueue`) `backpressure()` and `Connection` all hold values this way.
 */
export class WeightedQueue<T> {
  private items: T[] = [];
  private weights: number[] = [];
  private head = 0;
  private tail = 0;
  private total = 0;

  /** How many items wait. */
  get size(): number {
    return this.tail - this.head;
  }

  /** The summed weight of the items that wait. */
  get weight(): number {
    return this.total;
  }

  push(item: T, weight: number): void {
    this.items[this.tail] = item;
    this.weights[this.tail] = weight;
    this.tail++;
    this.total += weight;
  }

  /** The item `index` places after the oldest (0: the oldest); call only with `index < size`. */
  at(index: number): T {
    return this.items[this.head + index] as T;
  }

  /** Takes the oldest item; call only while `size > 0`. */
  shift(): T {
    const head = this.head;
    const item = this.items[head] as T;
    // Let go of the item now: the slot is reused or dropped later.
    this.items[head] = undefined as T;
    this.total -= this.weights[head] as number;
    this.head = head + 1;
    if (this.head === this.tail) this.reset();
    else if (this.head >= COMPACT_AFTER_SLOTS && this.head * 2 >= this.tail) {
      // Compact now and then, so that a long-lived queue does not grow forever.
      this.items = this.items.slice(this.head, this.tail);
      this.weights = this.weights.slice(this.head, this.tail);
      this.tail -= this.head;
      this.head = 0;
    }
    return item;
  }

  /** Weighs every waiting item again with `weigh`, in order (an owner that first weighed them by an estimate). */
  reweigh(weigh: (item: T) => number): void {
    let total = 0;
    for (let i = this.head; i < this.tail; i++) {
      const weight = weigh(this.items[i] as T);
      this.weights[i] = weight;
      total += weight;
    }
    this.total = total;
  }

  clear(): void {
    this.items.fill(undefined as T, this.head, this.tail);
    this.reset();
  }

  /** Empty: start again at the front, in the same arrays while they are small. */
  private reset(): void {
    if (this.items.length > KEEP_SLOTS) {
      this.items = [];
      this.weights = [];
    }
    this.head = 0;
    this.tail = 0;
    this.total = 0;
  }
}
