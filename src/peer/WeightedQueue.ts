/**
 * @internal A FIFO whose items have a weight (bytes, say), so its owner can bound it by size.
 * It neither shifts its array on each take nor grows forever, and lets go of each item as it
 * is taken: the inbound queue, `backpressure()` and `Connection` all hold values this way.
 */
export class WeightedQueue<T> {
  private items: T[] = [];
  private weights: number[] = [];
  private head = 0;
  private total = 0;

  /** How many items wait. */
  get size(): number {
    return this.items.length - this.head;
  }

  /** The summed weight of the items that wait. */
  get weight(): number {
    return this.total;
  }

  push(item: T, weight: number): void {
    this.items.push(item);
    this.weights.push(weight);
    this.total += weight;
  }

  /** Takes the oldest item; call only while `size > 0`. */
  shift(): T {
    const item = this.items[this.head] as T;
    // Let go of the item now: the slot stays in the array until the next compaction.
    this.items[this.head] = undefined as T;
    this.total -= this.weights[this.head] as number;
    this.head++;
    if (this.head === this.items.length) this.clear();
    else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      // Compact now and then, so that a long-lived queue does not grow forever.
      this.items = this.items.slice(this.head);
      this.weights = this.weights.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  clear(): void {
    this.items = [];
    this.weights = [];
    this.head = 0;
    this.total = 0;
  }
}
