import { createServer as createTcpServer } from 'node:net';
import { expect } from 'chai';
import { firstValueFrom, retry, Subscription } from 'rxjs';
import { connect } from '../../src/observables/connect.js';
import { listen } from '../../src/observables/listen.js';
import {
  backoff,
  type Connection,
  type ConnectionStatus,
  type DropReason,
  type ReconnectOptions,
} from '../../src/reconnect/Connection.js';
import { reconnecting } from '../../src/reconnect/reconnecting.js';
import type { Packet } from '../../src/peer/types.js';
import type { WebSocketPeer } from '../../src/peer/WebSocketPeer.js';
import { WebSocketCloseError } from '../../src/errors/WebSocketCloseError.js';
import { WebSocketPeerError } from '../../src/errors/WebSocketPeerError.js';
import { closeProxies, startProxy } from '../fixtures/stallingProxy.js';
import {
  collect,
  delay,
  expectInvalidOption,
  internalsOf,
  startServer,
  stopAll,
  takeValues,
  until,
} from '../helpers.js';

/** A port on 127.0.0.1 that nothing listens on (bound, then freed). */
async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const connections: Connection[] = [];
function open(url: string, options: Parameters<typeof reconnecting>[1] = {}): Connection {
  const connection = reconnecting(url, { jitter: 0, initialDelay: 10, maxDelay: 40, ...options });
  connections.push(connection);
  return connection;
}

const text = (packets: Packet[]): unknown[] => packets.map((p) => p.data);
const states = (statuses: ConnectionStatus[]): string[] => statuses.map((s) => s.state);

describe('reconnecting()', () => {
  afterEach(async () => {
    for (const connection of connections.splice(0)) connection.close();
    stopAll();
    await closeProxies();
  });

  it('does nothing until asked, then connects: idle -> connecting -> open', async () => {
    const server = await startServer();
    const connection = open(server.url);
    const statuses = collect(connection.status$);
    await delay(30);
    expect(states(statuses.values)).to.deep.equal(['idle']);
    const peer = firstValueFrom(connection.peer$);
    connection.packets$.subscribe();
    expect((await peer).isConnectedToHost()).to.equal(true);
    expect(statuses.values.slice(1)).to.deep.include({ state: 'connecting', attempt: 0 });
    expect(states(statuses.values)).to.deep.equal(['idle', 'connecting', 'open']);
  });

  it('queues writes made before it opens and sends them once, in order', async () => {
    const server = await startServer();
    const remoteOpened = server.nextPeer();
    const connection = open(server.url);
    connection.send('one');
    connection.send('two');
    connection.sink.next('three');
    expect(connection.queuedWrites).to.equal(3);
    const remote = await remoteOpened;
    expect(text(await takeValues(remote.packets$, 3))).to.deep.equal(['one', 'two', 'three']);
    expect(connection.queuedWrites).to.equal(0);
    connection.send('four');
    expect(text(await takeValues(remote.packets$, 1))).to.deep.equal(['four']);
  });

  it('reconnects after the connection drops, and packets$ goes on with the new one', async () => {
    const server = await startServer();
    const remotes = collect(server.server.peers$);
    const connection = open(server.url);
    const statuses = collect(connection.status$);
    const packets = collect(connection.packets$);
    await until(() => remotes.values.length === 1);
    remotes.values[0]?.sink.next('before');
    await until(() => packets.values.length === 1);
    internalsOf(remotes.values[0] as WebSocketPeer).socket.resetAndDestroy();
    await until(() => remotes.values.length === 2);
    remotes.values[1]?.sink.next('after');
    await until(() => packets.values.length === 2);
    expect(text(packets.values)).to.deep.equal(['before', 'after']);
    expect(states(statuses.values)).to.deep.equal(['idle', 'connecting', 'open', 'reconnecting', 'connecting', 'open']);
    const reconnectingStatus = statuses.values[3] as Extract<ConnectionStatus, { state: 'reconnecting' }>;
    expect(reconnectingStatus).to.include({ attempt: 1, delay: 10 });
    expect(reconnectingStatus.reason).to.have.property('code', 1006);
  });

  it('gives a reason it can narrow: WebSocketCloseError for a close (a clean 1000 too), WebSocketPeerError for a failed open', async () => {
    const server = await startServer();
    const remotes = collect(server.server.peers$);
    const reasons: DropReason[] = [];
    const connection = open(server.url, {
      maxAttempts: 10,
      shouldReconnect: (reason) => {
        reasons.push(reason);
        if (reasons.length === 3) throw new Error('enough');
        return true;
      },
    });
    const statuses = collect(connection.status$);
    const packets = collect(connection.packets$);
    await until(() => remotes.values.length === 1);
    remotes.values[0]?.close(1000, 'bye');
    await until(() => remotes.values.length === 2);
    remotes.values[1]?.close(4000, 'later');
    await until(() => reasons.length === 2);
    server.stop();
    const { error } = await packets.done;
    const [first, second, third] = reasons;
    expect(first).to.be.instanceOf(WebSocketCloseError).and.include({ code: 1000, reason: 'bye', wasClean: true });
    expect(second).to.be.instanceOf(WebSocketCloseError).and.include({ code: 4000, reason: 'later', wasClean: true });
    expect(third).to.be.instanceOf(WebSocketPeerError).and.include({ code: 'ERR_CONNECT_FAILED' });
    // shouldReconnect threw: closed for good; status$ keeps the drop's reason, packets$ errors with the throw.
    expect(statuses.values.at(-1)).to.deep.include({ state: 'closed', reason: third });
    expect(error).to.have.property('message', 'enough');
  });

  it('completes packets$ when it gives up after a clean 1000, and errors after any other close', async () => {
    for (const [code, ends] of [
      [1000, 'complete'],
      [1001, 'error'],
    ] as const) {
      const server = await startServer();
      const remoteOpened = server.nextPeer();
      const connection = open(server.url, { shouldReconnect: () => false });
      const packets = collect(connection.packets$);
      (await remoteOpened).close(code);
      const { error } = await packets.done;
      expect(error === undefined ? 'complete' : 'error', String(code)).to.equal(ends);
      if (error !== undefined) expect(error).to.be.instanceOf(WebSocketCloseError).and.include({ code });
    }
  });

  it('backs off exponentially up to maxDelay, then gives up after maxAttempts', async () => {
    const url = `ws://127.0.0.1:${await freePort()}`;
    const connection = open(url, { initialDelay: 10, maxDelay: 40, maxAttempts: 5 });
    const statuses = collect(connection.status$);
    const packets = collect(connection.packets$);
    const { error } = await packets.done;
    const delays = statuses.values.flatMap((s) => (s.state === 'reconnecting' ? [s.delay] : []));
    const attempts = statuses.values.flatMap((s) => (s.state === 'reconnecting' ? [s.attempt] : []));
    expect(delays).to.deep.equal([10, 20, 40, 40, 40]);
    expect(attempts).to.deep.equal([1, 2, 3, 4, 5]);
    const last = statuses.values.at(-1);
    expect(last?.state).to.equal('closed');
    expect(error).to.be.instanceOf(WebSocketPeerError).with.property('code', 'ERR_CONNECT_FAILED');
    expect(() => connection.send('late'))
      .to.throw(WebSocketPeerError)
      .with.property('code', 'ERR_PEER_CLOSED');
  });

  it('spreads its delays with jitter, between delay × (1 - jitter) and delay', async () => {
    const url = `ws://127.0.0.1:${await freePort()}`;
    const connection = open(url, { initialDelay: 8, maxDelay: 8, maxAttempts: 20, jitter: 0.5 });
    const statuses = collect(connection.status$);
    await collect(connection.packets$).done;
    const delays = statuses.values.flatMap((s) => (s.state === 'reconnecting' ? [s.delay] : []));
    expect(delays).to.have.length(20);
    for (const d of delays) expect(d).to.be.within(4, 8);
    expect(new Set(delays).size).to.be.above(1);
  });

  it('starts counting again after a connection that stayed up for resetAfter', async () => {
    const server = await startServer();
    const remotes = collect(server.server.peers$);
    const connection = open(server.url, { resetAfter: 100 });
    const statuses = collect(connection.status$);
    connection.open();
    const drop = async (count: number): Promise<void> => {
      await until(() => remotes.values.length === count);
      internalsOf(remotes.values[count - 1] as WebSocketPeer).socket.resetAndDestroy();
    };
    await drop(1); // up only briefly: attempt 1
    await drop(2); // again: attempt 2
    await until(() => remotes.values.length === 3);
    await delay(150); // stable now
    await drop(3);
    await until(() => remotes.values.length === 4);
    const attempts = statuses.values.flatMap((s) => (s.state === 'reconnecting' ? [s.attempt] : []));
    expect(attempts).to.deep.equal([1, 2, 1]);
  });

  it('delivers every message exactly once, in order, across a server restart while it writes', async () => {
    const port = await freePort();
    const received: string[] = [];
    const keep = new Subscription();
    const serve = (): Subscription =>
      listen({ host: '127.0.0.1', port }).subscribe((server) => {
        // The peers' packets are kept apart from the server's subscription: a peer that is
        // closing still delivers what arrived before its close, then errors with 1001.
        server.peers$.subscribe((peer) =>
          keep.add(peer.packets$.subscribe({ next: (p) => received.push(p.data as string), error: () => {} })),
        );
      });
    let server = serve();
    const connection = open(`ws://127.0.0.1:${port}`, { initialDelay: 20, maxDelay: 20 });
    connection.open();
    await firstValueFrom(connection.peer$);
    let sent = 0;
    const writer = setInterval(() => {
      for (let i = 0; i < 10 && sent < 600; i++) connection.send(`m${sent++}`);
    }, 1);
    try {
      await until(() => sent >= 200);
      server.unsubscribe(); // closes its peers with 1001 and frees the port
      await delay(50);
      server = serve();
      await until(() => sent === 600);
      await until(() => received.length >= 600);
      await delay(50);
    } finally {
      clearInterval(writer);
      server.unsubscribe();
      keep.unsubscribe();
    }
    expect(received).to.deep.equal(Array.from({ length: 600 }, (_, i) => `m${i}`));
  });

  it('finds a connection that went silent within two heartbeats, reopens, and sends what was written meanwhile', async () => {
    const interval = 100;
    const server = await startServer();
    const received: string[] = [];
    server.server.peers$.subscribe((peer) =>
      peer.packets$.subscribe({ next: (p) => received.push(p.data as string), error: () => {} }),
    );
    // A proxy that keeps TCP open but stops forwarding, as a NAT box that lost the connection.
    const proxy = await startProxy(server.server.port);
    const connection = open(proxy.url, { heartbeatInterval: interval, initialDelay: 10, maxDelay: 10 });
    const statuses = collect(connection.status$);
    connection.send('before');
    await until(() => received.length === 1);
    await delay(2.5 * interval); // heartbeats go through
    expect(connection.currentStatus.state).to.equal('open');
    proxy.stall();
    const stalledAt = Date.now();
    await until(() => connection.currentStatus.state !== 'open', 2000);
    const detectedIn = Date.now() - stalledAt;
    const dropped = connection.currentStatus;
    connection.send('during'); // queued while it reconnects, through the proxy's new connection
    await until(() => received.length === 2, 2000);
    connection.send('after');
    await until(() => received.length === 3);
    expect(detectedIn).to.be.at.most(2 * interval + 50);
    expect(dropped.state).to.equal('reconnecting');
    expect((dropped as { reason: unknown }).reason).to.include({ code: 1006, wasClean: false });
    expect(received).to.deep.equal(['before', 'during', 'after']);
    expect(states(statuses.values).slice(-3)).to.deep.equal(['reconnecting', 'connecting', 'open']);
  });

  it('close(code, reason) closes the open peer with them, for good, and counts unsent writes', async () => {
    const server = await startServer();
    const remoteOpened = server.nextPeer();
    const connection = open(server.url);
    const statuses = collect(connection.status$);
    connection.open();
    const remote = await remoteOpened;
    await firstValueFrom(connection.peer$);
    connection.close(4001, 'bye');
    expect((await takeValues(remote.closed$, 1))[0]).to.deep.equal({ code: 4001, reason: 'bye', wasClean: true });
    expect(statuses.values.at(-1)).to.deep.equal({ state: 'closed', unsent: 0 });
    expect(await statuses.done).to.deep.equal({});
    expect(() => connection.close(999)).to.throw(RangeError);
  });

  it('close() while it waits to retry cancels the retry and reports the unsent writes', async () => {
    const url = `ws://127.0.0.1:${await freePort()}`;
    const connection = open(url, { initialDelay: 200, maxDelay: 200 });
    const statuses = collect(connection.status$);
    connection.send('never');
    await until(() => connection.currentStatus.state === 'reconnecting');
    connection.close();
    await delay(250);
    expect(states(statuses.values)).to.deep.equal(['idle', 'connecting', 'reconnecting', 'closed']);
    expect(statuses.values.at(-1)).to.deep.equal({ state: 'closed', unsent: 1 });
  });

  it('bounds the write queue: ERR_QUEUE_FULL by default, onDrop with a drop policy', () => {
    const connection = open('ws://127.0.0.1:1', { maxQueuedWrites: 2, initialDelay: 1000, maxDelay: 1000 });
    connection.send('a');
    connection.send('b');
    expect(() => connection.send('c'))
      .to.throw(WebSocketPeerError)
      .with.property('code', 'ERR_QUEUE_FULL');
    expect(connection.queuedWrites).to.equal(2);
    const dropped: unknown[] = [];
    const dropping = open('ws://127.0.0.1:1', {
      maxQueuedWriteBytes: 4,
      overflow: 'drop-oldest',
      onDrop: (data) => dropped.push(data),
      initialDelay: 1000,
      maxDelay: 1000,
    });
    dropping.send('aa');
    dropping.send('bb');
    dropping.send('cc');
    expect(dropped).to.deep.equal(['aa']);
    expect(dropping.queuedWrites).to.equal(2);
  });

  it('refuses data no peer would send, at send() time, even while it queues', () => {
    const connection = open('ws://127.0.0.1:1', { initialDelay: 1000, maxDelay: 1000 });
    expect(() => connection.send(42 as never))
      .to.throw(TypeError)
      .with.property('code', 'ERR_INVALID_DATA');
    expect(() => connection.send(new Uint8Array([0xff])))
      .to.throw(TypeError)
      .with.property('code', 'ERR_INVALID_UTF8');
    expect(connection.queuedWrites).to.equal(0);
  });

  it('does not retry a handshake answered with 404 by default', async () => {
    const server = await startServer({ path: '/only' });
    const connection = open(`${server.url}/elsewhere`);
    const statuses = collect(connection.status$);
    const { error } = await collect(connection.packets$).done;
    expect(error).to.have.property('statusCode', 404);
    expect(states(statuses.values)).to.deep.equal(['idle', 'connecting', 'closed']);
  });

  it('throws ERR_INVALID_OPTION for bad options, ERR_INVALID_URL for a bad URL', () => {
    for (const options of [
      { initialDelay: -1 },
      { maxDelay: 5, initialDelay: 10 },
      { maxAttempts: 1.5 },
      { jitter: 2 },
      { resetAfter: 'soon' },
      { maxQueuedWrites: -1 },
      { overflow: 'drop-oldest' },
      { shouldReconnect: true },
    ]) {
      expect(() => reconnecting('ws://127.0.0.1:1', options as never), JSON.stringify(options))
        .to.throw(TypeError)
        .with.property('code', 'ERR_INVALID_OPTION');
    }
    expect(() => reconnecting('http://x'))
      .to.throw(TypeError)
      .with.property('code', 'ERR_INVALID_URL');
  });

  describe('several URLs', () => {
    /** The URLs of each handshake made, in order: where each attempt went. */
    const tried = (statuses: ConnectionStatus[]): string[] =>
      statuses.flatMap((s) => (s.state === 'open' ? [s.peer.handshake.url] : []));

    it('fails over to the next URL of a list when one is down, and goes on round the list after a drop', async () => {
      const down = `ws://127.0.0.1:${await freePort()}`;
      const up = await startServer();
      const remotes = collect(up.server.peers$);
      const connection = reconnecting([down, up.url], { jitter: 0, initialDelay: 10, maxDelay: 40, resetAfter: 0 });
      connections.push(connection);
      const statuses = collect(connection.status$);
      const packets = collect(connection.packets$);
      await until(() => remotes.values.length === 1 && connection.currentStatus.state === 'open');
      // Attempt 0 went to the first URL (refused), attempt 1 to the second.
      expect(states(statuses.values)).to.deep.equal(['idle', 'connecting', 'reconnecting', 'connecting', 'open']);
      const refused = (statuses.values[2] as Extract<ConnectionStatus, { state: 'reconnecting' }>).reason;
      expect(refused).to.have.property('code', 'ERR_CONNECT_FAILED');
      expect(refused.message).to.include(down);
      expect(tried(statuses.values)).to.deep.equal([`${up.url}/`]);
      remotes.values[0]?.sink.next('from the second');
      await until(() => packets.values.length === 1);
      // After the drop, the next URL after the second is the first again (refused), then the second.
      internalsOf(remotes.values[0] as WebSocketPeer).socket.resetAndDestroy();
      await until(() => remotes.values.length === 2 && connection.currentStatus.state === 'open');
      expect(states(statuses.values).slice(5)).to.deep.equal([
        'reconnecting',
        'connecting',
        'reconnecting',
        'connecting',
        'open',
      ]);
      const again = (statuses.values[7] as Extract<ConnectionStatus, { state: 'reconnecting' }>).reason;
      expect(again.message).to.include(down);
      expect(tried(statuses.values)).to.deep.equal([`${up.url}/`, `${up.url}/`]);
      remotes.values[1]?.sink.next('after the drop');
      await until(() => packets.values.length === 2);
      expect(text(packets.values)).to.deep.equal(['from the second', 'after the drop']);
    });

    it('goes round the list while every URL is down, then gives up after maxAttempts', async () => {
      const urls = [`ws://127.0.0.1:${await freePort()}`, `ws://127.0.0.1:${await freePort()}`];
      const connection = reconnecting(urls, { jitter: 0, initialDelay: 5, maxDelay: 5, maxAttempts: 3 });
      connections.push(connection);
      const statuses = collect(connection.status$);
      const ended = collect(connection.packets$).done;
      const { error } = await ended;
      expect(error).to.be.instanceOf(WebSocketPeerError).with.property('code', 'ERR_CONNECT_FAILED');
      // The failed opens' messages name the URL each attempt went to: 0, 1, 0, 1.
      const reasons = statuses.values.flatMap((s) =>
        s.state === 'reconnecting' || s.state === 'closed' ? [(s as { reason: Error }).reason.message] : [],
      );
      expect(reasons.map((m) => urls.findIndex((u) => m.includes(u)))).to.deep.equal([0, 1, 0, 1]);
    });

    it('asks a function for the URL of each attempt, with the attempt number', async () => {
      const down = `ws://127.0.0.1:${await freePort()}`;
      const up = await startServer();
      const asked: number[] = [];
      const connection = reconnecting(
        (attempt) => {
          asked.push(attempt);
          return attempt < 2 ? down : up.url;
        },
        { jitter: 0, initialDelay: 5, maxDelay: 5 },
      );
      connections.push(connection);
      // Called once at once, with 0: its URL and the options are checked as for one URL.
      expect(asked).to.deep.equal([0]);
      const peer = await firstValueFrom(
        connection.peer$.pipe((source) => {
          connection.open();
          return source;
        }),
      );
      expect(peer.handshake.url).to.equal(`${up.url}/`);
      expect(asked).to.deep.equal([0, 1, 2]);
    });

    it('refuses at once an empty list, any bad URL of a list, and a function whose first URL is bad', () => {
      for (const target of [[], ['ws://127.0.0.1:1', 'http://x'], () => 'ftp://x', 42]) {
        expect(() => reconnecting(target as never), JSON.stringify(target))
          .to.throw(TypeError)
          .with.property('code', 'ERR_INVALID_URL');
      }
      expect(() => reconnecting(['ws://127.0.0.1:1'], { initialDelay: -1 }))
        .to.throw(TypeError)
        .with.property('code', 'ERR_INVALID_OPTION');
    });

    it('closes for good with ERR_INVALID_URL when the function later throws or gives no URL', async () => {
      const down = `ws://127.0.0.1:${await freePort()}`;
      for (const later of [
        () => {
          throw new Error('no server left');
        },
        () => 'not a url',
      ]) {
        const connection = reconnecting((attempt) => (attempt === 0 ? down : later()), {
          jitter: 0,
          initialDelay: 5,
          maxDelay: 5,
        });
        connections.push(connection);
        const statuses = collect(connection.status$);
        const { error } = await collect(connection.packets$).done;
        expect(error).to.be.instanceOf(WebSocketPeerError).with.property('code', 'ERR_INVALID_URL');
        expect((error as Error).message).to.match(/^reconnecting\(\): no URL for attempt 1: /);
        expect(states(statuses.values)).to.deep.equal(['idle', 'connecting', 'reconnecting', 'closed']);
      }
    });
  });

  it("throws ERR_INVALID_OPTION for an unknown key, its own or connect()'s, naming the nearest known one", () => {
    const url = 'ws://127.0.0.1:1';
    expectInvalidOption(
      () => reconnecting(url, { heartbeatIntervall: 1000 } as never),
      "reconnecting(): unknown option 'heartbeatIntervall' (did you mean 'heartbeatInterval'?)",
    );
    expectInvalidOption(
      () => reconnecting(url, { protocol: 'chat' } as never),
      "reconnecting(): unknown option 'protocol' (did you mean 'protocols'?)",
    );
    expectInvalidOption(
      () => reconnecting(url, { maxAttempt: 3 } as never),
      "reconnecting(): unknown option 'maxAttempt' (did you mean 'maxAttempts'?)",
    );
    expectInvalidOption(() => reconnecting(url, { retries: 3 } as never), "reconnecting(): unknown option 'retries'");
    expectInvalidOption(() => reconnecting(url, null as never), 'reconnecting(): options must be an object');
    // Every known key passes, undefined as its value; nothing opens before it is asked to.
    const known = {
      initialDelay: undefined,
      maxDelay: undefined,
      maxAttempts: undefined,
      jitter: undefined,
      resetAfter: undefined,
      shouldReconnect: undefined,
      maxQueuedWrites: undefined,
      maxQueuedWriteBytes: undefined,
      overflow: undefined,
      onDrop: undefined,
      scheduler: undefined,
      protocols: undefined,
      headers: undefined,
      handshakeTimeout: undefined,
      maxPayload: undefined,
      maxFragments: undefined,
      ca: undefined,
      servername: undefined,
      writeMode: undefined,
      noDelay: undefined,
      maxQueuedPackets: undefined,
      maxQueuedBytes: undefined,
      heartbeatInterval: undefined,
    } satisfies Record<keyof ReconnectOptions, undefined>;
    reconnecting(url, known).close();
    reconnecting(url, undefined).close();
  });

  it('backoff() throws ERR_INVALID_OPTION for an unknown key, naming the nearest known one', () => {
    expectInvalidOption(
      () => backoff({ initalDelay: 10 } as never),
      "backoff(): unknown option 'initalDelay' (did you mean 'initialDelay'?)",
    );
    // reconnecting()'s other options mean nothing to backoff(): retry() counts the attempts.
    expectInvalidOption(() => backoff({ maxAttempts: 3 } as never), "backoff(): unknown option 'maxAttempts'");
    expect(() =>
      backoff({ initialDelay: undefined, maxDelay: undefined, jitter: undefined, scheduler: undefined }),
    ).not.to.throw();
  });

  it('composes with RxJS retry(): connect(url).pipe(retry({ delay: backoff() })) reopens after a drop', async () => {
    const server = await startServer();
    const remotes = collect(server.server.peers$);
    const peers = collect(
      connect(server.url).pipe(retry({ count: 3, delay: backoff({ initialDelay: 10, jitter: 0 }) })),
    );
    await until(() => remotes.values.length === 1);
    internalsOf(remotes.values[0] as WebSocketPeer).socket.resetAndDestroy();
    await until(() => remotes.values.length === 2 && peers.values.length === 2);
    expect(peers.values[1]?.isConnectedToHost()).to.equal(true);
    peers.values[1]?.close();
  });
});
