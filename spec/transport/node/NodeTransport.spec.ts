import type { Socket } from 'node:net';
import { expect } from 'chai';
import type { Transport } from '../../../src/peer/Transport.js';
import { NodeTransport } from '../../../src/transport/node/NodeTransport.js';
import {
  kinds,
  openPair,
  recorder,
  type TransportEvent,
  until,
  upgradeHost,
  type UpgradeHost,
} from './transportHelpers.js';

/** The `ws` socket and TCP socket under a transport, to see what it leaves on them. */
function internals(transport: Transport): {
  ws: { handler: unknown; listenerCount(event: string): number };
  socket: Socket;
} {
  return transport as unknown as { ws: { handler: unknown; listenerCount(event: string): number }; socket: Socket };
}

const text = (data: string): TransportEvent => ['message', { isString: true, data }, Buffer.byteLength(data)];
const binary = (data: Uint8Array): TransportEvent => ['message', { isString: false, data }, data.byteLength];

/**
 * NodeTransport at its port (src/peer/Transport.ts), with no peer over it: a client transport and
 * the server transport it reached, each bound to handlers that record every call.
 */
describe('NodeTransport', () => {
  let host: UpgradeHost;
  const open: Transport[] = [];

  before(async () => {
    host = await upgradeHost({ protocols: ['chat'], headers: { 'X-Served-By': 'spec' } });
  });

  after(async () => {
    await host.close();
  });

  afterEach(() => {
    for (const transport of open) transport.terminate();
    open.length = 0;
  });

  async function pair(watchAlive = false) {
    const { client, server, serverSocket } = await openPair(host, { protocols: ['chat'] });
    open.push(client, server);
    const c = recorder();
    const s = recorder();
    client.bind(c.handlers, watchAlive);
    server.bind(s.handlers, watchAlive);
    return { client, server, serverSocket, c: c.events, s: s.events };
  }

  it('tells its other side, the subprotocol, the handshake, and that it sends every close code', async () => {
    const { client, server, serverSocket } = await pair();
    expect(client).to.be.instanceOf(NodeTransport);
    expect(server).to.be.instanceOf(NodeTransport);
    expect(client.remoteHost).to.equal('127.0.0.1');
    expect(client.remotePort).to.equal(serverSocket.localPort);
    expect(server.remoteHost).to.equal('127.0.0.1');
    expect(server.remotePort).to.equal(serverSocket.remotePort);
    expect([client.protocol, server.protocol]).to.deep.equal(['chat', 'chat']);
    expect(client.handshake.url).to.equal(host.url);
    expect(client.handshake.headers['x-served-by'], 'a response header').to.equal('spec');
    expect(server.handshake.url).to.equal('/');
    expect(server.handshake.headers['sec-websocket-protocol'], 'a request header').to.equal('chat');
    expect([client.closeCodes, server.closeCodes]).to.deep.equal(['all', 'all']);
    for (const transport of [client, server]) {
      for (const capability of ['pause', 'resume', 'setNoDelay', 'ping'] as const) {
        expect(transport[capability], capability).to.be.a('function');
      }
    }
  });

  it('gives an IPv4 client of a dual-stack server as plain 127.0.0.1, not ::ffff:127.0.0.1', async () => {
    let dual: UpgradeHost;
    try {
      dual = await upgradeHost({}, { host: '::' });
    } catch (error) {
      throw new Error("this spec needs IPv6 on this machine: listening on '::' failed", { cause: error });
    }
    try {
      const { client, serverSocket } = await openPair(dual);
      open.push(client);
      expect(serverSocket.remoteAddress).to.equal('::ffff:127.0.0.1');
      expect((dual.accepted[0] as { transport: Transport }).transport.remoteHost).to.equal('127.0.0.1');
      (dual.accepted[0] as { transport: Transport }).transport.terminate();
    } finally {
      await dual.close();
    }
  });

  it('delivers messages in order, each once, text as strings and binary as plain Uint8Arrays', async () => {
    const { client, server, c, s } = await pair();
    const bytes = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
    client.send('é€😀', true);
    client.send(bytes, false);
    client.send('', true);
    client.send(new Uint8Array(70_000).fill(7), false);
    server.send('back', true);
    await until(() => s.filter((e) => e[0] === 'message').length === 4, 'four messages');
    await until(() => c.some((e) => e[0] === 'message'), 'the answer');
    expect(s.filter((e) => e[0] === 'message')).to.deep.equal([
      text('é€😀'),
      binary(bytes),
      text(''),
      binary(new Uint8Array(70_000).fill(7)),
    ]);
    const packet = (s.filter((e) => e[0] === 'message')[1] as ['message', { data: Uint8Array }, number])[1];
    expect(Object.getPrototypeOf(packet.data), 'not a Buffer').to.equal(Uint8Array.prototype);
    expect(c.filter((e) => e[0] === 'message')).to.deep.equal([text('back')]);
  });

  it('calls written once per message, never from within send()', async () => {
    const { client, server, c, s } = await pair();
    let sent = 0;
    for (const [i, data] of ['a', new Uint8Array(100), 'x'.repeat(20_000), new Uint8Array(200_000)].entries()) {
      expect(client.send(data, i % 2 === 0), `unwritten bytes of message ${i}`).to.be.a('number');
      sent++;
      expect(
        c.filter((e) => e[0] === 'written'),
        'written, synchronously',
      ).to.have.length(0);
    }
    server.send('one', true);
    expect(s).to.deep.equal([]);
    await until(() => c.filter((e) => e[0] === 'written').length === sent, 'every message written');
    await until(() => s.filter((e) => e[0] === 'written').length === 1, "the server's message written");
    await until(() => s.filter((e) => e[0] === 'message').length === sent, 'every message read');
    expect(client.queuedBytes()).to.equal(0);
  });

  it('send() returns 0 while the socket takes the frame at once; the bytes it holds otherwise, as queuedBytes() does', async () => {
    const { client, server, c } = await pair();
    expect(client.send('small', true)).to.equal(0);
    // The other side stops reading: the kernel's buffers fill, and the rest waits in the process.
    server.pause?.();
    const chunk = new Uint8Array(1024 * 1024);
    let sends = 1;
    let unwritten = 0;
    while (unwritten === 0 && sends < 64) {
      unwritten = client.send(chunk, false);
      sends++;
    }
    expect(unwritten, 'unwritten bytes of the first message that waits').to.be.within(1, chunk.byteLength);
    expect(client.queuedBytes()).to.be.at.least(unwritten);
    server.resume?.();
    await until(() => c.filter((e) => e[0] === 'written').length === sends, 'written for each message', 10_000);
    expect(client.queuedBytes()).to.equal(0);
  });

  it('pause() stops delivering messages, resume() delivers those that waited, in order', async () => {
    const { client, server, s } = await pair();
    server.pause?.();
    for (const data of ['1', '2', '3']) client.send(data, true);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(
      s.filter((e) => e[0] === 'message'),
      'while paused',
    ).to.deep.equal([]);
    server.resume?.();
    await until(() => s.filter((e) => e[0] === 'message').length === 3, 'the messages that waited');
    expect(s.filter((e) => e[0] === 'message')).to.deep.equal([text('1'), text('2'), text('3')]);
  });

  it('close(): closing once on each side, with the code that started it, then close, clean; nothing after', async () => {
    const { client, server, c, s } = await pair();
    server.send('before', true);
    client.close(4000, 'bye');
    expect(c, 'closing, synchronously').to.deep.equal([['closing', 4000, 'bye']]);
    await until(() => c.some((e) => e[0] === 'close') && s.some((e) => e[0] === 'close'), 'both to close');
    // What arrived before the close frame is still delivered.
    expect(c).to.deep.equal([['closing', 4000, 'bye'], text('before'), ['close', 4000, 'bye', true]]);
    expect(s.filter((e) => e[0] === 'closing' || e[0] === 'close')).to.deep.equal([
      ['closing', 4000, 'bye'],
      ['close', 4000, 'bye', true],
    ]);
    expect(c.at(-1)?.[0], 'the last call').to.equal('close');
    expect(s.at(-1)?.[0], 'the last call').to.equal('close');
    const counts = [c.length, s.length];
    client.close(1000, 'again');
    server.terminate();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect([c.length, s.length], 'calls after close').to.deep.equal(counts);
  });

  it('terminate(): no closing handshake, close 1006 not clean on both sides', async () => {
    const { client, c, s } = await pair();
    client.terminate();
    await until(() => c.some((e) => e[0] === 'close') && s.some((e) => e[0] === 'close'), 'both to close');
    expect(c.filter((e) => e[0] !== 'error')).to.deep.equal([['close', 1006, '', false]]);
    expect(s.filter((e) => e[0] !== 'error')).to.deep.equal([['close', 1006, '', false]]);
  });

  it('a message over maxPayload: closing with 1009 and the error, then close, on the side that refuses it', async () => {
    const small = await upgradeHost({ maxPayload: 1024 });
    try {
      const { client, server } = await openPair(small);
      open.push(client, server);
      const c = recorder();
      const s = recorder();
      client.bind(c.handlers, false);
      server.bind(s.handlers, false);
      client.send(new Uint8Array(2048), false);
      await until(() => s.events.some((e) => e[0] === 'close'), 'the server side to close');
      // ws fails the connection: it starts the closing handshake with 1009, reports the error, and
      // stops reading, so the other side's close frame is never read: 1006 here, not clean (a
      // peer reports the 1009 that started the close).
      expect(kinds(s.events)).to.deep.equal(['closing', 'error', 'close']);
      expect(s.events[0]).to.deep.equal(['closing', 1009, '']);
      expect(s.events[1]?.[1]).to.have.property('code', 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
      expect(s.events[2]).to.deep.equal(['close', 1006, '', false]);
      await until(() => c.events.some((e) => e[0] === 'close'), 'the client side to close');
      expect(c.events.filter((e) => e[0] !== 'written')).to.deep.equal([
        ['closing', 1009, ''],
        ['close', 1009, '', true],
      ]);
    } finally {
      await small.close();
    }
  });

  it('with watchAlive: alive on each read, a pong too; without it, never', async () => {
    const watched = await pair(true);
    watched.client.ping?.();
    await until(() => watched.c.some((e) => e[0] === 'alive'), 'the pong to count as life');
    expect(kinds(watched.s), 'the ping, read by the server').to.include('alive');
    watched.client.send('hi', true);
    await until(() => watched.s.some((e) => e[0] === 'message'), 'the message');
    expect(kinds(watched.c).filter((k) => k !== 'written')).to.deep.equal(['alive']);

    const unwatched = await pair(false);
    unwatched.client.ping?.();
    unwatched.client.send('hi', true);
    await until(() => unwatched.s.some((e) => e[0] === 'message'), 'the message');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(kinds(unwatched.c)).not.to.include('alive');
    expect(kinds(unwatched.s)).not.to.include('alive');
  });

  it('leaves no listener behind: its handler and its data listener go with the close', async () => {
    const { client, server, serverSocket, c, s } = await pair(true);
    const tcp = internals(client).socket;
    for (const transport of [client, server]) {
      expect(internals(transport).ws.handler, 'bound').to.equal(transport);
    }
    const dataListeners = [tcp.listenerCount('data'), serverSocket.listenerCount('data')];
    client.close(1000, '');
    await until(() => c.some((e) => e[0] === 'close') && s.some((e) => e[0] === 'close'), 'both to close');
    for (const transport of [client, server]) {
      const { ws } = internals(transport);
      expect(ws.handler, 'the handler').to.equal(undefined);
      for (const event of ['message', 'error', 'close', 'open', 'upgrade', 'unexpected-response', 'ping', 'pong']) {
        expect(ws.listenerCount(event), `ws '${event}' listeners`).to.equal(0);
      }
    }
    // Ours was one 'data' listener per socket (watchAlive); ws removes its own as it closes.
    expect(tcp.listenerCount('data')).to.be.below(dataListeners[0] as number);
    expect(serverSocket.listenerCount('data')).to.be.below(dataListeners[1] as number);
    expect(tcp.listenerCount('data') + serverSocket.listenerCount('data')).to.equal(0);
  });
});
