import { expect } from 'chai';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import sinon from 'sinon';
import { WebSocket } from 'ws';
import { connect } from '../../src/observables/connect.js';
import { listen } from '../../src/observables/listen.js';
import { WebSocketCloseError } from '../../src/errors/WebSocketCloseError.js';
import type { CloseInfo, PeerState } from '../../src/peer/types.js';
import type { WebSocketPeer } from '../../src/peer/WebSocketPeer.js';
import { closeProxies, startProxy } from '../fixtures/stallingProxy.js';
import { collect, delay, internalsOf, openClient, openPair, startServer, stopAll, takeValues } from '../helpers.js';

/** Timer lateness we tolerate on a busy machine, on top of what the heartbeat promises. */
const SLACK_MS = 50;

/** Waits on real I/O only (setImmediate), so that it works while fake timers are installed. */
async function settle(check: () => boolean, what: string, ms = 2000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Counts the pings and pongs that reach a peer's ws socket. */
function countFrames(peer: WebSocketPeer): { pings: number; pongs: number } {
  const counts = { pings: 0, pongs: 0 };
  const { ws } = internalsOf(peer);
  ws.on('ping', () => counts.pings++);
  ws.on('pong', () => counts.pongs++);
  return counts;
}

/** The peer's `closed$` as a value that the test can look at without waiting. */
function watchClosed(peer: WebSocketPeer): { info: CloseInfo | undefined } {
  const seen: { info: CloseInfo | undefined } = { info: undefined };
  peer.closed$.subscribe((info) => (seen.info = info));
  return seen;
}

/** The options the fake clock needs so that sockets (setImmediate, nextTick, I/O) still run. */
function useFakeTimers(): sinon.SinonFakeTimers {
  return sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
}

describe('heartbeat (heartbeatInterval)', () => {
  let clock: sinon.SinonFakeTimers | undefined;

  afterEach(async () => {
    // The clock first: closes started by stopAll() get real timers (ws's close timeout).
    clock?.restore();
    clock = undefined;
    stopAll();
    await closeProxies();
  });

  describe('on a healthy connection', () => {
    it('pings each interval from both sides, gets every pong, and closes nothing', async () => {
      const interval = 50;
      // Before the peers exist, so that `ticks` bounds the beats of both of them.
      const started = performance.now();
      const { client, remote } = await openPair({ heartbeatInterval: interval }, { heartbeatInterval: interval });
      const atClient = countFrames(client.peer);
      const atServer = countFrames(remote);
      const closed = [watchClosed(client.peer), watchClosed(remote)];
      await delay(6 * interval + 20);
      const ticks = Math.floor((performance.now() - started) / interval);
      expect(closed.map((c) => c.info)).to.deep.equal([undefined, undefined]);
      expect(client.peer.isConnectedToHost()).to.equal(true);
      expect(remote.isConnectedToHost()).to.equal(true);
      // Each side's pings reach the other side, and their pongs come back (timers may run late).
      for (const [name, count] of [
        ['pings the client received', atClient.pings],
        ['pongs the client received', atClient.pongs],
        ['pings the server received', atServer.pings],
        ['pongs the server received', atServer.pongs],
      ] as const) {
        expect(count, name).to.be.within(4, ticks);
      }
      client.peer.close();
      expect((await takeValues(remote.closed$, 1))[0]).to.deep.equal({ code: 1000, reason: '', wasClean: true });
      expect((await takeValues(client.peer.closed$, 1))[0]).to.deep.equal({ code: 1000, reason: '', wasClean: true });
    });

    it('counts any frame from the other side as life, not only pongs', async () => {
      const interval = 100;
      const server = await startServer({ heartbeatInterval: interval });
      const remoteOpened = server.nextPeer();
      // A client that never answers pings, but talks.
      const raw = new WebSocket(server.url, { autoPong: false });
      await once(raw, 'open');
      const remote = await remoteOpened;
      let pingsSeen = 0;
      raw.on('ping', () => pingsSeen++);
      const talking = setInterval(() => raw.send('still here'), interval / 3);
      try {
        const packets = collect(remote.packets$);
        await delay(4 * interval);
        expect(remote.isConnectedToHost()).to.equal(true);
        expect(pingsSeen).to.be.at.least(3);
        clearInterval(talking);
        const stoppedAt = performance.now();
        const [info] = await takeValues(remote.closed$, 1);
        const elapsed = performance.now() - stoppedAt;
        expect(info).to.include({ code: 1006, wasClean: false });
        expect(info?.reason).to.match(/heartbeat/);
        expect(elapsed).to.be.at.most(2 * interval + SLACK_MS);
        const { error } = await packets.done;
        expect(error).to.be.instanceOf(WebSocketCloseError);
        expect(packets.values.length).to.be.at.least(9);
      } finally {
        clearInterval(talking);
        raw.terminate();
      }
    });

    it('counts the parts of a message still arriving as life, long before the message is whole', async () => {
      const interval = 100;
      const server = await startServer({ heartbeatInterval: interval });
      const remoteOpened = server.nextPeer();
      const raw = new WebSocket(server.url, { autoPong: false });
      await once(raw, 'open');
      const remote = await remoteOpened;
      const packets = collect(remote.packets$);
      // One text message in fragments (RFC 6455 §5.4), 30 ms apart, over 5 intervals.
      for (let i = 0; i < 17; i++) {
        raw.send('part ', { fin: false });
        await delay(interval * 0.3);
      }
      expect(packets.values, 'no message yet').to.deep.equal([]);
      expect(remote.isConnectedToHost()).to.equal(true);
      raw.send('end', { fin: true });
      raw.close();
      await packets.done;
      expect(packets.values.map((p) => p.data)).to.deep.equal([`${'part '.repeat(17)}end`]);
    });
  });

  describe('a peer that stops answering while TCP stays open', () => {
    /**
     * Connects a client to a server through a proxy, lets heartbeats go through it for a while,
     * stalls the proxy, and measures how long `watched` takes to find the connection dead.
     */
    async function detect(side: 'client' | 'server'): Promise<void> {
      const interval = 100;
      const heartbeat = { heartbeatInterval: interval };
      const server = await startServer(side === 'server' ? heartbeat : {});
      const proxy = await startProxy(server.server.port);
      const remoteOpened = server.nextPeer();
      const client = await openClient(proxy.url, side === 'client' ? heartbeat : {});
      const remote = await remoteOpened;
      const [watched, other] = side === 'client' ? [client.peer, remote] : [remote, client.peer];

      const packets = collect(watched.packets$);
      const states = collect<PeerState>(watched.state$);
      const atOther = countFrames(other);
      other.sink.next('one');
      other.sink.next('two');
      await delay(3 * interval);
      expect(watched.isConnectedToHost(), 'healthy through the proxy').to.equal(true);
      expect(atOther.pings, 'pings went through the proxy').to.be.at.least(2);
      expect(packets.values.map((p) => p.data)).to.deep.equal(['one', 'two']);

      // The worst moment: just as a pong arrives, so the next tick still finds the peer alive and
      // only the ping it sends goes unanswered.
      let stalledAt = 0;
      internalsOf(watched).ws.once('pong', () => {
        stalledAt = performance.now();
        proxy.stall();
      });
      const [info] = await takeValues(watched.closed$, 1);
      const elapsed = performance.now() - stalledAt;

      expect(info).to.include({ code: 1006, wasClean: false });
      expect(info?.reason).to.match(/heartbeat/);
      expect(stalledAt, 'a pong came').to.be.above(0);
      expect(elapsed, 'found dead within two intervals').to.be.at.most(2 * interval + SLACK_MS);
      expect(elapsed, 'not while the last pong is recent').to.be.above(interval);
      const { error } = await packets.done;
      expect(error).to.be.instanceOf(WebSocketCloseError);
      expect(error).to.include({ code: 1006, wasClean: false, reason: info?.reason });
      expect(packets.values.map((p) => p.data)).to.deep.equal(['one', 'two']);
      await states.done;
      expect(states.values).to.deep.equal(['open', 'closing', 'closed']);
      // The other side has no heartbeat and its TCP connection (to the proxy) is still open.
      expect(other.isConnectedToHost()).to.equal(true);
      if (side === 'client') {
        const ended = await client.ended;
        expect(ended).to.be.instanceOf(WebSocketCloseError);
        expect(ended).to.include({ code: 1006, wasClean: false });
      }
    }

    it('ends a client peer within two intervals: 1006, not clean, the heartbeat named', async () => {
      await detect('client');
    });

    it('ends a server peer (heartbeatInterval on listen()) within two intervals', async () => {
      await detect('server');
    });

    it('ends it on the second tick after the last pong, not on the first (fake timers)', async () => {
      clock = useFakeTimers();
      const interval = 1000;
      const server = await startServer();
      const proxy = await startProxy(server.server.port);
      const remoteOpened = server.nextPeer();
      const client = await openClient(proxy.url, { heartbeatInterval: interval });
      const remote = await remoteOpened;
      const atClient = countFrames(client.peer);
      const closed = watchClosed(client.peer);

      clock.tick(interval); // a ping, answered
      await settle(() => atClient.pongs === 1, 'the pong');
      proxy.stall();
      clock.tick(interval); // the pong came: alive; another ping, which the proxy holds
      await new Promise((resolve) => setImmediate(resolve));
      expect(client.peer.isConnectedToHost()).to.equal(true);
      clock.tick(interval); // no answer to it: dead
      expect(client.peer.isConnectedToHost()).to.equal(false);
      await settle(() => closed.info !== undefined, 'closed$');
      expect(closed.info).to.deep.equal({
        code: 1006,
        reason: `heartbeat: no pong within ${interval} ms`,
        wasClean: false,
      });
      expect(clock.countTimers(), 'no timer left').to.equal(0);
      expect(remote.isConnectedToHost()).to.equal(true);
    });
  });

  describe('cost', () => {
    it('is one timer per peer, whatever the traffic, and none once closed (fake timers)', async () => {
      clock = useFakeTimers();
      const interval = 1000;
      const { client, remote } = await openPair({}, { heartbeatInterval: interval });
      expect(clock.countTimers(), 'the client peer with a heartbeat').to.equal(1);

      const toServer = takeValues(remote.packets$, 100);
      const toClient = takeValues(client.peer.packets$, 100);
      for (let i = 0; i < 100; i++) {
        client.peer.sink.next(`c${i}`);
        remote.sink.next(`s${i}`);
      }
      expect((await toServer).length).to.equal(100);
      expect((await toClient).length).to.equal(100);
      expect(clock.countTimers(), 'after 200 packets').to.equal(1);

      const atClient = countFrames(client.peer);
      for (let beat = 1; beat <= 3; beat++) {
        clock.tick(interval);
        await settle(() => atClient.pongs === beat, `pong ${beat}`);
      }
      expect(clock.countTimers(), 'after three heartbeats').to.equal(1);
      expect(client.peer.isConnectedToHost()).to.equal(true);

      client.peer.close();
      await Promise.all([takeValues(client.peer.closed$, 1), takeValues(remote.closed$, 1)]);
      expect(clock.countTimers(), 'after close').to.equal(0);
    });

    it('is one timer for each of many peers, server peers included (fake timers)', async () => {
      clock = useFakeTimers();
      const heartbeat = { heartbeatInterval: 5000 };
      const server = await startServer(heartbeat);
      const peers: WebSocketPeer[] = [];
      for (let i = 0; i < 10; i++) {
        const remoteOpened = server.nextPeer();
        peers.push((await openClient(server.url, heartbeat)).peer, await remoteOpened);
      }
      expect(clock.countTimers()).to.equal(20);
      // An abrupt end clears the timer as a close does.
      internalsOf(peers[0] as WebSocketPeer).socket.resetAndDestroy();
      await Promise.all([
        takeValues((peers[0] as WebSocketPeer).closed$, 1),
        takeValues((peers[1] as WebSocketPeer).closed$, 1),
      ]);
      expect(clock.countTimers()).to.equal(18);
      server.stop();
      await Promise.all(peers.map((peer) => takeValues(peer.closed$, 1)));
      expect(clock.countTimers()).to.equal(0);
    });
  });

  describe('while the peer does not read (its inbound queue is full)', () => {
    it('does not judge, since the pong would wait unread, and judges again once reading (fake timers)', async () => {
      clock = useFakeTimers();
      const interval = 1000;
      const { client, remote } = await openPair({}, { heartbeatInterval: interval, maxQueuedPackets: 4 });
      const atServer = countFrames(remote);
      const atClient = countFrames(client.peer);
      for (let i = 0; i < 100; i++) remote.sink.next(`m${i}`);
      await settle(() => internalsOf(client.peer).ws.isPaused, 'the client to stop reading');

      for (let beat = 0; beat < 5; beat++) clock.tick(interval);
      await new Promise((resolve) => setImmediate(resolve));
      expect(client.peer.isConnectedToHost()).to.equal(true);
      expect(atServer.pings, 'no ping while not reading').to.equal(0);

      const all = await takeValues(client.peer.packets$, 100);
      expect(all.map((p) => p.data)).to.deep.equal([...Array(100).keys()].map((i) => `m${i}`));
      expect(internalsOf(client.peer).ws.isPaused).to.equal(false);
      clock.tick(interval);
      await settle(() => atClient.pongs === 1, 'the pong after reading again');
      clock.tick(interval);
      await settle(() => atClient.pongs === 2, 'the next pong');
      expect(client.peer.isConnectedToHost()).to.equal(true);
      expect(atServer.pings).to.equal(2);
    });
  });

  describe('off (the default)', () => {
    it('runs no timer and sends no ping (fake timers)', async () => {
      clock = useFakeTimers();
      const { client, remote } = await openPair();
      expect(clock.countTimers()).to.equal(0);
      const atClient = countFrames(client.peer);
      const atServer = countFrames(remote);
      clock.tick(24 * 60 * 60 * 1000);
      // A ping sent before these packets would arrive before them.
      client.peer.sink.next('marker');
      remote.sink.next('marker');
      await Promise.all([takeValues(client.peer.packets$, 1), takeValues(remote.packets$, 1)]);
      expect([atClient.pings, atServer.pings]).to.deep.equal([0, 0]);
    });
  });

  describe('the option', () => {
    it('is refused with ERR_INVALID_OPTION unless a positive integer of ms a timer can take', () => {
      for (const bad of [0, -1, 1.5, '100', NaN, Infinity, 2 ** 31, null, true]) {
        const options = { heartbeatInterval: bad as number };
        expect(() => connect('ws://127.0.0.1:1', options), `connect ${String(bad)}`)
          .to.throw(TypeError)
          .with.property('code', 'ERR_INVALID_OPTION');
        expect(() => listen(options), `listen ${String(bad)}`)
          .to.throw(TypeError)
          .with.property('code', 'ERR_INVALID_OPTION');
      }
      for (const good of [1, 30_000, 2 ** 31 - 1]) {
        expect(() => connect('ws://127.0.0.1:1', { heartbeatInterval: good })).not.to.throw();
        expect(() => listen({ heartbeatInterval: good })).not.to.throw();
      }
    });
  });
});
