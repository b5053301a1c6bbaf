import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { BehaviorSubject, defer, finalize, Observable, range, map, Subject, tap } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { backpressure, type FlowControlled } from '../../src/operators/backpressure.js';
import { WriteMode } from '../../src/peer/constants.js';
import type { PeerState } from '../../src/peer/types.js';
import { WebSocketPeerError } from '../../src/errors/WebSocketPeerError.js';
import { collect, expectInvalidOption, openPair, stopAll, takeValues } from '../helpers.js';

const KiB = 1024;

/**
 * Errors compare by class, `code` and `held` (chai's deep equality of errors would not look at
 * `held`), never by message text.
 */
function normalise(frames: unknown): unknown {
  if (!Array.isArray(frames)) return frames;
  return frames.map((frame: { notification?: { kind: string; error?: unknown } }) => {
    const error = frame.notification?.error;
    if (frame.notification?.kind !== 'E' || !(error instanceof Error)) return frame;
    const { code, held } = error as Error & { code?: unknown; held?: unknown };
    return { ...frame, notification: { ...frame.notification, error: { name: error.name, code, held } } };
  });
}

function scheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => {
    expect(normalise(actual)).to.deep.equal(normalise(expected));
  });
}

/** A peer for marble tests: its buffered amount and state are marble streams. */
function fakePeer(bufferedAmount$: Observable<number>, state$: Observable<PeerState>): FlowControlled {
  return { bufferedAmount$, state$ };
}

const AMOUNTS = { z: 0, h: 10, m: 7, l: 4 };
const STATES: Record<string, PeerState> = { c: 'connecting', o: 'open', x: 'closing' };
const MARKS = { highWaterMark: 10, lowWaterMark: 5 };

describe('backpressure()', () => {
  describe('marbles', () => {
    it('forwards values untouched while the buffer is below the high mark', () => {
      scheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
        const source = hot('-a-b-c-|');
        const peer = fakePeer(cold('z', AMOUNTS), cold('o', STATES));
        expectObservable(source.pipe(backpressure(peer, MARKS))).toBe('-a-b-c-|');
        expectSubscriptions(source.subscriptions).toBe('^------!');
      });
    });

    it('holds values in order from the high mark until the buffer is down to the low mark', () => {
      scheduler().run(({ cold, hot, expectObservable }) => {
        // The buffer reaches the high mark at 4, is still above the low mark at 8, below it at 12.
        const amounts = cold('z---h---m---l', AMOUNTS);
        const source = hot('-a-b--c-d-------e---|');
        expectObservable(source.pipe(backpressure(fakePeer(amounts, cold('o', STATES)), MARKS))).toBe(
          '-a-b--------(cd)e---|',
        );
      });
    });

    it('takes a quarter of highWaterMark as the low mark when only the high one is given', () => {
      scheduler().run(({ cold, hot, expectObservable }) => {
        // high 8, so low 2: holding from 0, still at 3, forwarding again at 2.
        const amounts = cold('a---b---c', { a: 8, b: 3, c: 2 });
        const source = hot('-a-b');
        expectObservable(source.pipe(backpressure(fakePeer(amounts, cold('o', STATES)), { highWaterMark: 8 }))).toBe(
          '--------(ab)',
        );
      });
    });

    it('completes only after the last held value has been forwarded', () => {
      scheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
        const amounts = cold('h-----l', AMOUNTS);
        const source = hot('-a-b|');
        expectObservable(source.pipe(backpressure(fakePeer(amounts, cold('o', STATES)), MARKS))).toBe('------(ab|)');
        expectSubscriptions(source.subscriptions).toBe('^---!');
        expectSubscriptions(amounts.subscriptions).toBe('^-----!');
      });
    });

    it('waits for the peer to open before it forwards anything', () => {
      scheduler().run(({ cold, hot, expectObservable }) => {
        const source = hot('-a-b-----c|');
        expectObservable(source.pipe(backpressure(fakePeer(cold('z', AMOUNTS), cold('c----o', STATES)), MARKS))).toBe(
          '-----(ab)c|',
        );
      });
    });

    it('errors with ERR_PEER_CLOSED, naming how many values it held, when the peer closes first', () => {
      scheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
        const source = hot('-a-b---c');
        const peer = fakePeer(cold('h', AMOUNTS), cold('o----x', STATES));
        const error = new WebSocketPeerError(
          'ERR_PEER_CLOSED',
          'backpressure(): the peer is closing; 2 held value(s) were not sent',
          {
            held: 2,
          },
        );
        expectObservable(source.pipe(backpressure(peer, MARKS))).toBe('-----#', undefined, error);
        expectSubscriptions(source.subscriptions).toBe('^----!');
      });
    });

    it('errors with ERR_BACKPRESSURE_OVERFLOW past maxHeldBytes, and unsubscribes from the source', () => {
      scheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
        const source = hot('-a-b-c', { a: 'xx', b: 'yy', c: 'zz' });
        const peer = fakePeer(cold('h', AMOUNTS), cold('o', STATES));
        const error = new WebSocketPeerError(
          'ERR_BACKPRESSURE_OVERFLOW',
          'backpressure(): holding 2 value(s), 4 bytes; the next one (2 bytes) would pass maxHeldBytes (5)',
          { held: 2 },
        );
        expectObservable(source.pipe(backpressure(peer, { ...MARKS, maxHeldBytes: 5 }))).toBe(
          '-----#',
          undefined,
          error,
        );
        expectSubscriptions(source.subscriptions).toBe('^----!');
      });
    });

    it('counts held strings by their UTF-8 length', () => {
      scheduler().run(({ cold, hot, expectObservable }) => {
        // 'é' is one UTF-16 unit but two UTF-8 bytes: two of them pass a 3-byte bound.
        const source = hot('-a-b', { a: 'é', b: 'é' });
        const peer = fakePeer(cold('h', AMOUNTS), cold('o', STATES));
        expectObservable(source.pipe(backpressure(peer, { ...MARKS, maxHeldBytes: 3 })).pipe(map(() => 'never'))).toBe(
          '---#',
          undefined,
          new WebSocketPeerError(
            'ERR_BACKPRESSURE_OVERFLOW',
            'backpressure(): holding 1 value(s), 2 bytes; the next one (2 bytes) would pass maxHeldBytes (3)',
            { held: 1 },
          ),
        );
      });
    });

    it('holds multi-byte strings up to maxHeldBytes exactly, in every episode of holding', () => {
      // 8 + 4 + 4 + 3 = 19 UTF-8 bytes (a pair is 4, a lone surrogate 3 as U+FFFD, 'é' 2), though
      // 33 at 3 bytes per UTF-16 unit and 9 at one: all four fit a 19-byte bound, and one byte
      // more does not. The same again once the first four were sent and the operator was empty.
      const values = { a: '😀😀', b: '\ud800x', c: 'éé', d: 'abc', e: 'z' };
      scheduler().run(({ cold, hot, expectObservable }) => {
        const amounts = cold('h-------l-h', AMOUNTS);
        const source = hot('-a-b-c-d---a-b-c-d-e', values);
        expectObservable(
          source.pipe(backpressure(fakePeer(amounts, cold('o', STATES)), { ...MARKS, maxHeldBytes: 19 })),
        ).toBe(
          '--------(abcd)-----#',
          values,
          new WebSocketPeerError('ERR_BACKPRESSURE_OVERFLOW', 'overflow', { held: 4 }),
        );
      });
    });

    it("drops by the exact UTF-8 length with 'drop-oldest'", () => {
      // 8 + 8 bytes fit 20 (though 24 at 3 bytes a unit); 6 more do not: only the oldest goes.
      const values = { a: 'éééé', b: 'ÉÉÉÉ', c: '€€' };
      const drops: string[] = [];
      scheduler().run(({ cold, hot, expectObservable }) => {
        const source = hot('-a-b-c', values);
        const peer = fakePeer(cold('h-------l', AMOUNTS), cold('o', STATES));
        const onDrop = (value: string): void => void drops.push(value);
        expectObservable(
          source.pipe(backpressure(peer, { ...MARKS, maxHeldBytes: 20, overflow: 'drop-oldest', onDrop })),
        ).toBe('--------(bc)', values);
      });
      expect(drops).to.deep.equal(['éééé']);
    });

    it("gives the new value to onDrop with 'drop-newest', the oldest with 'drop-oldest'", () => {
      for (const [overflow, forwarded, dropped] of [
        ['drop-newest', '------(ab)', ['c', 'd']],
        ['drop-oldest', '------(cd)', ['a', 'b']],
      ] as const) {
        const drops: string[] = [];
        scheduler().run(({ cold, hot, expectObservable }) => {
          const source = hot('-a-b-c-d', { a: 'a', b: 'b', c: 'c', d: 'd' });
          const peer = fakePeer(cold('h------l', AMOUNTS), cold('o', STATES));
          const onDrop = (value: string): void => void drops.push(value);
          expectObservable(source.pipe(backpressure(peer, { ...MARKS, maxHeldBytes: 2, overflow, onDrop }))).toBe(
            `-${forwarded}`,
            { a: 'a', b: 'b', c: 'c', d: 'd' },
          );
        });
        expect(drops, overflow).to.deep.equal(dropped);
      }
    });

    it('lets a source error through only after the held values', () => {
      scheduler().run(({ cold, hot, expectObservable }) => {
        const source = hot('-a-#');
        expectObservable(source.pipe(backpressure(fakePeer(cold('h---l', AMOUNTS), cold('o', STATES)), MARKS))).toBe(
          '----(a#)',
        );
      });
    });

    it('takes an error thrown while subscribing to the source, and nothing a source sends after its end', () => {
      const peer = fakePeer(new BehaviorSubject(0), new BehaviorSubject<PeerState>('open'));
      const thrown = new Error('boom');
      const failing = new Observable<string>(() => {
        throw thrown;
      });
      const errors: unknown[] = [];
      failing.pipe(backpressure(peer, MARKS)).subscribe({ error: (error: unknown) => errors.push(error) });
      expect(errors).to.deep.equal([thrown]);

      // Above the high mark, so that what the source sends is held: a value after its end would be too.
      const amounts = new BehaviorSubject(100);
      let finalized = 0;
      const unruly = new Observable<string>((subscriber) => {
        subscriber.next('a');
        subscriber.complete();
        subscriber.next('b');
        subscriber.error(new Error('late'));
        return () => finalized++;
      });
      const seen: string[] = [];
      unruly.pipe(backpressure(fakePeer(amounts, new BehaviorSubject<PeerState>('open')), MARKS)).subscribe({
        next: (value) => seen.push(value),
        error: (error: unknown) => seen.push(`error ${String(error)}`),
        complete: () => seen.push('complete'),
      });
      expect(seen, 'held').to.deep.equal([]);
      amounts.next(0);
      expect(seen).to.deep.equal(['a', 'complete']);
      expect(finalized, "the source's teardown ran once").to.equal(1);
    });

    it('unsubscribes from the source and the peer when unsubscribed', () => {
      scheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
        const source = hot('-a-b-c-d');
        const amounts = cold('z', AMOUNTS);
        const states = cold('o', STATES);
        expectObservable(source.pipe(backpressure(fakePeer(amounts, states), MARKS)), '^---!').toBe('-a-b');
        expectSubscriptions(source.subscriptions).toBe('^---!');
        expectSubscriptions(amounts.subscriptions).toBe('^---!');
        expectSubscriptions(states.subscriptions).toBe('^---!');
      });
    });
  });

  describe('options', () => {
    const peer = fakePeer(new Subject<number>(), new Subject<PeerState>());

    it('throws ERR_INVALID_OPTION for marks that are not byte counts or not in order', () => {
      for (const options of [
        { highWaterMark: -1 },
        { lowWaterMark: 1.5 },
        { highWaterMark: '1' },
        { maxHeldBytes: 0 },
      ]) {
        expect(() => backpressure(peer, options as never), JSON.stringify(options))
          .to.throw(TypeError)
          .with.property('code', 'ERR_INVALID_OPTION');
      }
      for (const options of [
        { highWaterMark: 10, lowWaterMark: 11 },
        { highWaterMark: 0, lowWaterMark: 0 },
      ]) {
        expect(() => backpressure(peer, options))
          .to.throw(RangeError)
          .with.property('code', 'ERR_INVALID_OPTION');
      }
    });

    it('needs onDrop for a drop policy, and a known policy', () => {
      expect(() => backpressure(peer, { overflow: 'drop-oldest' } as never))
        .to.throw(TypeError)
        .with.property('code', 'ERR_INVALID_OPTION');
      expect(() => backpressure(peer, { overflow: 'ignore' } as never))
        .to.throw(TypeError)
        .with.property('code', 'ERR_INVALID_OPTION');
    });

    it('throws ERR_INVALID_OPTION for an unknown key, naming the nearest known one', () => {
      expectInvalidOption(
        () => backpressure(peer, { highWatermark: 1024 } as never),
        "backpressure(): unknown option 'highWatermark' (did you mean 'highWaterMark'?)",
      );
      expectInvalidOption(
        () => backpressure(peer, { maxHeld: 1024 } as never),
        "backpressure(): unknown option 'maxHeld' (did you mean 'maxHeldBytes'?)",
      );
      expectInvalidOption(
        () => backpressure(peer, { policy: 'drop-oldest' } as never),
        "backpressure(): unknown option 'policy'",
      );
      // Every known key passes, undefined as its value; onDrop with its policy.
      const marks = { highWaterMark: undefined, lowWaterMark: undefined, maxHeldBytes: undefined };
      expect(() => backpressure(peer, { ...marks, overflow: undefined })).not.to.throw();
      expect(() => backpressure(peer, { ...marks, overflow: 'drop-newest', onDrop: () => {} })).not.to.throw();
      expect(() => backpressure(peer, undefined)).not.to.throw();
    });

    it('throws ERR_INVALID_ARG_TYPE for something that is not a peer', () => {
      expect(() => backpressure({} as never))
        .to.throw(TypeError)
        .with.property('code', 'ERR_INVALID_ARG_TYPE');
    });
  });

  describe('on real sockets', () => {
    afterEach(stopAll);

    /** Sends `count` 64 KiB binary packets from a synchronous source; returns the peak buffered amount. */
    async function burst(count: number, withBackpressure: boolean): Promise<{ peak: number; digestsMatch: boolean }> {
      const { client, remote } = await openPair({}, { writeMode: WriteMode.Binary });
      const peer = client.peer;
      let peak = 0;
      peer.bufferedAmount$.subscribe((amount) => (peak = Math.max(peak, amount)));
      const sent = createHash('sha256');
      const chunks = range(0, count).pipe(
        map((i) => {
          const chunk = new Uint8Array(64 * KiB).fill(i % 251);
          sent.update(chunk);
          return chunk;
        }),
      );
      const received = takeValues(remote.packets$, count);
      (withBackpressure
        ? chunks.pipe(backpressure(peer, { highWaterMark: 256 * KiB, lowWaterMark: 64 * KiB }))
        : chunks
      ).subscribe(peer.sink);
      const got = createHash('sha256');
      for (const packet of await received) got.update(packet.data as Uint8Array);
      return { peak, digestsMatch: got.digest('hex') === sent.digest('hex') };
    }

    it('keeps the buffer under the high mark plus one value, and delivers every byte in order', async () => {
      const { peak, digestsMatch } = await burst(320, true);
      expect(peak).to.be.at.most(256 * KiB + 64 * KiB);
      expect(digestsMatch).to.equal(true);
    });

    it('(without it, the same burst buffers most of its 20 MiB at once)', async () => {
      const { peak, digestsMatch } = await burst(320, false);
      // The kernel's socket buffers on loopback take a few MiB at once; the rest waits in Node.
      expect(peak).to.be.above(8 * 1024 * KiB);
      expect(digestsMatch).to.equal(true);
    });

    it('reads the amount of a peer before each value, and watches bufferedAmount$ only while above the marks', async () => {
      const { client, remote } = await openPair({}, { writeMode: WriteMode.Binary });
      const peer = client.peer;
      let watches = 0;
      let watching = 0;
      let notified = 0;
      const counted: FlowControlled = {
        state$: peer.state$,
        getCurrentOutboundBufferedAmount: () => peer.getCurrentOutboundBufferedAmount(),
        bufferedAmount$: defer(() => {
          watches++;
          watching++;
          return peer.bufferedAmount$.pipe(
            tap(() => notified++),
            finalize(() => watching--),
          );
        }),
      };
      const source = new Subject<Uint8Array>();
      let forwarded = 0;
      const done = collect(
        source.pipe(
          backpressure(counted, { highWaterMark: 256 * KiB, lowWaterMark: 64 * KiB }),
          tap((value) => {
            forwarded++;
            peer.sink.next(value);
          }),
        ),
      );
      const received = takeValues(remote.packets$, 1320);
      // 1,000 small values in one turn stay far below the high mark: not one notification.
      for (let i = 0; i < 1000; i++) source.next(new Uint8Array(16));
      expect([forwarded, watches, notified]).to.deep.equal([1000, 0, 0]);
      // 20 MiB in 64 KiB values pass the mark (the kernel takes a few MiB at once): watched
      // until the buffer is back down, then not.
      for (let i = 0; i < 320; i++) source.next(new Uint8Array(64 * KiB));
      expect(forwarded).to.be.below(1320);
      expect([watches, watching]).to.deep.equal([1, 1]);
      source.complete();
      expect(await done.done).to.deep.equal({});
      expect(forwarded).to.equal(1320);
      expect(watches).to.be.at.least(1);
      expect(watching).to.equal(0);
      expect(notified).to.be.above(0);
      expect(await received).to.have.length(1320);
    });

    it('holds a burst of multi-byte text up to maxHeldBytes to the byte, and sends all of it in order', async () => {
      const { client, remote } = await openPair();
      const peer = client.peer;
      // 32 KiB of UTF-8 each (U+00E9-U+00EF take 2 bytes), 48 KiB at 3 bytes per UTF-16 unit.
      const texts = Array.from({ length: 7 }, (_, k) => String.fromCharCode(0xe9 + k).repeat(16 * KiB));
      const count = 512;
      const source = new Subject<string>();
      let forwarded = 0;
      const done = collect(
        source.pipe(
          // The whole burst, exactly: the operator may hold all of it that the socket does not take.
          backpressure(peer, { highWaterMark: 64 * KiB, lowWaterMark: 16 * KiB, maxHeldBytes: count * 32 * KiB }),
          tap((text) => {
            forwarded++;
            peer.sink.next(text);
          }),
        ),
      );
      const received = takeValues(remote.packets$, count);
      for (let i = 0; i < count; i++) source.next(texts[i % texts.length] as string);
      // More than two thirds held: weighed at 3 bytes a unit, they would pass the bound.
      expect(count - forwarded).to.be.above((count * 2) / 3);
      source.complete();
      expect(await done.done).to.deep.equal({});
      const packets = await received;
      expect(packets.filter((p, i) => !p.isString || p.data !== texts[i % texts.length])).to.deep.equal([]);
    });

    it('completes once the held values are sent, and then the sink closes the peer cleanly', async () => {
      const { client, remote } = await openPair({}, { writeMode: WriteMode.Binary });
      range(0, 64)
        .pipe(
          map(() => new Uint8Array(64 * KiB)),
          backpressure(client.peer, { highWaterMark: 128 * KiB, lowWaterMark: 0 }),
        )
        .subscribe(client.peer.sink);
      const packets = await takeValues(remote.packets$, 64);
      expect(packets).to.have.length(64);
      expect((await takeValues(remote.closed$, 1))[0]).to.deep.equal({ code: 1000, reason: '', wasClean: true });
    });
  });
});
