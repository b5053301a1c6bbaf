import { expect } from 'chai';
import { Observable, ReplaySubject, Subject, VirtualTimeScheduler } from 'rxjs';
import sinon from 'sinon';
import {
  type ConnectFunction,
  Connection,
  type ConnectionStatus,
  type DropReason,
  type ReconnectOptions,
} from '../../src/reconnect/Connection.js';
import type { ConnectOptions } from '../../src/observables/connectOptions.js';
import type { CloseInfo, OutboundData, Packet } from '../../src/peer/types.js';
import type { WebSocketPeer } from '../../src/peer/WebSocketPeer.js';
import { WebSocketCloseError } from '../../src/errors/WebSocketCloseError.js';
import { WebSocketPeerError } from '../../src/errors/WebSocketPeerError.js';
import { collect, thrown } from '../helpers.js';

// Connection on its own: its peers come from a fake connect() whose every subscription is one
// attempt that the test opens, fails or drops by hand; time is sinon's (Connection's default
// scheduler is asyncScheduler, which reads Date.now() and sets intervals). What it does over a
// real socket is reconnecting.spec.ts's.

/** What Connection uses of a `WebSocketPeer`. */
class FakePeer {
  readonly sent: OutboundData[] = [];
  /** Replays, as a peer's inbox keeps packets until they are taken. */
  readonly packets = new ReplaySubject<Packet>();
  readonly packets$ = this.packets.asObservable();
  readonly closed = new ReplaySubject<CloseInfo>(1);
  readonly closed$ = this.closed.asObservable();
  closedWith: [number, string] | undefined;
  /** Writes it takes before its socket goes (Infinity: it stays). */
  constructor(private capacity = Infinity) {}

  isConnectedToHost(): boolean {
    return this.closedWith === undefined && this.sent.length < this.capacity;
  }

  putPacket(data: OutboundData): void {
    if (!this.isConnectedToHost()) throw new Error('putPacket() on a fake peer that is gone');
    this.sent.push(data);
  }

  close(code = 1000, reason = ''): void {
    this.closedWith = [code, reason];
  }

  /** An inbound text packet. */
  receive(data: string): void {
    this.packets.next({ isString: true, data });
  }
}

interface Attempt {
  readonly subject: Subject<WebSocketPeer>;
  unsubscribed: boolean;
}

/** A fake `connect()`: the calls made to it, and each attempt (subscription) with its subject. */
function fakeConnect() {
  const calls: { url: string | URL; options: ConnectOptions | undefined }[] = [];
  const attempts: Attempt[] = [];
  const connect: ConnectFunction = (url, options) => {
    calls.push({ url, options });
    return new Observable<WebSocketPeer>((subscriber) => {
      const attempt: Attempt = { subject: new Subject(), unsubscribed: false };
      attempts.push(attempt);
      const subscription = attempt.subject.subscribe(subscriber);
      return () => {
        attempt.unsubscribed = true;
        subscription.unsubscribe();
      };
    });
  };
  const last = (): Attempt => {
    const attempt = attempts[attempts.length - 1];
    if (!attempt) throw new Error('no attempt yet');
    return attempt;
  };
  return {
    connect,
    calls,
    attempts,
    /** Opens the latest attempt with `peer`. */
    open(peer = new FakePeer()): FakePeer {
      last().subject.next(peer as unknown as WebSocketPeer);
      return peer;
    },
    /** Ends the latest attempt with `reason`: a failure to open, or a drop once open. */
    fail(reason: DropReason = refused()): void {
      last().subject.error(reason);
    },
    /** Completes the latest attempt, as connect() does after a clean close with 1000. */
    complete(): void {
      last().subject.complete();
    },
  };
}

const refused = (): WebSocketPeerError =>
  new WebSocketPeerError('ERR_CONNECT_FAILED', 'refused', { cause: { code: 'ECONNREFUSED' } });
const rejected = (statusCode: number): WebSocketPeerError =>
  new WebSocketPeerError('ERR_HANDSHAKE_REJECTED', `answered ${statusCode}`, { statusCode });
const dropped = (code = 1006): WebSocketCloseError => new WebSocketCloseError({ code, reason: '', wasClean: false });

/** A status as a short string: `open#2`, `reconnecting#1@500`, `closed(2 unsent)`. */
function describeStatus(status: ConnectionStatus): string {
  switch (status.state) {
    case 'idle':
      return 'idle';
    case 'connecting':
    case 'open':
      return `${status.state}#${status.attempt}`;
    case 'reconnecting':
      return `reconnecting#${status.attempt}@${status.delay}`;
    case 'closed':
      return `closed(${status.unsent} unsent)`;
  }
}

describe('Connection', () => {
  let clock: sinon.SinonFakeTimers;
  let world: ReturnType<typeof fakeConnect>;
  let statuses: ConnectionStatus[];

  /** A connection over the fake connect(), no jitter unless asked, its statuses recorded. */
  function make(options: ReconnectOptions = {}): Connection {
    const connection = new Connection('ws://fake.test/', { jitter: 0, ...options }, world.connect);
    statuses = [];
    connection.status$.subscribe((status) => statuses.push(status));
    return connection;
  }
  const seen = (): string[] => statuses.map(describeStatus);

  beforeEach(() => {
    clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    world = fakeConnect();
  });
  afterEach(() => {
    clock.restore();
    sinon.restore();
  });

  describe('status', () => {
    it('stays idle, subscribing to nothing, until open() asks; hands connect() only its own options', () => {
      const connection = make({ initialDelay: 100, protocols: ['chat'], heartbeatInterval: 5000 });
      // connect() is called once, at once, to check its options; nothing subscribes to it yet.
      expect(world.calls).to.deep.equal([
        { url: 'ws://fake.test/', options: { protocols: ['chat'], heartbeatInterval: 5000 } },
      ]);
      clock.tick(10_000);
      expect([seen(), world.attempts.length]).to.deep.equal([['idle'], 0]);
      connection.open();
      connection.open();
      expect([seen(), world.attempts.length]).to.deep.equal([['idle', 'connecting#0'], 1]);
    });

    it('opens when send() or a subscriber to packets$ asks', () => {
      make().send('hello');
      expect(world.attempts.length).to.equal(1);
      world = fakeConnect();
      make().packets$.subscribe();
      expect(world.attempts.length).to.equal(1);
    });

    it('goes idle -> connecting -> open -> reconnecting -> connecting -> open, numbering each retry', () => {
      const connection = make({ initialDelay: 100 });
      const peers = collect(connection.peer$);
      connection.open();
      const first = world.open();
      const reason = dropped();
      world.fail(reason);
      clock.tick(100);
      const second = world.open();
      expect(seen()).to.deep.equal(['idle', 'connecting#0', 'open#0', 'reconnecting#1@100', 'connecting#1', 'open#1']);
      expect(statuses[3]).to.have.property('reason', reason);
      expect(statuses[5]).to.have.property('peer', second);
      expect(peers.values).to.deep.equal([first, second]);
      expect(connection.currentStatus).to.equal(statuses[5]);
    });

    it('takes a connect() that completes (a clean close by the server) as a drop, with the close from closed$', () => {
      const connection = make();
      connection.open();
      const peer = world.open();
      peer.closed.next({ code: 1000, reason: 'bye', wasClean: true });
      world.complete();
      const status = connection.currentStatus;
      expect(status.state).to.equal('reconnecting');
      const reason = (status as { reason: DropReason }).reason;
      expect(reason).to.be.instanceOf(WebSocketCloseError).and.include({ code: 1000, reason: 'bye', wasClean: true });
    });

    it('close() while connecting aborts the attempt; status$ and peer$ complete after closed', async () => {
      const connection = make();
      const status = collect(connection.status$);
      const peers = collect(connection.peer$);
      connection.open();
      connection.close();
      connection.close();
      expect(world.attempts[0]?.unsubscribed).to.equal(true);
      expect(seen()).to.deep.equal(['idle', 'connecting#0', 'closed(0 unsent)']);
      expect(statuses[2]).not.to.have.property('reason');
      expect(await status.done).to.deep.equal({});
      expect(await peers.done).to.deep.equal({});
    });

    it('close(code, reason) closes the open peer with them, then lets the attempt go', () => {
      const connection = make();
      connection.open();
      const peer = world.open();
      connection.close(4000, 'done');
      expect(peer.closedWith).to.deep.equal([4000, 'done']);
      expect(world.attempts[0]?.unsubscribed).to.equal(true);
      expect(connection.currentStatus.state).to.equal('closed');
    });

    it('close() with a code out of range throws RangeError and changes nothing', () => {
      const connection = make();
      connection.open();
      const peer = world.open();
      expect(thrown(() => connection.close(999)))
        .to.be.instanceOf(RangeError)
        .with.property('code', 'ERR_INVALID_CLOSE_CODE');
      expect([connection.currentStatus.state, peer.closedWith]).to.deep.equal(['open', undefined]);
    });
  });

  describe('backoff', () => {
    it('doubles the delay from initialDelay up to maxDelay, and retries only once it has passed', () => {
      const connection = make({ initialDelay: 100, maxDelay: 1000 });
      connection.open();
      const delays: number[] = [];
      for (let retry = 1; retry <= 6; retry++) {
        world.fail();
        const status = connection.currentStatus as Extract<ConnectionStatus, { state: 'reconnecting' }>;
        expect(status).to.include({ state: 'reconnecting', attempt: retry });
        delays.push(status.delay);
        clock.tick(status.delay - 1);
        expect(world.attempts.length, `retry ${retry} too early`).to.equal(retry);
        clock.tick(1);
        expect(world.attempts.length, `retry ${retry} on time`).to.equal(retry + 1);
      }
      expect(delays).to.deep.equal([100, 200, 400, 800, 1000, 1000]);
    });

    it('takes a random part of each delay: from d × (1 - jitter) to d', () => {
      const random = sinon.stub(Math, 'random');
      const delays: number[] = [];
      for (const value of [0, 0.5, 0.999]) {
        random.returns(value);
        world = fakeConnect();
        const connection = make({ initialDelay: 1000, jitter: 0.5 });
        connection.open();
        world.fail();
        delays.push((connection.currentStatus as { delay: number }).delay);
        connection.close();
      }
      expect(delays).to.deep.equal([1000, 750, 500]);
    });

    it('gives up after maxAttempts retries in a row: closed with the last reason, packets$ errors with it', async () => {
      const connection = make({ initialDelay: 10, maxAttempts: 2 });
      const packets = collect(connection.packets$);
      world.fail();
      clock.tick(10);
      world.fail();
      clock.tick(20);
      const last = rejected(503);
      world.fail(last);
      clock.tick(1000);
      expect(seen()).to.deep.equal([
        'idle',
        'connecting#0',
        'reconnecting#1@10',
        'connecting#1',
        'reconnecting#2@20',
        'connecting#2',
        'closed(0 unsent)',
      ]);
      expect(statuses[6]).to.have.property('reason', last);
      expect(world.attempts.length).to.equal(3);
      expect((await packets.done).error).to.equal(last);
    });

    it('counts again from the first retry after a connection that stayed open resetAfter ms, not before', () => {
      const connection = make({ initialDelay: 100, resetAfter: 1000 });
      connection.open();
      world.fail();
      clock.tick(100);
      world.open();
      clock.tick(999);
      world.fail(dropped()); // open 999 ms: still counting
      clock.tick(200);
      world.open();
      clock.tick(1000);
      world.fail(dropped()); // open 1,000 ms: counts again
      expect(seen()).to.deep.equal([
        'idle',
        'connecting#0',
        'reconnecting#1@100',
        'connecting#1',
        'open#1',
        'reconnecting#2@200',
        'connecting#2',
        'open#2',
        'reconnecting#1@100',
      ]);
    });

    it('runs its delays and its clock on the scheduler it is given', () => {
      const scheduler = new VirtualTimeScheduler();
      const connection = make({ initialDelay: 100, scheduler });
      connection.open();
      world.fail();
      clock.tick(10_000);
      expect(world.attempts.length, 'not on the timers').to.equal(1);
      scheduler.flush();
      expect([world.attempts.length, scheduler.now()]).to.deep.equal([2, 100]);
    });

    it('cancels the retry on close() while it waits', () => {
      const connection = make({ initialDelay: 100 });
      connection.open();
      world.fail();
      connection.close();
      clock.tick(1000);
      expect(world.attempts.length).to.equal(1);
      expect(seen().slice(-1)).to.deep.equal(['closed(0 unsent)']);
    });
  });

  describe('shouldReconnect', () => {
    /** The state after the first attempt fails with `reason`. */
    function afterFailing(reason: DropReason, options: ReconnectOptions = {}): string {
      world = fakeConnect();
      const connection = make(options);
      connection.open();
      world.fail(reason);
      const state = connection.currentStatus.state;
      connection.close();
      return state;
    }

    it('by default, retries but after a 4xx other than 408 and 429, or a certificate that did not verify', () => {
      const cases: [string, DropReason, string][] = [
        ['401', rejected(401), 'closed'],
        ['404', rejected(404), 'closed'],
        ['408', rejected(408), 'reconnecting'],
        ['429', rejected(429), 'reconnecting'],
        ['503', rejected(503), 'reconnecting'],
        ['refused', refused(), 'reconnecting'],
        [
          'expired certificate',
          new WebSocketPeerError('ERR_CONNECT_FAILED', 'tls', { cause: { code: 'CERT_HAS_EXPIRED' } }),
          'closed',
        ],
        ['handshake timeout', new WebSocketPeerError('ERR_HANDSHAKE_TIMEOUT', 'slow'), 'reconnecting'],
        ['1006', dropped(1006), 'reconnecting'],
        ['clean 1000', new WebSocketCloseError({ code: 1000, reason: '', wasClean: true }), 'reconnecting'],
      ];
      for (const [name, reason, state] of cases) expect(afterFailing(reason), name).to.equal(state);
    });

    it('asks it with each reason; false closes for good with that reason', () => {
      const asked: DropReason[] = [];
      const reason = refused();
      const state = afterFailing(reason, { shouldReconnect: (r) => (asked.push(r), false) });
      expect([state, asked]).to.deep.equal(['closed', [reason]]);
      expect(statuses[statuses.length - 1]).to.have.property('reason', reason);
    });

    it('closes for good when it throws, and packets$ errors with what it threw', async () => {
      const oops = new Error('oops');
      const connection = make({
        shouldReconnect: () => {
          throw oops;
        },
      });
      const packets = collect(connection.packets$);
      world.fail();
      expect(connection.currentStatus.state).to.equal('closed');
      expect((await packets.done).error).to.equal(oops);
    });

    it('packets$ completes when it declines to retry after a clean 1000, and errors after any other end', async () => {
      const clean = make({ shouldReconnect: () => false });
      const completes = collect(clean.packets$);
      const peer = world.open();
      peer.closed.next({ code: 1000, reason: '', wasClean: true });
      world.complete();
      peer.packets.complete(); // as a closed peer's packets$ does
      expect(await completes.done).to.deep.equal({});

      world = fakeConnect();
      const abnormal = make({ shouldReconnect: () => false });
      const errors = collect(abnormal.packets$);
      const reason = dropped(1011);
      const other = world.open();
      world.fail(reason);
      other.packets.error(reason); // packets$ takes a peer's end as the end of its packets
      expect((await errors.done).error).to.equal(reason);
    });
  });

  describe('the write queue', () => {
    it('holds writes while not open and hands them over in order, once each, as it opens', () => {
      const connection = make();
      for (const data of ['a', 'b', 'c']) connection.send(data);
      expect(connection.queuedWrites).to.equal(3);
      const peer = world.open();
      expect([peer.sent, connection.queuedWrites]).to.deep.equal([['a', 'b', 'c'], 0]);
      connection.send('d');
      expect(peer.sent).to.deep.equal(['a', 'b', 'c', 'd']);
    });

    it('keeps the order for a write made on the open status, before the waiting ones are handed over', () => {
      const connection = make();
      connection.send('a');
      connection.send('b');
      // status$ subscribers hear of 'open' before the queue is flushed: this write must go after a and b.
      connection.status$.subscribe((status) => status.state === 'open' && connection.send('c'));
      expect(world.open().sent).to.deep.equal(['a', 'b', 'c']);
    });

    it('keeps what a peer that went mid-flush did not take for the next one; later writes wait behind it', () => {
      const connection = make({ initialDelay: 10 });
      for (const data of ['a', 'b', 'c']) connection.send(data);
      const first = world.open(new FakePeer(1));
      expect([first.sent, connection.queuedWrites]).to.deep.equal([['a'], 2]);
      connection.send('d'); // open, but its peer is gone: behind b and c
      world.fail(dropped());
      clock.tick(10);
      const second = world.open();
      expect(first.sent).to.deep.equal(['a']);
      expect(second.sent).to.deep.equal(['b', 'c', 'd']);
    });

    it('refuses a write past maxQueuedWrites or maxQueuedWriteBytes (UTF-8) with ERR_QUEUE_FULL, keeping what waits', () => {
      const byCount = make({ maxQueuedWrites: 2 });
      byCount.send('a');
      byCount.send('b');
      expect(thrown(() => byCount.send('c')))
        .to.be.instanceOf(WebSocketPeerError)
        .and.include({ code: 'ERR_QUEUE_FULL', held: 2 });
      expect(byCount.queuedWrites).to.equal(2);

      world = fakeConnect();
      const byBytes = make({ maxQueuedWriteBytes: 5 });
      byBytes.send('éé'); // 2 characters, 4 bytes
      expect(thrown(() => byBytes.send('ab')))
        .to.be.instanceOf(WebSocketPeerError)
        .and.include({ code: 'ERR_QUEUE_FULL', held: 1 });
      byBytes.send(new Uint8Array(1));
      expect(byBytes.queuedWrites).to.equal(2);
      expect(world.open().sent).to.deep.equal(['éé', new Uint8Array(1)]);
    });

    it("hands dropped writes to onDrop: the oldest with 'drop-oldest', the new one with 'drop-newest'", () => {
      const droppedOldest: OutboundData[] = [];
      const oldest = make({ maxQueuedWrites: 2, overflow: 'drop-oldest', onDrop: (d) => droppedOldest.push(d) });
      for (const data of ['a', 'b', 'c', 'd']) oldest.send(data);
      expect(droppedOldest).to.deep.equal(['a', 'b']);
      expect(world.open().sent).to.deep.equal(['c', 'd']);

      world = fakeConnect();
      const droppedNewest: OutboundData[] = [];
      const newest = make({ maxQueuedWrites: 2, overflow: 'drop-newest', onDrop: (d) => droppedNewest.push(d) });
      for (const data of ['a', 'b', 'c', 'd']) newest.send(data);
      expect(droppedNewest).to.deep.equal(['c', 'd']);
      expect(world.open().sent).to.deep.equal(['a', 'b']);
    });

    it('refuses data no peer would send before queuing it', () => {
      const connection = make();
      expect(thrown(() => connection.send(42 as never)))
        .to.be.instanceOf(TypeError)
        .with.property('code', 'ERR_INVALID_DATA');
      expect([connection.queuedWrites, world.attempts.length]).to.deep.equal([0, 0]);
    });

    it('close() counts the writes still waiting and sends none; send() then throws ERR_PEER_CLOSED', () => {
      const connection = make();
      connection.send('a');
      connection.send('b');
      connection.close();
      expect(seen().slice(-1)).to.deep.equal(['closed(2 unsent)']);
      expect(connection.queuedWrites).to.equal(0);
      expect(thrown(() => connection.send('c')))
        .to.be.instanceOf(WebSocketPeerError)
        .with.property('code', 'ERR_PEER_CLOSED');
    });
  });

  describe('packets$ and sink', () => {
    it("gives each connection's packets in turn, those of a dropped one first, and completes after close()", async () => {
      const connection = make({ initialDelay: 10 });
      const packets = collect(connection.packets$);
      const first = world.open();
      first.receive('1a');
      world.fail(dropped());
      clock.tick(10);
      const second = world.open();
      second.receive('2a');
      first.receive('1b'); // still in the first peer's queue when it dropped
      first.packets.complete();
      second.receive('2b');
      connection.close();
      second.packets.complete();
      expect(await packets.done).to.deep.equal({});
      expect(packets.values.map((p) => p.data)).to.deep.equal(['1a', '1b', '2a', '2b']);
    });

    it('sink: next() sends, complete() closes with 1000, error() with 1011', () => {
      const completing = make();
      completing.sink.next('hi');
      const peer = world.open();
      completing.sink.complete();
      expect([peer.sent, peer.closedWith]).to.deep.equal([['hi'], [1000, '']]);

      world = fakeConnect();
      const failing = make();
      failing.open();
      const other = world.open();
      failing.sink.error(new Error('source failed'));
      expect(other.closedWith).to.deep.equal([1011, '']);
      expect(failing.currentStatus.state).to.equal('closed');
    });
  });
});
