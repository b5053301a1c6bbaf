import { type ChildProcess, spawn } from 'node:child_process';
import {
  createServer as createHttpServer,
  type IncomingHttpHeaders,
  request,
  type Server as HttpServer,
} from 'node:http';
import { createRequire } from 'node:module';
import { connect as tcpConnect, createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { expect } from 'chai';
import { catchError, EMPTY, firstValueFrom, mergeMap, Subscription, switchMap, take, tap } from 'rxjs';
import { connect } from '../../src/observables/connect.js';
import { listen, type ListenOptions } from '../../src/observables/listen.js';
import type { PeerServer } from '../../src/observables/PeerServer.js';
import { WriteMode } from '../../src/peer/constants.js';
import type { Packet } from '../../src/peer/types.js';
import { WebSocketCloseError } from '../../src/errors/WebSocketCloseError.js';
import type { WebSocketPeer } from '../../src/peer/WebSocketPeer.js';
import { WebSocketPeerError } from '../../src/errors/WebSocketPeerError.js';
import { reconnecting } from '../../src/reconnect/reconnecting.js';
import { closePayload, frame, Opcode, RawClient } from '../fixtures/rawWebSocket.js';
import {
  collect,
  delay,
  internalsOf,
  openClient,
  startServer,
  stopAll,
  takeValues,
  expectInvalidOption,
} from '../helpers.js';

/** What each test must undo, most recent first, even when it fails. */
const cleanups: Array<() => void | Promise<void>> = [];

/** Subscribes to `listen(options)` as given (no host or port added), until the test ends. */
function listening(options: ListenOptions): Promise<{ server: PeerServer; subscription: Subscription }> {
  return new Promise((resolve, reject) => {
    // A holder made first: an attached server that already listens emits during subscribe().
    const subscription = new Subscription();
    cleanups.push(() => subscription.unsubscribe());
    subscription.add(listen(options).subscribe({ next: (server) => resolve({ server, subscription }), error: reject }));
  });
}

/** How `listen(options)` ended before it emitted. */
function listenFailure(options: ListenOptions): Promise<WebSocketPeerError> {
  return new Promise((resolve, reject) => {
    const subscription = listen(options).subscribe({
      next: () => reject(new Error('it listened')),
      error: resolve,
      complete: () => reject(new Error('it completed')),
    });
    cleanups.push(() => subscription.unsubscribe());
  });
}

/** How `connect(url)` ended before it opened. */
function connectFailure(url: string): Promise<WebSocketPeerError> {
  return new Promise((resolve, reject) => {
    connect(url).subscribe({
      next: () => reject(new Error('it opened')),
      error: resolve,
      complete: () => reject(new Error('it completed')),
    });
  });
}

/** A plain HTTP GET on its own connection (no keep-alive agent left behind). */
function httpGet(port: number, path = '/'): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** An http server of the test's own, closed when the test ends. */
function ownHttpServer(): HttpServer {
  const server = createHttpServer((_request, response) => {
    response.writeHead(200, { 'Content-Type': 'text/plain' });
    response.end('own handler');
  });
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return server;
}

function listenOn(server: HttpServer | TcpServer, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as { port: number }).port);
    });
  });
}

/** Rejects with a message saying what did not happen in time. */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function until(what: string, check: () => boolean, ms = 3000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(5);
  }
}

const text = (packet: Packet | undefined): unknown => packet?.data;

describe('listen()', () => {
  afterEach(async () => {
    stopAll();
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('tells where it listens: PeerServer.host and the port the OS chose for port 0', async () => {
    const { server, url } = await startServer({ host: '127.0.0.1', port: 0 });
    expect(server.host).to.equal('127.0.0.1');
    expect(server.port).to.be.a('number').and.to.be.greaterThan(0);
    expect(url).to.equal(`ws://127.0.0.1:${server.port}`);
    const client = await openClient(url);
    expect(client.peer.getConnectedPort()).to.equal(server.port);
  });

  it("binds like Node's http server with no host, and reports an IPv4 client as plain 127.0.0.1", async () => {
    const { server } = await listening({ port: 0 });
    expect(server.host).to.equal('::'); // dual-stack, as http.createServer().listen(0) binds here
    const remoteOpened = firstValueFrom(server.peers$);
    const client = await openClient(`ws://127.0.0.1:${server.port}`);
    const remote = await remoteOpened;
    expect(remote.getConnectedHost()).to.equal('127.0.0.1');
    expect(client.peer.getConnectedHost()).to.equal('127.0.0.1');
    expect(client.peer.getConnectedPort()).to.equal(server.port);
    expect(remote.getConnectedPort()).to.equal(internalsOf(client.peer).socket.localPort);
  });

  it("accepts upgrades only on 'path' (query allowed), refusing others with 404", async () => {
    const { url, nextPeer } = await startServer({ path: '/chat' });
    const refused = await connectFailure(`${url}/elsewhere`);
    expect(refused).to.be.instanceOf(WebSocketPeerError);
    expect(refused.code).to.equal('ERR_HANDSHAKE_REJECTED');
    expect(refused.statusCode).to.equal(404);
    const remoteOpened = nextPeer();
    const client = await openClient(`${url}/chat?room=1&x=y`);
    const remote = await remoteOpened;
    expect(client.peer.isConnectedToHost()).to.equal(true);
    expect(remote.handshake.url).to.equal('/chat?room=1&x=y');
  });

  it('survives a client that resets right after asking to upgrade on another path', async () => {
    const { url, nextPeer, server } = await startServer({ path: '/chat' });
    for (let i = 0; i < 5; i++) {
      const socket = tcpConnect(server.port, '127.0.0.1');
      socket.on('error', () => {});
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write(
        'GET /elsewhere HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
      socket.resetAndDestroy();
      await delay(10);
    }
    // Had the 404 write failed unheard, mocha would have failed this test with an uncaught ECONNRESET.
    const remoteOpened = nextPeer();
    await openClient(`${url}/chat`);
    expect((await remoteOpened).isConnectedToHost()).to.equal(true);
  });

  it('drops a refused socket once the 404 is out, even if the client never closes its side', async () => {
    const http = ownHttpServer();
    const port = await listenOn(http);
    await listening({ server: http, path: '/chat' });
    // allowHalfOpen: a plain socket would end its side as soon as the server's FIN came in.
    const socket = tcpConnect({ port, host: '127.0.0.1', allowHalfOpen: true });
    socket.on('error', () => {});
    cleanups.push(() => void socket.destroy());
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    const ended = new Promise((resolve) => socket.once('end', resolve));
    socket.write(
      'GET /elsewhere HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await ended; // we never end our side
    expect(answer).to.match(/^HTTP\/1\.1 404 /);
    const connections = (): Promise<number> =>
      new Promise((resolve, reject) => http.getConnections((error, count) => (error ? reject(error) : resolve(count))));
    for (let i = 0; i < 50 && (await connections()) > 0; i++) await delay(10);
    expect(await connections()).to.equal(0);
  });

  it('answers a plain HTTP request with 426 and Upgrade: websocket', async () => {
    const { server } = await startServer();
    const response = await httpGet(server.port, '/');
    expect(response.status).to.equal(426);
    expect(response.headers['upgrade']).to.equal('websocket');
  });

  describe("the 'server' option", () => {
    it('attaches to a listening http server: peers connect and packets flow', async () => {
      const http = ownHttpServer();
      const port = await listenOn(http);
      const { server } = await listening({ server: http });
      expect(server.port).to.equal(port);
      expect(server.host).to.equal('127.0.0.1');
      const remoteOpened = firstValueFrom(server.peers$);
      const client = await openClient(`ws://127.0.0.1:${port}/any`);
      const remote = await remoteOpened;
      client.peer.sink.next('ping');
      expect(text((await takeValues(remote.packets$, 1))[0])).to.equal('ping');
      remote.sink.next('pong');
      expect(text((await takeValues(client.peer.packets$, 1))[0])).to.equal('pong');
    });

    it("leaves the http server's own requests to its handler", async () => {
      const http = ownHttpServer();
      const port = await listenOn(http);
      await listening({ server: http });
      const response = await httpGet(port, '/page');
      expect(response.status).to.equal(200);
      expect(response.body).to.equal('own handler');
    });

    it('leaves the http server listening, with its upgrade listeners as before, once unsubscribed', async () => {
      const http = ownHttpServer();
      const port = await listenOn(http);
      const upgradeListenersBefore = http.listenerCount('upgrade');
      const { server, subscription } = await listening({ server: http });
      expect(http.listenerCount('upgrade')).to.equal(upgradeListenersBefore + 1);
      const remoteOpened = firstValueFrom(server.peers$);
      const client = await openClient(`ws://127.0.0.1:${port}`);
      await remoteOpened;
      subscription.unsubscribe();
      expect(http.listening).to.equal(true);
      expect(http.listenerCount('upgrade')).to.equal(upgradeListenersBefore);
      expect((await takeValues(client.peer.closed$, 1))[0]?.code).to.equal(1001);
      expect((await httpGet(port)).body).to.equal('own handler');
    });

    it('emits the PeerServer once an http server that was not listening yet starts to', async () => {
      const http = ownHttpServer();
      const emitted: PeerServer[] = [];
      const subscription = listen({ server: http }).subscribe((server) => emitted.push(server));
      cleanups.push(() => subscription.unsubscribe());
      await delay(20);
      expect(emitted).to.have.length(0);
      const port = await listenOn(http);
      await until('the PeerServer', () => emitted.length > 0);
      expect(emitted).to.have.length(1);
      expect(emitted[0]?.port).to.equal(port);
      const remoteOpened = firstValueFrom((emitted[0] as PeerServer).peers$);
      await openClient(`ws://127.0.0.1:${port}`);
      expect((await remoteOpened).isConnectedToHost()).to.equal(true);
    });

    it("throws ERR_INVALID_OPTION when given with 'port' or 'host'", () => {
      const http = createHttpServer();
      expect(() => listen({ server: http, port: 1 }))
        .to.throw(TypeError)
        .with.property('code', 'ERR_INVALID_OPTION');
      expect(() => listen({ server: http, host: '127.0.0.1' }))
        .to.throw(TypeError)
        .with.property('code', 'ERR_INVALID_OPTION');
    });
  });

  it('errors with ERR_LISTEN_FAILED (cause EADDRINUSE) when the port is taken', async () => {
    const taken = createTcpServer();
    cleanups.push(() => new Promise<void>((resolve) => taken.close(() => resolve())));
    const port = await listenOn(taken);
    const error = await listenFailure({ host: '127.0.0.1', port });
    expect(error).to.be.instanceOf(WebSocketPeerError);
    expect(error.code).to.equal('ERR_LISTEN_FAILED');
    expect(error.cause).to.have.property('code', 'EADDRINUSE');
  });

  it('keeps peers that open before anyone subscribes to peers$ for the first subscriber, in order', async () => {
    const { server, url } = await startServer();
    for (const index of [0, 1, 2]) {
      const client = await openClient(url);
      client.peer.sink.next(String(index));
    }
    await delay(50);
    const peers = await within(2000, 'three waiting peers', takeValues(server.peers$, 3));
    const firsts = await Promise.all(peers.map(async (peer) => text((await takeValues(peer.packets$, 1))[0])));
    expect(firsts).to.deep.equal(['0', '1', '2']);
    for (const peer of peers) expect(await takeValues(peer.state$, 1)).to.deep.equal(['open']);
  });

  it("selects the server's first preference among the client's subprotocols, and sends 'headers'", async () => {
    const { server, url } = await startServer({
      protocols: ['c', 'b', 'a'],
      headers: { 'X-Served-By': 'rx', 'X-Other': 'two' },
    });
    const remoteOpened = firstValueFrom(server.peers$);
    const client = await openClient(url, { protocols: ['a', 'b'] });
    const remote = await remoteOpened;
    expect(client.peer.getSelectedProtocol()).to.equal('b');
    expect(remote.getSelectedProtocol()).to.equal('b');
    expect(client.peer.handshake.headers['x-served-by']).to.equal('rx');
    expect(client.peer.handshake.headers['x-other']).to.equal('two');
  });

  it("closes with 1009 on both sides when a client's message exceeds maxPayload", async () => {
    const { server, url } = await startServer({ maxPayload: 1024 });
    const remoteOpened = firstValueFrom(server.peers$);
    const client = await openClient(url, { writeMode: WriteMode.Binary });
    const remote = await remoteOpened;
    client.peer.sink.next(new Uint8Array(1025));
    const [theirs] = await takeValues(remote.closed$, 1);
    const [ours] = await takeValues(client.peer.closed$, 1);
    expect(theirs?.code).to.equal(1009);
    expect(ours?.code).to.equal(1009);
  });

  describe('stop()', () => {
    /**
     * A client that writes numbered messages as fast as it can while its peer is open (a burst
     * per turn of the event loop, pausing while 1 MiB waits to be sent), and stops at 'closing'.
     */
    async function writer(url: string): Promise<{ port: number; written: () => number; ended: Promise<unknown> }> {
      const client = await openClient(url);
      let written = 0;
      const burst = (): void => {
        if (!client.peer.isConnectedToHost()) return;
        if (client.peer.getCurrentOutboundBufferedAmount() < 1024 * 1024) {
          for (let i = 0; i < 100 && client.peer.isConnectedToHost(); i++) client.peer.sink.next(String(written++));
        }
        setImmediate(burst);
      };
      burst();
      const port = internalsOf(client.peer).socket.localPort ?? 0;
      return { port, written: () => written, ended: client.ended };
    }

    /** The README's server: one pipeline, each peer's packets handled in a mergeMap. */
    function oneLineServer(port = 0): {
      started: Promise<PeerServer>;
      received: Map<number, string[]>;
      ended: Promise<unknown>;
      subscription: Subscription;
    } {
      const received = new Map<number, string[]>();
      let started!: (server: PeerServer) => void;
      let settle!: (how: unknown) => void;
      const ended = new Promise((resolve) => (settle = resolve));
      const subscription = listen({ host: '127.0.0.1', port })
        .pipe(
          tap((server) => started(server)),
          switchMap((server) => server.peers$),
          mergeMap((peer) => {
            const mine: string[] = [];
            received.set(peer.getConnectedPort(), mine);
            return peer.packets$.pipe(
              tap((packet) => mine.push(packet.data as string)),
              catchError(() => EMPTY),
            );
          }),
        )
        .subscribe({ complete: () => settle('complete'), error: settle });
      cleanups.push(() => subscription.unsubscribe());
      return { started: new Promise((resolve) => (started = resolve)), received, ended, subscription };
    }

    it("loses nothing with the README's one-pipeline server: every message written while open reaches the handler, in order", async function () {
      this.timeout(20_000);
      for (let run = 0; run < 3; run++) {
        const { started, received, ended } = oneLineServer();
        const server = await started;
        const clients = await Promise.all(Array.from({ length: 8 }, () => writer(`ws://127.0.0.1:${server.port}`)));
        await delay(100);
        server.stop();
        expect(await within(5000, 'listen() to complete', ended)).to.equal('complete');
        let total = 0;
        for (const [i, client] of clients.entries()) {
          const error = await client.ended;
          expect(error, 'the client saw 1001').to.be.instanceOf(WebSocketCloseError).and.include({ code: 1001 });
          const got = received.get(client.port) ?? [];
          const written = client.written();
          expect(got.length, `run ${run}, client ${i}`).to.equal(written);
          expect(
            got.every((data, n) => data === String(n)),
            'in order',
          ).to.equal(true);
          total += written;
        }
        expect(total).to.be.above(1000);
      }
    });

    it('refuses new connections while stopping (its own port closed, 503 on an attached server), and ends once the last peer has closed', async () => {
      const http = ownHttpServer();
      const port = await listenOn(http);
      const servers: PeerServer[] = [];
      const attached = collect(listen({ server: http }).pipe(tap((server) => servers.push(server))));
      await until('the PeerServer', () => servers.length === 1);
      const peers = collect((servers[0] as PeerServer).peers$);
      // A client that does not answer the close frame keeps its peer 'closing'.
      const raw = await RawClient.open(port);
      expect((await raw.handshake()).status).to.equal(101);
      await until('the peer', () => peers.values.length === 1);
      const peer = peers.values[0] as WebSocketPeer;
      const packets = collect(peer.packets$);
      servers[0]?.stop(4001, 'maintenance');
      await raw.until('the close frame', () => raw.received.length >= 4);
      expect(await takeValues(peer.state$, 1)).to.deep.equal(['closing']);
      // Still delivered: it came before the closing handshake ended.
      raw.write(frame({ opcode: Opcode.Text, payload: Buffer.from('late'), mask: true }));
      const refused = await connectFailure(`ws://127.0.0.1:${port}`);
      expect(refused).to.include({ code: 'ERR_HANDSHAKE_REJECTED', statusCode: 503 });
      await delay(20);
      expect(attached.values).to.have.length(1);
      expect(await Promise.race([attached.done.then(() => 'ended'), delay(50).then(() => 'running')])).to.equal(
        'running',
      );
      raw.write(frame({ opcode: Opcode.Close, payload: closePayload(4001), mask: true }));
      expect(await within(2000, 'listen() to complete', attached.done)).to.deep.equal({});
      expect(await peers.done).to.deep.equal({});
      const { error } = await packets.done;
      expect(packets.values.map(text)).to.deep.equal(['late']);
      expect(error).to.be.instanceOf(WebSocketCloseError).and.include({ code: 4001, reason: 'maintenance' });
      expect(http.listening, 'an attached server keeps running').to.equal(true);
    });

    it('stops its own server: the port refuses at once, and is free once listen() completes', async () => {
      const { started, ended } = oneLineServer();
      const server = await started;
      const client = await openClient(`ws://127.0.0.1:${server.port}`);
      server.stop();
      const refused = await connectFailure(`ws://127.0.0.1:${server.port}`);
      expect(refused.code).to.equal('ERR_CONNECT_FAILED');
      expect(refused.cause).to.have.property('code', 'ECONNREFUSED');
      expect(await within(2000, 'listen() to complete', ended)).to.equal('complete');
      expect(await client.ended).to.include({ code: 1001, wasClean: true });
      const again = await within(2000, 'listening again', listening({ host: '127.0.0.1', port: server.port }));
      expect(again.server.port).to.equal(server.port);
    });

    it('completes at once with no peer; a second stop() does nothing; a bad code throws and the server goes on', async () => {
      const { started, ended } = oneLineServer();
      const server = await started;
      expect(() => server.stop(1005))
        .to.throw(RangeError)
        .with.property('code', 'ERR_INVALID_CLOSE_CODE');
      expect(() => server.stop(1000, 'x'.repeat(124)))
        .to.throw(RangeError)
        .with.property('code', 'ERR_INVALID_CLOSE_REASON');
      const client = await openClient(`ws://127.0.0.1:${server.port}`);
      client.peer.close();
      await client.ended;
      server.stop();
      server.stop(4000);
      expect(await within(1000, 'listen() to complete', ended)).to.equal('complete');
      const late = collect(server.peers$);
      expect(await late.done).to.deep.equal({});
    });

    it("the FAQ's take(1) pitfall: take(1) on the listen() pipeline closes the taken peer with 1001; on a kept server's peers$ it stays open", async () => {
      const { server, url } = await startServer();
      const taken = firstValueFrom(
        listen({ host: '127.0.0.1', port: 0 }).pipe(
          switchMap((s) => {
            void openClient(`ws://127.0.0.1:${s.port}`);
            return s.peers$;
          }),
          take(1),
        ),
      );
      const peer = await taken;
      expect((await takeValues(peer.closed$, 1))[0]).to.include({ code: 1001 });
      const kept = firstValueFrom(server.peers$.pipe(take(1)));
      await openClient(url);
      const keptPeer = await kept;
      await delay(20);
      expect(keptPeer.isConnectedToHost()).to.equal(true);
    });

    it('reconnecting() clients lose nothing across a stop() and a restart on the same port', async function () {
      this.timeout(20_000);
      const first = oneLineServer();
      const { port } = await first.started;
      const connection = reconnecting(`ws://127.0.0.1:${port}`, { jitter: 0, initialDelay: 20, maxDelay: 20 });
      cleanups.push(() => connection.close());
      connection.open();
      await firstValueFrom(connection.peer$);
      let sent = 0;
      const writer = setInterval(() => {
        for (let i = 0; i < 20 && sent < 2000; i++) connection.send(String(sent++));
      }, 1);
      cleanups.push(() => clearInterval(writer));
      await until('500 sent', () => sent >= 500);
      (await first.started).stop();
      await within(5000, 'the first server to stop', first.ended);
      const second = oneLineServer(port);
      await second.started;
      await until('all sent', () => sent === 2000, 10_000);
      const all = (): string[] => [...first.received.values(), ...second.received.values()].flat();
      await until('all received', () => all().length >= 2000, 10_000);
      await delay(50);
      const got = all();
      expect(got.length).to.equal(2000);
      expect(got.every((data, n) => data === String(n))).to.equal(true);
      expect([...first.received.values()].flat().length).to.be.within(500, 1999);
    });
  });

  describe('unsubscribing', () => {
    it('closes live peers with 1001, ends their state$ at closed, completes peers$ and frees the port', async () => {
      const { server, url, subscription } = await startServer();
      const peers = collect(server.peers$);
      const clients = [await openClient(url), await openClient(url)];
      await until('two server peers', () => peers.values.length === 2);
      const states = peers.values.map((peer) => collect(peer.state$));
      subscription.unsubscribe();
      // The port is free at once: listening on it again works.
      const again = await within(2000, 'listening again', listening({ host: '127.0.0.1', port: server.port }));
      expect(again.server.port).to.equal(server.port);

      for (const client of clients) {
        const [info] = await takeValues(client.peer.closed$, 1);
        expect(info).to.deep.equal({ code: 1001, reason: '', wasClean: true });
      }
      for (const state of states) {
        expect(await state.done).to.deep.equal({});
        expect(state.values.at(-1)).to.equal('closed');
      }
      expect(await within(2000, 'peers$ to complete', peers.done)).to.deep.equal({});
    });

    it('closes with 1001 a peer that was still waiting in peers$', async () => {
      const { server, url, subscription } = await startServer();
      const client = await openClient(url);
      await delay(20); // its server peer now waits, untaken
      subscription.unsubscribe();
      expect((await takeValues(client.peer.closed$, 1))[0]?.code).to.equal(1001);
      const late = collect(server.peers$);
      expect(await late.done).to.deep.equal({});
      expect(late.values).to.have.length(1);
    });
  });

  it("the docstring's echo server survives one peer's TCP reset and keeps echoing to the others", async () => {
    const servers: PeerServer[] = [];
    const remotes: WebSocketPeer[] = [];
    let echoEnded = false;
    const echo = listen({ host: '127.0.0.1', port: 0 })
      .pipe(
        tap((server) => servers.push(server)),
        switchMap((server) => server.peers$),
        tap((peer) => remotes.push(peer)),
        mergeMap((peer) =>
          peer.packets$.pipe(
            tap(peer.sink),
            catchError(() => EMPTY),
          ),
        ),
      )
      .subscribe({ error: () => (echoEnded = true), complete: () => (echoEnded = true) });
    cleanups.push(() => echo.unsubscribe());
    await until('the server', () => servers.length === 1);
    const url = `ws://127.0.0.1:${servers[0]?.port}`;
    const doomed = await openClient(url);
    const survivor = await openClient(url);
    for (const client of [doomed, survivor]) {
      client.peer.sink.next('hello');
      expect(text((await takeValues(client.peer.packets$, 1))[0])).to.equal('hello');
    }
    const doomedPort = internalsOf(doomed.peer).socket.localPort;
    const doomedRemote = remotes.find((peer) => peer.getConnectedPort() === doomedPort) as WebSocketPeer;
    expect(doomedRemote).to.not.equal(undefined);

    internalsOf(doomed.peer).socket.resetAndDestroy();
    const [info] = await within(2000, "the reset peer's closed$", takeValues(doomedRemote.closed$, 1));
    expect(info).to.include({ code: 1006, wasClean: false });

    survivor.peer.sink.next('still there?');
    expect(text((await takeValues(survivor.peer.packets$, 1))[0])).to.equal('still there?');
    expect(echoEnded).to.equal(false);
  });

  describe('an abrupt end by a killed process', () => {
    const children: ChildProcess[] = [];
    afterEach(async () => {
      for (const child of children.splice(0)) {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGKILL');
          await exited;
        }
      }
    });

    it('gives 1006 not clean, and packets$ delivers what waited before erroring', async function () {
      this.timeout(8000);
      const { server, nextPeer } = await startServer();
      const remoteOpened = nextPeer();
      const wsPath = createRequire(import.meta.url).resolve('ws');
      const script = `
        const WebSocket = require(${JSON.stringify(wsPath)});
        const ws = new WebSocket('ws://127.0.0.1:${server.port}');
        ws.on('open', () => {
          ws.send('a');
          ws.send('b');
          ws.send('c', () => process.stdout.write('sent\\n'));
        });
        ws.on('error', (e) => { console.error(e); process.exit(2); });
      `;
      const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      let stdout = '';
      let stderr = '';
      child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.once('exit', (code, signal) => resolve({ code, signal })),
      );
      const sent = new Promise<void>((resolve, reject) => {
        child.stdout?.on('data', () => stdout.includes('sent') && resolve());
        void exited.then(({ code }) => reject(new Error(`the child exited (${code}) before sending: ${stderr}`)));
      });

      const remote = await within(3000, 'the child to connect', remoteOpened);
      await within(3000, "the child's 'sent'", sent);
      await until('three packets at the server', () => remote.getAvailablePacketCount() === 3);

      child.kill('SIGKILL');
      expect((await within(3000, 'the child to exit', exited)).signal).to.equal('SIGKILL');
      const [info] = await within(3000, 'closed$', takeValues(remote.closed$, 1));
      expect(info).to.include({ code: 1006, wasClean: false });

      const late = collect(remote.packets$);
      const { error } = await within(1000, 'packets$ to end', late.done);
      expect(late.values.map(text)).to.deep.equal(['a', 'b', 'c']);
      expect(error).to.be.instanceOf(WebSocketCloseError);
      expect(error).to.include({ code: 1006, wasClean: false });
    });
  });

  it('throws ERR_INVALID_OPTION synchronously for bad options', () => {
    const bad: Array<Record<string, unknown>> = [
      { port: -1 },
      { port: 70000 },
      { port: 1.5 },
      { port: '80' },
      { path: 'no-slash' },
      { protocols: ['a b'] },
      { maxPayload: 0 },
      { headers: { 'Bad Name': 'x' } },
    ];
    for (const options of bad) {
      expect(() => listen(options), JSON.stringify(options))
        .to.throw(TypeError)
        .with.property('code', 'ERR_INVALID_OPTION');
    }
  });

  it('throws ERR_INVALID_OPTION for an unknown key, naming the nearest known one', () => {
    // listen({ prot: 8080 }) would listen on a port the OS chose.
    expectInvalidOption(
      () => listen({ prot: 8080 } as never),
      "listen(): unknown option 'prot' (did you mean 'port'?)",
    );
    expectInvalidOption(
      () => listen({ port: 0, maxConnection: 10 } as never),
      "listen(): unknown option 'maxConnection' (did you mean 'maxConnections'?)",
    );
    expectInvalidOption(
      () => listen({ port: 0, heartbeatIntervall: 1000 } as never),
      "listen(): unknown option 'heartbeatIntervall' (did you mean 'heartbeatInterval'?)",
    );
    expectInvalidOption(() => listen({ backlog: 511 } as never), "listen(): unknown option 'backlog'");
    // Every known key passes, undefined as its value (the source is cold: nothing listens).
    const known = {
      port: undefined,
      host: undefined,
      path: undefined,
      server: undefined,
      protocols: undefined,
      requireProtocol: undefined,
      headers: undefined,
      maxPayload: undefined,
      maxFragments: undefined,
      maxConnections: undefined,
      handshakeTimeout: undefined,
      origins: undefined,
      requireOrigin: undefined,
      key: undefined,
      cert: undefined,
      passphrase: undefined,
      writeMode: undefined,
      noDelay: undefined,
      maxQueuedPackets: undefined,
      maxQueuedBytes: undefined,
      heartbeatInterval: undefined,
    } satisfies Record<keyof ListenOptions, undefined>;
    expect(() => listen(known)).not.to.throw();
    expect(() => listen(undefined)).not.to.throw();
  });

  it('is cold: each subscription listens on its own port', async () => {
    const source = listen({ host: '127.0.0.1', port: 0 });
    const subscriptions: Subscription[] = [];
    cleanups.push(() => subscriptions.forEach((s) => s.unsubscribe()));
    const ports = await Promise.all(
      [0, 1].map(
        () =>
          new Promise<number>((resolve, reject) => {
            subscriptions.push(source.subscribe({ next: (server) => resolve(server.port), error: reject }));
          }),
      ),
    );
    expect(ports[0]).to.be.greaterThan(0);
    expect(ports[1]).to.be.greaterThan(0);
    expect(ports[0]).to.not.equal(ports[1]);
  });
});
