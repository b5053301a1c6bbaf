// Leaks: many short-lived connections against one listen() server, and many short-lived
// subscriptions on one peer, must leave nothing behind: no listener, subscriber, handle or timer,
// and no V8 heap growth between an early checkpoint and the end (both after a full GC), while
// every peer they made is garbage-collected. Clients and server share this process here, so both
// sides of every connection are checked.
//
// LEAK_CYCLES (10000) and LEAK_CHECKPOINT (1000) override the sizes, for measuring.
import { expect } from 'chai';
import { catchError, EMPTY, firstValueFrom, mergeMap, of, type Subscription, switchMap, tap, toArray } from 'rxjs';
import { connect } from '../../src/observables/connect.js';
import { listen } from '../../src/observables/listen.js';
import type { PeerServer } from '../../src/observables/PeerServer.js';
import { backpressure } from '../../src/operators/backpressure.js';
import { consumePackets } from '../../src/operators/consumePackets.js';
import { sendAll } from '../../src/operators/sendAll.js';
import type { CloseInfo, Packet } from '../../src/peer/types.js';
import type { WebSocketPeer } from '../../src/peer/WebSocketPeer.js';
import { internalsOf, openPair, stopAll } from '../helpers.js';
import {
  activeResources,
  collectGarbage,
  EMPTY_PEER_SETS,
  httpServerOn,
  OPEN_PEER_SETS,
  listenerCounts,
  listenInternals,
  mib,
  MiB,
  peerSets,
  processListenerCounts,
  resourcesBeyond,
  settledResourcesBeyond,
  turn,
} from './measure.js';

const CYCLES = Number(process.env.LEAK_CYCLES ?? 10_000);
const CHECKPOINT = Number(process.env.LEAK_CHECKPOINT ?? 1000);
/** Connections in flight at once in the connect/close test. */
const LANES = 50;
/**
 * V8 heap used after a full GC may grow this much from the checkpoint to the end. Over the
 * 9,000 cycles between them that is about 110 bytes a cycle: less than one leaked object of the
 * ones a cycle makes (a Subscriber, a listener closure, a peer with its ws and socket is kilobytes).
 */
const HEAP_GROWTH_BOUND = 1 * MiB;

async function until(ms: number, what: string, predicate: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Counts objects as they are garbage-collected. */
class Collected {
  registered = 0;
  finalized = 0;
  private readonly registry = new FinalizationRegistry<null>(() => this.finalized++);

  track(...objects: object[]): void {
    for (const object of objects) {
      this.registry.register(object, null);
      this.registered++;
    }
  }

  /** Collects garbage until every tracked object is finalized, or `ms` passed; returns how many live on. */
  async alive(ms = 3000): Promise<number> {
    const deadline = Date.now() + ms;
    do {
      await collectGarbage(1);
      if (this.finalized === this.registered) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    } while (Date.now() < deadline);
    return this.registered - this.finalized;
  }
}

/** What a checkpoint records. */
interface Checkpoint {
  cycles: number;
  heapUsed: number;
  rss: number;
  ms: number;
}

async function checkpoint(cycles: number, startedAt: number): Promise<Checkpoint> {
  await collectGarbage();
  const { heapUsed, rss } = process.memoryUsage();
  return { cycles, heapUsed, rss, ms: performance.now() - startedAt };
}

const describeCheckpoints = (a: Checkpoint, b: Checkpoint): string =>
  `heap used after GC at cycle ${a.cycles}: ${mib(a.heapUsed)}, at ${b.cycles}: ${mib(b.heapUsed)} ` +
  `(${b.heapUsed >= a.heapUsed ? '+' : ''}${((b.heapUsed - a.heapUsed) / 1024).toFixed(0)} KiB); ` +
  `RSS ${mib(a.rss)} -> ${mib(b.rss)}`;

describe('leaks', function () {
  this.timeout(120_000);
  this.slow(30_000);

  afterEach(() => stopAll());

  describe(`${CYCLES.toLocaleString('en-US')} connect/close cycles against one listen() server`, () => {
    const subscriptions: Subscription[] = [];
    afterEach(() => {
      for (const subscription of subscriptions.splice(0)) subscription.unsubscribe();
    });

    it('leave no listener, subscriber, handle or timer, no growing heap, and every peer collected', async () => {
      await collectGarbage();
      const resourcesAtStart = activeResources();
      const processListenersAtStart = processListenerCounts();
      const collected = new Collected();
      const problems: string[] = [];
      const problem = (text: string): void => {
        if (problems.length < 10) problems.push(text);
      };
      /** After a peer's close has run its course: nothing subscribed, listening or queued, socket gone. */
      const checkAfterClose = (side: string, peer: WebSocketPeer): void => {
        const { socket } = internalsOf(peer);
        setImmediate(() => {
          const sets = peerSets(peer);
          if (JSON.stringify(sets) !== JSON.stringify(EMPTY_PEER_SETS))
            problem(`${side} peer after close: ${JSON.stringify(sets)}`);
          if (!socket.destroyed) problem(`${side} peer: socket not destroyed after close`);
          counts[side === 'server' ? 'serverChecked' : 'clientChecked']++;
        });
      };
      const counts = {
        serverOpened: 0,
        serverClosed: 0,
        serverChecked: 0,
        clientOpened: 0,
        clientChecked: 0,
        echoed: 0,
      };
      const serverCodes: Record<string, number> = {};

      // The server: DESIGN.md's echo pipeline, and a peer that receives 'close me' closes with 4000.
      const server = await new Promise<PeerServer>((resolve, reject) => {
        subscriptions.push(
          listen({ host: '127.0.0.1', port: 0 })
            .pipe(
              tap((s) => resolve(s)),
              switchMap((s) => s.peers$),
              tap((peer) => {
                counts.serverOpened++;
                const { ws, socket } = internalsOf(peer);
                collected.track(peer, ws, socket);
                peer.closed$.subscribe((info) => {
                  counts.serverClosed++;
                  serverCodes[info.code] = (serverCodes[info.code] ?? 0) + 1;
                  checkAfterClose('server', peer);
                });
              }),
              mergeMap((peer) =>
                peer.packets$.pipe(
                  tap((packet) => {
                    if (packet.data === 'close me') return peer.close(4000, 'asked to');
                    peer.sink.next(packet);
                    counts.echoed++;
                  }),
                  catchError(() => EMPTY),
                ),
              ),
            )
            .subscribe({ error: reject }),
        );
      });
      const url = `ws://127.0.0.1:${server.port}`;
      const httpServer = httpServerOn(server.port);
      const serverListenersAtStart = listenerCounts(httpServer);
      const resourcesListening = activeResources();
      const clientCodes: Record<string, number> = {};
      let aborted = 0;

      /**
       * One cycle, closed one of four ways by `n % 4`: the client's close(), unsubscribing from
       * connect(), the server's close() (asked by a message), or unsubscribing during the handshake
       * (at once, before the TCP connection is made, or after a turn of the event loop, by when it
       * may be made and the upgrade request sent). Each open connection first exchanges one echoed
       * message.
       */
      const cycle = async (n: number): Promise<void> => {
        const way = n % 4;
        let settleEnd!: (how: string) => void;
        const ended = new Promise<string>((resolve) => (settleEnd = resolve));
        let opened!: (peer: WebSocketPeer) => void;
        const open = new Promise<WebSocketPeer>((resolve) => (opened = resolve));
        const subscription = connect(url).subscribe({
          next: (peer) => opened(peer),
          complete: () => settleEnd('complete'),
          error: (error: unknown) => settleEnd(`error ${String(error)}`),
        });
        if (way === 3) {
          if (n % 8 === 7) await turn();
          subscription.unsubscribe();
          aborted++;
          return;
        }
        const peer = await open;
        counts.clientOpened++;
        const { ws, socket } = internalsOf(peer);
        collected.track(peer, ws, socket);
        const closed = firstValueFrom(peer.closed$);
        const echo = firstValueFrom(peer.packets$);
        peer.sink.next(`cycle ${n}`);
        const packet = await echo;
        if (packet.data !== `cycle ${n}`) problem(`cycle ${n}: echo ${JSON.stringify(packet.data)}`);
        if (way === 0) peer.close();
        if (way === 1) subscription.unsubscribe();
        if (way === 2) peer.sink.next('close me');
        const info: CloseInfo = await closed;
        clientCodes[info.code] = (clientCodes[info.code] ?? 0) + 1;
        if (!info.wasClean) problem(`cycle ${n}: closed ${JSON.stringify(info)}`);
        // The client's close() is a clean 1000: connect() completes. The server's 4000 errors it.
        const expected =
          way === 0 ? 'complete' : 'error WebSocketCloseError: WebSocket closed with code 4000: asked to';
        if (way !== 1 && (await ended) !== expected) problem(`cycle ${n}: connect() ended ${await ended}`);
        subscription.unsubscribe();
        checkAfterClose('client', peer);
      };

      /** Runs cycles `from` to `to` - 1, `LANES` at a time, then waits until both sides are quiet. */
      const run = async (from: number, to: number): Promise<void> => {
        let next = from;
        const lane = async (): Promise<void> => {
          while (next < to) await cycle(next++);
        };
        await Promise.all(Array.from({ length: LANES }, lane));
        await until(10_000, 'the server peers to close', () => counts.serverClosed === counts.serverOpened);
        await until(
          5000,
          'the closed peers to be checked',
          () => counts.serverChecked === counts.serverClosed && counts.clientChecked === counts.clientOpened,
        );
        // An aborted handshake may leave a socket the server has not seen end yet.
        await until(
          5000,
          'the aborted sockets to go',
          () => !('TCPSocketWrap' in resourcesBeyond(resourcesListening, activeResources())),
        );
      };

      const startedAt = performance.now();
      await run(0, CHECKPOINT);
      const aliveEarly = await collected.alive();
      const early = await checkpoint(CHECKPOINT, startedAt);
      const resourcesEarly = await settledResourcesBeyond(resourcesListening);
      await run(CHECKPOINT, CYCLES);
      const alive = await collected.alive();
      const late = await checkpoint(CYCLES, startedAt);
      const resourcesLate = await settledResourcesBeyond(resourcesListening);
      const serverListenersEnd = listenerCounts(httpServer);
      const internals = listenInternals(server.port);

      for (const subscription of subscriptions.splice(0)) subscription.unsubscribe();
      const resourcesStopped = await settledResourcesBeyond(resourcesAtStart, 3000);

      console.log(
        [
          `      ${CYCLES} cycles, ${LANES} at a time, in ${Math.round(late.ms)} ms ` +
            `(${Math.round((CYCLES / late.ms) * 1000)} cycles/s; ${aborted} aborted in the handshake)`,
          `      server: ${counts.serverOpened} peers, ${counts.echoed} echoed, closes ${JSON.stringify(serverCodes)}; ` +
            `client: ${counts.clientOpened} peers, closes ${JSON.stringify(clientCodes)}`,
          `      ${describeCheckpoints(early, late)}`,
          `      handles/timers beyond listening: at ${CHECKPOINT} ${JSON.stringify(resourcesEarly)}, at ${CYCLES} ${JSON.stringify(resourcesLate)}; ` +
            `server stopped, beyond start ${JSON.stringify(resourcesStopped)}`,
          `      http server listeners ${JSON.stringify(serverListenersEnd)}; listen() internals ${JSON.stringify(internals)}; ` +
            `peers/ws/sockets not collected: at ${CHECKPOINT} ${aliveEarly}, at ${CYCLES} ${alive} of ${collected.registered}`,
        ].join('\n'),
      );

      expect(problems).to.deep.equal([]);
      const opened = CYCLES - aborted;
      expect(counts.clientOpened).to.equal(opened);
      expect(counts.echoed).to.equal(opened);
      expect(clientCodes).to.deep.equal({
        1000: opened - Math.floor((CYCLES + 1) / 4),
        4000: Math.floor((CYCLES + 1) / 4),
      });
      // The server may or may not have completed the handshakes that the clients aborted; those it
      // did end abruptly (1006) on its side.
      expect(counts.serverOpened).to.be.within(opened, CYCLES);
      expect(counts.serverClosed).to.equal(counts.serverOpened);
      expect(serverCodes).to.deep.equal({
        ...clientCodes,
        ...(counts.serverOpened > opened && { 1006: counts.serverOpened - opened }),
      });
      expect(aliveEarly, `peers, ws sockets and TCP sockets not collected after ${CHECKPOINT} cycles`).to.equal(0);
      expect(alive, 'peers, ws sockets and TCP sockets not collected').to.equal(0);
      expect(internals, "listen()'s live peers and waiting peers").to.deep.equal({ live: 0, inbox: 0 });
      expect(serverListenersEnd, 'listeners on the http server').to.deep.equal(serverListenersAtStart);
      expect(processListenerCounts(), 'listeners on process').to.deep.equal(processListenersAtStart);
      expect(resourcesEarly, `handles and timers after ${CHECKPOINT} cycles`).to.deep.equal({});
      expect(resourcesLate, `handles and timers after ${CYCLES} cycles`).to.deep.equal({});
      expect(resourcesStopped, 'handles and timers once the server stopped').to.deep.equal({});
      expect(late.heapUsed - early.heapUsed, describeCheckpoints(early, late)).to.be.below(HEAP_GROWTH_BOUND);
    });
  });

  describe(`${CYCLES.toLocaleString('en-US')} subscribe/unsubscribe cycles on one peer`, () => {
    it('leave no subscriber in the peer, lose no packet and do not grow the heap', async () => {
      const { client, remote } = await openPair();
      const peer = remote;
      // The client counts what the peer sends it (the sendAll() and backpressure() cycles).
      let clientGot = 0;
      const clientReading = client.peer.packets$.subscribe({ next: () => clientGot++, error: () => {} });
      let stateValues = 0;
      let bufferedValues = 0;
      let closedValues = 0;
      let sent = 0;
      let taken = 0;
      let peerSent = 0;
      const problems: string[] = [];

      /** The client sends the next numbered packet. */
      const sendOne = (): void => {
        client.peer.sink.next(`p${sent++}`);
      };
      const arrived = async (): Promise<void> => {
        while (peer.getAvailablePacketCount() === 0) await turn();
      };
      /** Each packet must be the next one the client sent: none lost, repeated or out of order. */
      const take = (packet: Packet): void => {
        if (packet.data !== `p${taken}` && problems.length < 10)
          problems.push(`packet #${taken} was ${String(packet.data)}`);
        taken++;
      };

      /** One cycle: subscribe to each stream and unsubscribe, one of several ways by `c % 10`. */
      const cycle = async (c: number): Promise<void> => {
        const state = peer.state$.subscribe(() => stateValues++);
        const buffered = peer.bufferedAmount$.subscribe(() => bufferedValues++);
        const closed = peer.closed$.subscribe(() => closedValues++);
        switch (c % 10) {
          case 0: {
            // A packet waits, and a subscriber that comes takes it at once.
            sendOne();
            await arrived();
            peer.packets$.subscribe(take).unsubscribe();
            break;
          }
          case 3: {
            // A subscriber waits, and leaves from inside the delivery (firstValueFrom).
            const next = firstValueFrom(peer.packets$);
            sendOne();
            take(await next);
            break;
          }
          case 5: {
            // consumePackets(): the peer's inbox watchers.
            const handled = firstValueFrom(consumePackets(peer, (packet) => packet));
            sendOne();
            take(await handled);
            break;
          }
          case 7: {
            // The peer sends: sendAll() and backpressure() watch bufferedAmount$ and state$.
            await firstValueFrom(sendAll(peer, [`s${c}`]).pipe(toArray()));
            await new Promise<void>((resolve, reject) =>
              of(`b${c}`)
                .pipe(backpressure(peer))
                .subscribe({ next: (v) => peer.sink.next(v), complete: resolve, error: reject }),
            );
            peerSent += 2;
            break;
          }
          default: {
            // Nothing waits: subscribe and leave.
            peer.packets$.subscribe(take).unsubscribe();
          }
        }
        // In another order than they came.
        buffered.unsubscribe();
        state.unsubscribe();
        closed.unsubscribe();
      };

      const startedAt = performance.now();
      for (let c = 0; c < CHECKPOINT; c++) await cycle(c);
      const early = await checkpoint(CHECKPOINT, startedAt);
      const setsEarly = peerSets(peer);
      for (let c = CHECKPOINT; c < CYCLES; c++) await cycle(c);
      const late = await checkpoint(CYCLES, startedAt);
      const setsLate = peerSets(peer);
      // The client peer: openClient()'s connect() watches closed$, and clientReading takes packets.
      const clientSets = peerSets(client.peer);
      await until(5000, 'the client to get what the peer sent', () => clientGot === peerSent);

      // Closed: late subscribers get the end at once and are not kept.
      client.peer.close(1000, 'done');
      const info = await firstValueFrom(peer.closed$);
      const ends = await Promise.all([
        firstValueFrom(peer.state$.pipe(toArray())),
        firstValueFrom(peer.bufferedAmount$.pipe(toArray())),
        firstValueFrom(peer.closed$.pipe(toArray())),
        firstValueFrom(peer.packets$.pipe(toArray())),
      ]);
      const setsClosed = peerSets(peer);
      clientReading.unsubscribe();

      console.log(
        [
          `      ${CYCLES} cycles in ${Math.round(late.ms)} ms: state$ ${stateValues} values, bufferedAmount$ ${bufferedValues}, ` +
            `closed$ ${closedValues}; packets taken ${taken} of ${sent} sent; the peer sent ${peerSent}`,
          `      ${describeCheckpoints(early, late)}`,
          `      peer sets at ${CHECKPOINT}: ${JSON.stringify(setsEarly)}; at ${CYCLES}: ${JSON.stringify(setsLate)}; ` +
            `closed: ${JSON.stringify(setsClosed)}`,
        ].join('\n'),
      );

      expect(problems, 'packets in order, none lost').to.deep.equal([]);
      expect(taken).to.equal(sent);
      expect(stateValues).to.equal(CYCLES);
      expect(bufferedValues).to.be.at.least(CYCLES);
      expect(closedValues).to.equal(0);
      expect(clientGot).to.equal(peerSent);
      expect(setsEarly).to.deep.equal(OPEN_PEER_SETS);
      expect(setsLate).to.deep.equal(OPEN_PEER_SETS);
      expect(clientSets).to.deep.equal({ ...OPEN_PEER_SETS, takers: 1 });
      expect(info).to.deep.equal({ code: 1000, reason: 'done', wasClean: true });
      expect(ends).to.deep.equal([['closed'], [0], [info], []]);
      expect(setsClosed).to.deep.equal(EMPTY_PEER_SETS);
      expect(late.heapUsed - early.heapUsed, describeCheckpoints(early, late)).to.be.below(HEAP_GROWTH_BOUND);
    });
  });
});
