import { Observable, type Subscriber } from 'rxjs';

/**
 * @internal A value with a stream of it: `observable` emits the current value synchronously on
 * subscribe, then each change, and completes with the value. Unlike a `BehaviorSubject`, a
 * subscriber that comes after completion still gets the final value first, and nobody outside
 * can push into it. It costs nothing per change while nobody watches, and little while idle: the
 * stream and the subscriber list are made when first needed.
 */
export class LiveValue<T> {
  /**
   * Replaced, never changed in place: `set()` walks the list it found while subscribers come and
   * go, with no copy per value.
   */
  private subscribers: readonly Subscriber<T>[] = NONE;
  private done = false;
  private stream: Observable<T> | undefined;

  constructor(private current: T) {}

  get observable(): Observable<T> {
    return (this.stream ??= new Observable<T>((subscriber) => this.subscribe(subscriber)));
  }

  get value(): T {
    return this.current;
  }

  set(value: T): void {
    if (this.done || Object.is(value, this.current)) return;
    this.current = value;
    const subscribers = this.subscribers;
    for (let i = 0; i < subscribers.length; i++) {
      // A subscriber may set a newer value from inside next(); that set told everyone already.
      if (i > 0 && !Object.is(this.current, value)) return;
      (subscribers[i] as Subscriber<T>).next(value);
    }
  }

  complete(): void {
    if (this.done) return;
    this.done = true;
    const subscribers = this.subscribers;
    this.subscribers = NONE;
    for (const subscriber of subscribers) subscriber.complete();
  }

  private subscribe(subscriber: Subscriber<T>): void {
    subscriber.next(this.current);
    // A subscriber that stopped on the first value (take(1)) is left alone.
    if (subscriber.closed) return;
    if (this.done) {
      subscriber.complete();
      return;
    }
    this.subscribers = [...this.subscribers, subscriber];
    subscriber.add(() => {
      this.subscribers = this.subscribers.filter((s) => s !== subscriber);
    });
  }
}

const NONE: readonly never[] = [];
