import { expect } from 'chai';
import { config, defer, finalize, take, type Observable, type Subscription } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { LiveValue } from '../../src/internal/LiveValue.js';

type Event<T> = { next: T } | { complete: true } | { error: unknown };

function record<T>(observable: Observable<T>): { events: Event<T>[]; values: T[]; subscription: Subscription } {
  const events: Event<T>[] = [];
  const values: T[] = [];
  const subscription = observable.subscribe({
    next: (value) => {
      events.push({ next: value });
      values.push(value);
    },
    error: (error: unknown) => events.push({ error }),
    complete: () => events.push({ complete: true }),
  });
  return { events, values, subscription };
}

/** Resolves after rxjs has had the chance to report a stopped notification (it does so on a timer). */
function afterTimers(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 5));
}

describe('LiveValue', () => {
  let scheduler: TestScheduler;

  beforeEach(() => {
    scheduler = new TestScheduler((actual, expected) => {
      expect(actual).to.deep.equal(expected);
    });
  });

  describe('marbles', () => {
    /** Drives `live` from `changes`: each value is set, completion completes it. */
    function drive<T>(live: LiveValue<T>, changes: Observable<T>): void {
      changes.subscribe({ next: (v) => live.set(v), complete: () => live.complete() });
    }

    it('emits the current value on subscribe, then each change, then completes', () => {
      scheduler.run(({ hot, expectObservable }) => {
        const live = new LiveValue('a');
        drive(live, hot('--b-c-|'));
        expectObservable(live.observable).toBe('a-b-c-|');
      });
    });

    it('gives a later subscriber the value current at that moment first', () => {
      scheduler.run(({ hot, expectObservable }) => {
        const live = new LiveValue('a');
        drive(live, hot('--b---c-|'));
        expectObservable(live.observable, '----^').toBe('----b-c-|');
      });
    });

    it('gives a subscriber after completion the final value, then complete', () => {
      scheduler.run(({ hot, expectObservable }) => {
        const live = new LiveValue('a');
        drive(live, hot('--b-c-|'));
        expectObservable(live.observable, '--------^').toBe('--------(c|)');
      });
    });

    it('skips sets of the value it already holds', () => {
      scheduler.run(({ hot, expectObservable }) => {
        const live = new LiveValue('a');
        drive(live, hot('-a-b-b-a-a-|'));
        expectObservable(live.observable).toBe('a--b---a---|');
      });
    });

    it('stops emitting to a subscriber that unsubscribes', () => {
      scheduler.run(({ hot, expectObservable }) => {
        const live = new LiveValue('a');
        drive(live, hot('--b-c-d-|'));
        expectObservable(live.observable, '^---!').toBe('a-b--');
        expectObservable(live.observable, '-^').toBe('-ab-c-d-|');
      });
    });

    /** A LiveValue per subscription, driven by `changes` for as long as someone watches it. */
    function watched<T>(initial: T, changes: Observable<T>): Observable<T> {
      return defer(() => {
        const live = new LiveValue(initial);
        const driving = changes.subscribe({ next: (v) => live.set(v), complete: () => live.complete() });
        return live.observable.pipe(finalize(() => driving.unsubscribe()));
      });
    }

    it('completes with its driver and the whole pipeline is torn down', () => {
      scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const changes = cold('-b-b-c---|');
        expectObservable(watched('a', changes)).toBe('ab---c---|');
        expectSubscriptions(changes.subscriptions).toBe('^--------!');
      });
    });

    it('tears the pipeline down when take(n) has had enough', () => {
      scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const changes = cold('--b-c-d-|');
        expectObservable(watched('a', changes).pipe(take(2))).toBe('a-(b|)');
        expectSubscriptions(changes.subscriptions).toBe('^-!');
      });
    });

    it('tears the pipeline down when the watcher unsubscribes', () => {
      scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const changes = cold('--b-c-d-|');
        expectObservable(watched('a', changes), '^---!').toBe('a-b--');
        expectSubscriptions(changes.subscriptions).toBe('^---!');
      });
    });
  });

  it('holds the initial value and reports it through value', () => {
    const live = new LiveValue(42);
    expect(live.value).to.equal(42);
    live.set(7);
    expect(live.value).to.equal(7);
  });

  it('emits the current value synchronously on subscribe', () => {
    const live = new LiveValue('x');
    const got: string[] = [];
    const sub = live.observable.subscribe((v) => got.push(v));
    expect(got).to.deep.equal(['x']);
    live.set('y');
    expect(got).to.deep.equal(['x', 'y']);
    sub.unsubscribe();
  });

  it('sends each change to every subscriber', () => {
    const live = new LiveValue(0);
    const a = record(live.observable);
    const b = record(live.observable);
    live.set(1);
    live.set(2);
    expect(a.values).to.deep.equal([0, 1, 2]);
    expect(b.values).to.deep.equal([0, 1, 2]);
  });

  it('compares with Object.is: NaN equals NaN, 0 differs from -0, objects by reference', () => {
    const nan = new LiveValue(Number.NaN);
    const nanSeen = record(nan.observable);
    nan.set(Number.NaN);
    expect(nanSeen.values).to.have.length(1);

    const zero = new LiveValue(0);
    const zeroSeen = record(zero.observable);
    zero.set(-0);
    zero.set(-0);
    zero.set(0);
    expect(zeroSeen.values.map((v) => Object.is(v, -0))).to.deep.equal([false, true, false]);

    const first = { n: 1 };
    const same = new LiveValue(first);
    const sameSeen = record(same.observable);
    same.set(first);
    expect(sameSeen.values).to.have.length(1);
    const lookalike = { n: 1 };
    same.set(lookalike);
    expect(sameSeen.values).to.have.length(2);
    expect(sameSeen.values[1]).to.equal(lookalike);
    expect(same.value).to.equal(lookalike);
  });

  it('updates the value with no subscribers, and a later subscriber sees the latest', () => {
    const live = new LiveValue('a');
    live.set('b');
    live.set('c');
    expect(live.value).to.equal('c');
    expect(record(live.observable).values).to.deep.equal(['c']);
  });

  it('completes subscribers on complete(), once', () => {
    const live = new LiveValue(1);
    const a = record(live.observable);
    const b = record(live.observable);
    live.complete();
    live.complete();
    expect(a.events).to.deep.equal([{ next: 1 }, { complete: true }]);
    expect(b.events).to.deep.equal([{ next: 1 }, { complete: true }]);
    expect(a.subscription.closed).to.equal(true);
  });

  it('ignores set() after complete()', () => {
    const live = new LiveValue('final');
    const a = record(live.observable);
    live.complete();
    live.set('later');
    expect(live.value).to.equal('final');
    expect(a.events).to.deep.equal([{ next: 'final' }, { complete: true }]);
    expect(record(live.observable).events).to.deep.equal([{ next: 'final' }, { complete: true }]);
  });

  it('gives every subscriber after completion the final value, then complete', () => {
    const live = new LiveValue('a');
    live.set('b');
    live.complete();
    for (let i = 0; i < 3; i++) {
      const r = record(live.observable);
      expect(r.events).to.deep.equal([{ next: 'b' }, { complete: true }]);
      expect(r.subscription.closed).to.equal(true);
    }
  });

  it('does not emit a change twice to a subscriber that subscribes during that change', () => {
    const live = new LiveValue(0);
    let late: ReturnType<typeof record<number>> | undefined;
    live.observable.subscribe((v) => {
      if (v === 1 && !late) late = record(live.observable);
    });
    live.set(1);
    live.set(2);
    expect(late?.values).to.deep.equal([1, 2]);
  });

  it('does not emit to a subscriber unsubscribed by another during a change', () => {
    const live = new LiveValue(0);
    const victim = record(live.observable);
    live.observable.subscribe((v) => {
      if (v === 1) victim.subscription.unsubscribe();
    });
    // The victim comes first for 1, so gets it; after that, nothing.
    live.set(1);
    live.set(2);
    expect(victim.values).to.deep.equal([0, 1]);
  });

  // Fails against the current src/internal/LiveValue.ts: set() inside a subscriber's next emits the
  // newer value to everyone first, then the outer set() carries on with the older one, so the
  // subscribers after it see 5 after 8 and are left with a value that is not the current one.
  it('leaves every subscriber with the current value when a subscriber sets it inside next', () => {
    const live = new LiveValue(0);
    const first = record(live.observable);
    live.observable.subscribe((v) => {
      if (v === 5) live.set(8);
    });
    const last = record(live.observable);
    live.set(5);
    expect(live.value).to.equal(8);
    expect(first.values.at(-1)).to.equal(8);
    expect(last.values.at(-1)).to.equal(8);
    // Whether it still sees the 5 is up to the fix; it must not see it after the 8.
    expect([
      [0, 5, 8],
      [0, 8],
    ]).to.deep.include(last.values);
  });

  describe('listeners', () => {
    let stopped: unknown[];
    let saved: typeof config.onStoppedNotification;

    beforeEach(() => {
      stopped = [];
      saved = config.onStoppedNotification;
      // rxjs reports here any notification sent to a subscriber that has already stopped.
      config.onStoppedNotification = (notification) => stopped.push(notification);
    });

    afterEach(() => {
      config.onStoppedNotification = saved;
    });

    it('removes the listener on unsubscribe', async () => {
      const live = new LiveValue(0);
      const a = record(live.observable);
      const b = record(live.observable);
      live.set(1);
      a.subscription.unsubscribe();
      live.set(2);
      live.complete();
      expect(a.events).to.deep.equal([{ next: 0 }, { next: 1 }]);
      expect(b.events).to.deep.equal([{ next: 0 }, { next: 1 }, { next: 2 }, { complete: true }]);
      await afterTimers();
      expect(stopped).to.deep.equal([]);
    });

    it('removes a listener that stops while getting the current value (take(1))', async () => {
      const live = new LiveValue(0);
      const r = record(live.observable.pipe(take(1)));
      expect(r.events).to.deep.equal([{ next: 0 }, { complete: true }]);
      live.set(1);
      live.set(2);
      live.complete();
      await afterTimers();
      expect(stopped).to.deep.equal([]);
    });

    it('removes listeners on complete()', async () => {
      const live = new LiveValue(0);
      record(live.observable);
      record(live.observable);
      live.complete();
      live.complete();
      live.set(3);
      await afterTimers();
      expect(stopped).to.deep.equal([]);
    });
  });
});
