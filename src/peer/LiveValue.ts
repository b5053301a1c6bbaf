import { Observable, type Subscriber } from 'rxjs';

/**
 * @internal A value with a stream of it: `observable` emits the current value synchronously on
 * subscribe, then each change, and completes with the value. Unlike a `BehaviorSubject`, a
 * subscriber that comes after completion still gets the final value first, and nobody outside
 * can push into it.
 */
export class LiveValue<T> {
  private readonly subscribers = new Set<Subscriber<T>>();
  private done = false;

  readonly observable = new Observable<T>((subscriber) => {
    subscriber.next(this.current);
    if (this.done) {
      subscriber.complete();
      return undefined;
    }
    this.subscribers.add(subscriber);
    return () => {
      this.subscribers.delete(subscriber);
    };
  });

  constructor(private current: T) {}

  get value(): T {
    return this.current;
  }

  set(value: T): void {
    if (this.done || Object.is(value, this.current)) return;
    this.current = value;
    const count = this.subscribers.size;
    if (count === 0) return;
    if (count === 1) {
      // The common case (one operator watching), on the hot path: no copy of the set per value.
      // Only the one there now: one that it adds from inside next() got the value on subscribe.
      for (const subscriber of this.subscribers) {
        subscriber.next(value);
        return;
      }
    }
    for (const subscriber of [...this.subscribers]) {
      // A subscriber may set a newer value from inside next(); that set told everyone already.
      if (!Object.is(this.current, value)) return;
      subscriber.next(value);
    }
  }

  complete(): void {
    if (this.done) return;
    this.done = true;
    const subscribers = [...this.subscribers];
    this.subscribers.clear();
    for (const subscriber of subscribers) subscriber.complete();
  }
}
