import { once } from 'node:events';
import { type AddressInfo, connect as tcpConnect, createServer, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { expect } from 'chai';
import sinon from 'sinon';
import { HandshakeDeadlines } from '../../src/observables/handshakeDeadlines.js';

/**
 * Real TCP connections on 127.0.0.1, with a fake clock for the deadlines: sockets do their I/O
 * as ever, and only setTimeout, clearTimeout and performance.now() are the test's.
 */
describe('HandshakeDeadlines', () => {
  let server: Server;
  let clock: sinon.SinonFakeTimers | undefined;
  const accepted: Socket[] = [];
  const clients: Socket[] = [];
  let waiting: Array<() => void> = [];

  before(async () => {
    server = createServer((socket) => {
      socket.on('error', () => {});
      accepted.push(socket);
      for (const wake of waiting) wake();
      waiting = [];
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  });

  after(async () => {
    server.close();
  });

  afterEach(() => {
    clock?.restore();
    clock = undefined;
    for (const socket of [...accepted, ...clients]) socket.destroy();
    accepted.length = 0;
    clients.length = 0;
  });

  /** The server's side of a new TCP connection from 127.0.0.1. */
  async function accept(): Promise<Socket> {
    const before = accepted.length;
    const client = tcpConnect((server.address() as AddressInfo).port, '127.0.0.1');
    client.on('error', () => {});
    clients.push(client);
    while (accepted.length === before) await new Promise<void>((resolve) => waiting.push(resolve));
    return accepted[before] as Socket;
  }

  const fakeClock = (): sinon.SinonFakeTimers =>
    (clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] }));

  it('destroys a socket at its deadline, not before', async () => {
    const socket = await accept();
    const clock = fakeClock();
    const deadlines = new HandshakeDeadlines(300, false);
    deadlines.start(socket);
    clock.tick(299);
    expect(socket.destroyed).to.equal(false);
    expect(deadlines.size).to.equal(1);
    clock.tick(1);
    expect(socket.destroyed).to.equal(true);
    expect(deadlines.size).to.equal(0);
    expect(clock.countTimers(), 'timers left').to.equal(0);
  });

  it('times each socket from its own start, with one timer for all of them', async () => {
    const sockets = [await accept(), await accept(), await accept()];
    const clock = fakeClock();
    const deadlines = new HandshakeDeadlines(300, false);
    deadlines.start(sockets[0] as Socket);
    clock.tick(100);
    deadlines.start(sockets[1] as Socket);
    clock.tick(100);
    deadlines.start(sockets[2] as Socket);
    expect(clock.countTimers(), 'timers, three handshakes under way').to.equal(1);
    const destroyed = (): boolean[] => sockets.map((socket) => socket.destroyed);
    clock.tick(100); // t = 300
    expect(destroyed()).to.deep.equal([true, false, false]);
    expect(clock.countTimers()).to.equal(1);
    clock.tick(99); // t = 399
    expect(destroyed()).to.deep.equal([true, false, false]);
    clock.tick(1); // t = 400
    expect(destroyed()).to.deep.equal([true, true, false]);
    clock.tick(100); // t = 500
    expect(destroyed()).to.deep.equal([true, true, true]);
    expect(clock.countTimers(), 'timers, none under way').to.equal(0);
  });

  it('forgets a socket that is done, and leaves no timer once none is under way', async () => {
    const [first, second] = [await accept(), await accept()];
    const clock = fakeClock();
    const deadlines = new HandshakeDeadlines(300, false);
    const closeListeners = first.listenerCount('close');
    deadlines.start(first);
    deadlines.start(second);
    expect(first.listenerCount('close')).to.equal(closeListeners + 1);
    deadlines.done(first);
    expect(first.listenerCount('close'), 'its close listener gone').to.equal(closeListeners);
    expect(deadlines.size).to.equal(1);
    expect(clock.countTimers()).to.equal(1);
    deadlines.done(second);
    expect(clock.countTimers(), 'timers, none under way').to.equal(0);
    clock.tick(1000);
    expect([first.destroyed, second.destroyed]).to.deep.equal([false, false]);
    deadlines.done(first); // again: nothing
    expect(deadlines.size).to.equal(0);
  });

  it('forgets a socket that closes by itself', async () => {
    const socket = await accept();
    const clock = fakeClock();
    const deadlines = new HandshakeDeadlines(300, false);
    deadlines.start(socket);
    const closed = once(socket, 'close');
    (clients[0] as Socket).destroy();
    await closed;
    expect(deadlines.size).to.equal(0);
    expect(clock.countTimers(), 'timers left').to.equal(0);
  });

  it('over TLS, knows the TLS socket that upgrades by the TCP socket it wraps', async () => {
    const [tcp, other] = [await accept(), await accept()];
    const clock = fakeClock();
    const deadlines = new HandshakeDeadlines(300, true);
    deadlines.start(tcp);
    deadlines.start(other);
    // What an https server's 'upgrade' hands over: a TLS socket over the TCP socket of 'connection'.
    const tls = new TLSSocket(tcp, { isServer: true });
    tls.on('error', () => {});
    deadlines.done(tls);
    expect(deadlines.size).to.equal(1);
    clock.tick(300);
    expect(tcp.destroyed, 'the upgraded one').to.equal(false);
    expect(other.destroyed, 'the other one').to.equal(true);
    expect(clock.countTimers()).to.equal(0);
    // Nor is anything left in the index by address (the one thing here a test must peek at).
    expect((deadlines as any).byAddress.size, 'sockets indexed by address').to.equal(0);
    tls.destroy();
  });

  it('without TLS, does not match sockets by address', async () => {
    const tcp = await accept();
    fakeClock();
    const deadlines = new HandshakeDeadlines(300, false);
    deadlines.start(tcp);
    const tls = new TLSSocket(tcp, { isServer: true });
    tls.on('error', () => {});
    deadlines.done(tls);
    expect(deadlines.size).to.equal(1);
    tls.destroy();
  });

  it('dropAll() destroys every socket under way, and the timer goes with them', async () => {
    const sockets = [await accept(), await accept()];
    const clock = fakeClock();
    const deadlines = new HandshakeDeadlines(60_000, false);
    for (const socket of sockets) deadlines.start(socket);
    deadlines.dropAll();
    expect(sockets.map((socket) => socket.destroyed)).to.deep.equal([true, true]);
    expect(deadlines.size).to.equal(0);
    expect(clock.countTimers()).to.equal(0);
  });
});
