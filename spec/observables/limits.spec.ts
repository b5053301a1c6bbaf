import { type ChildProcess, spawn } from 'node:child_process';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect as tcpConnect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { firstValueFrom, Subscription } from 'rxjs';
import { connect, type ConnectOptions } from '../../src/observables/connect.js';
import { listen, type ListenOptions } from '../../src/observables/listen.js';
import type { PeerServer } from '../../src/observables/PeerServer.js';
import { WriteMode } from '../../src/peer/constants.js';
import type { WebSocketPeer } from '../../src/peer/WebSocketPeer.js';
import { WebSocketCloseError } from '../../src/errors/WebSocketCloseError.js';
import { WebSocketPeerError } from '../../src/errors/WebSocketPeerError.js';
import { collect, delay, needsTool, openClient, startServer, stopAll, takeValues } from '../helpers.js';

/** What each test must undo, most recent first, even when it fails. */
const cleanups: Array<() => void | Promise<void>> = [];

/** How `connect(url, options)` ended before it opened. */
function failure(url: string, options: ConnectOptions = {}): Promise<WebSocketPeerError> {
  return new Promise((resolve, reject) => {
    const subscription = connect(url, options).subscribe({
      next: () => reject(new Error('it opened')),
      error: resolve,
      complete: () => reject(new Error('it completed')),
    });
    cleanups.push(() => subscription.unsubscribe());
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

/** An http server of the test's own on 127.0.0.1, closed when the test ends. */
async function ownHttpServer(): Promise<{ http: HttpServer; port: number }> {
  const http = createHttpServer((_request, response) => response.end('own handler'));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  );
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return { http, port: (http.address() as { port: number }).port };
}

/** Subscribes to `listen(options)` as given, until the test ends. */
function listening(options: ListenOptions): Promise<PeerServer> {
  return new Promise((resolve, reject) => {
    // A holder made first: an attached server that already listens emits during subscribe().
    const subscription = new Subscription();
    cleanups.push(() => subscription.unsubscribe());
    subscription.add(listen(options).subscribe({ next: resolve, error: reject }));
  });
}

/** A raw TCP client, destroyed when the test ends. */
function rawClient(port: number, allowHalfOpen = false): Socket {
  const socket = tcpConnect({ port, host: '127.0.0.1', allowHalfOpen });
  socket.on('error', () => {});
  cleanups.push(() => void socket.destroy());
  return socket;
}

const upgradeRequest = (extraHeaders = ''): string =>
  'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extraHeaders}\r\n`;

/** Checks that `peer` still echoes both ways with `other`: a refusal left it alone. */
async function stillTalking(client: WebSocketPeer, remote: WebSocketPeer): Promise<void> {
  client.sink.next('ping');
  expect((await takeValues(remote.packets$, 1))[0]?.data).to.equal('ping');
  remote.sink.next('pong');
  expect((await takeValues(client.packets$, 1))[0]?.data).to.equal('pong');
}

describe('listen() limits', () => {
  afterEach(async () => {
    stopAll();
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  describe('defaults', () => {
    it('are safe and told in PeerServer.limits: 10,000 peers, 100 MiB and 16,384 frames a message, 10 s handshakes', async () => {
      const { server } = await startServer();
      expect(server.limits).to.deep.equal({
        maxConnections: 10_000,
        maxPayload: 100 * 1024 * 1024,
        maxFragments: 16_384,
        handshakeTimeout: 10_000,
      });
      expect(server.secure).to.equal(false);
    });

    it('tell the values given, and no handshakeTimeout on a server of yours', async () => {
      const { server } = await startServer({
        maxConnections: 5,
        maxPayload: 1000,
        maxFragments: 10,
        handshakeTimeout: 300,
      });
      expect(server.limits).to.deep.equal({
        maxConnections: 5,
        maxPayload: 1000,
        maxFragments: 10,
        handshakeTimeout: 300,
      });
      const { http } = await ownHttpServer();
      const attached = await listening({ server: http });
      expect(attached.limits).to.deep.equal({
        maxConnections: 10_000,
        maxPayload: 100 * 1024 * 1024,
        maxFragments: 16_384,
        handshakeTimeout: undefined,
      });
    });

    it('let the open peers of a server without options through, refusing none (a smoke test at 200)', async function () {
      this.timeout(20_000);
      const { server, url } = await startServer();
      const peers = collect(server.peers$);
      const clients = await Promise.all(Array.from({ length: 200 }, () => openClient(url)));
      expect(clients.every((client) => client.peer.isConnectedToHost())).to.equal(true);
      await within(
        3000,
        '200 server peers',
        (async () => {
          while (peers.values.length < 200) await delay(10);
        })(),
      );
    });
  });

  describe('handshakeTimeout', () => {
    it('drops a client that sends nothing, and one that sends half a request; a real one opens and stays', async () => {
      const { server, url, nextPeer } = await startServer({ handshakeTimeout: 200 });
      const closedAfter = (socket: Socket): Promise<number> =>
        new Promise((resolve) => {
          socket.once('connect', () => {
            const start = Date.now();
            socket.once('close', () => resolve(Date.now() - start));
          });
        });
      const silent = rawClient(server.port);
      const half = rawClient(server.port);
      half.once('connect', () => half.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n'));
      const silentClosed = closedAfter(silent);
      const halfClosed = closedAfter(half);
      let answered = '';
      half.on('data', (chunk: Buffer) => (answered += chunk.toString()));

      const remoteOpened = nextPeer();
      const client = await openClient(url);
      const remote = await remoteOpened;

      const [silentMs, halfMs] = await within(
        3000,
        'both sockets to be dropped',
        Promise.all([silentClosed, halfClosed]),
      );
      expect(silentMs).to.be.within(150, 1500);
      expect(halfMs).to.be.within(150, 1500);
      expect(answered).to.equal(''); // dropped, not answered: it has not earned an HTTP response
      await delay(150); // the real client is now well past the timeout
      expect(client.peer.isConnectedToHost()).to.equal(true);
      await stillTalking(client.peer, remote);
    });

    it('times every handshake from its own accept, with one timer for all of them', async () => {
      const { server } = await startServer({ handshakeTimeout: 300 });
      const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
      const before = timers();
      const lifetimes = (count: number): Array<Promise<number>> =>
        Array.from({ length: count }, () => {
          const socket = rawClient(server.port);
          return new Promise<number>((resolve) =>
            socket.once('connect', () => {
              const start = Date.now();
              socket.once('close', () => resolve(Date.now() - start));
            }),
          );
        });
      const first = lifetimes(20);
      await delay(150);
      const second = lifetimes(20);
      await delay(50);
      expect(timers() - before, 'timers beyond those before, with 40 handshakes under way').to.equal(1);
      const all = await within(3000, '40 silent sockets to be dropped', Promise.all([...first, ...second]));
      // Each socket got its whole 300 ms, the later ones too: none was cut short by the first ones' due time.
      for (const ms of all) expect(ms).to.be.within(250, 1500);
      await delay(20);
      expect(timers() - before, 'timers beyond those before, once no handshake is under way').to.equal(0);
    });

    it('drops a plain HTTP keep-alive connection too, once answered 426', async () => {
      const { server } = await startServer({ handshakeTimeout: 200 });
      const socket = rawClient(server.port);
      let answer = '';
      socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
      const closed = new Promise((resolve) => socket.once('close', resolve));
      socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      await within(2000, 'the connection to be dropped', closed);
      expect(answer).to.match(/^HTTP\/1\.1 426 /);
    });

    it('leaves nothing behind when the server stops during a handshake', async () => {
      const { server, subscription } = await startServer({ handshakeTimeout: 60_000 });
      const socket = rawClient(server.port);
      await new Promise((resolve) => socket.once('connect', resolve));
      await delay(20);
      const closed = new Promise((resolve) => socket.once('close', resolve));
      subscription.unsubscribe();
      // Had its 60 s timer survived, mocha would not exit by itself after the suite.
      await within(2000, 'the half-open handshake to be dropped', closed);
    });

    it("is refused with 'server' (its own headersTimeout applies), ERR_INVALID_OPTION", async () => {
      const { http } = await ownHttpServer();
      expect(() => listen({ server: http, handshakeTimeout: 1000 }))
        .to.throw(TypeError)
        .with.property('code', 'ERR_INVALID_OPTION');
    });
  });

  describe('origins', () => {
    const origins = ['https://app.example', 'http://localhost:4200'];

    it('answers 403 to another Origin, before upgrading, and leaves the open peers alone', async () => {
      const { server, url, nextPeer } = await startServer({ origins });
      const remoteOpened = nextPeer();
      const client = await openClient(url, { headers: { Origin: 'https://app.example' } });
      const remote = await remoteOpened;
      const peers = collect(server.peers$);
      for (const origin of ['https://evil.example', 'http://app.example', 'https://app.example:8443', 'null']) {
        const error = await failure(url, { headers: { Origin: origin } });
        expect(error, origin).to.be.instanceOf(WebSocketPeerError);
        expect(error.code, origin).to.equal('ERR_HANDSHAKE_REJECTED');
        expect(error.statusCode, origin).to.equal(403);
      }
      await delay(20);
      expect(peers.values).to.have.length(0);
      await stillTalking(client.peer, remote);
    });

    it('lets a listed Origin through, in any case and with its default port written out', async () => {
      const { url } = await startServer({ origins });
      for (const origin of ['https://app.example', 'HTTPS://App.Example:443', 'http://localhost:4200']) {
        const client = await openClient(url, { headers: { Origin: origin } });
        expect(client.peer.isConnectedToHost(), origin).to.equal(true);
        client.subscription.unsubscribe();
      }
    });

    it('lets a request without Origin through (Node clients send none), unless requireOrigin', async () => {
      const open = await startServer({ origins });
      expect((await openClient(open.url)).peer.isConnectedToHost()).to.equal(true);
      const strict = await startServer({ origins, requireOrigin: true });
      const error = await failure(strict.url);
      expect(error.code).to.equal('ERR_HANDSHAKE_REJECTED');
      expect(error.statusCode).to.equal(403);
      const allowed = await openClient(strict.url, { headers: { Origin: 'https://app.example' } });
      expect(allowed.peer.isConnectedToHost()).to.equal(true);
    });

    it('with requireOrigin alone, takes any Origin but wants one', async () => {
      const { url } = await startServer({ requireOrigin: true });
      expect((await failure(url)).statusCode).to.equal(403);
      expect((await openClient(url, { headers: { Origin: 'https://any.example' } })).peer.isConnectedToHost()).to.equal(
        true,
      );
    });

    it('with an empty list, refuses every browser and lets non-browser clients through', async () => {
      const { url } = await startServer({ origins: [] });
      expect((await failure(url, { headers: { Origin: 'https://app.example' } })).statusCode).to.equal(403);
      expect((await openClient(url)).peer.isConnectedToHost()).to.equal(true);
    });
  });

  describe('maxConnections', () => {
    it('answers 503 past the limit, and lets the next one in once a peer has closed', async () => {
      const { server, url } = await startServer({ maxConnections: 2 });
      const peers = collect(server.peers$);
      const first = await openClient(url);
      const second = await openClient(url);
      const error = await failure(url);
      expect(error.code).to.equal('ERR_HANDSHAKE_REJECTED');
      expect(error.statusCode).to.equal(503);
      await delay(20);
      expect(peers.values).to.have.length(2);
      const [firstRemote, secondRemote] = peers.values as [WebSocketPeer, WebSocketPeer];
      await stillTalking(second.peer, secondRemote);

      first.peer.close();
      await takeValues(firstRemote.closed$, 1);
      const third = await openClient(url);
      expect(third.peer.isConnectedToHost()).to.equal(true);
      expect((await failure(url)).statusCode).to.equal(503);
    });

    it('counts a peer that waits untaken in peers$, and frees its slot when it closes', async () => {
      const { url, nextPeer } = await startServer({ maxConnections: 1 });
      const waiting = await openClient(url);
      await delay(20); // its server peer now waits in peers$, untaken
      expect((await failure(url)).statusCode).to.equal(503);
      const remote = await nextPeer();
      waiting.subscription.unsubscribe(); // closes with 1000
      await takeValues(remote.closed$, 1);
      expect((await openClient(url)).peer.isConnectedToHost()).to.equal(true);
    });

    it('counts only the peers of its own listen(), on a shared http server', async () => {
      const { http, port } = await ownHttpServer();
      const limited = await listening({ server: http, path: '/a', maxConnections: 1 });
      const other = await listening({ server: http, path: '/b' });
      const otherPeers = collect(other.peers$);
      await openClient(`ws://127.0.0.1:${port}/b`);
      await openClient(`ws://127.0.0.1:${port}/b`);
      const limitedPeer = firstValueFrom(limited.peers$);
      await openClient(`ws://127.0.0.1:${port}/a`);
      await limitedPeer;
      expect((await failure(`ws://127.0.0.1:${port}/a`)).statusCode).to.equal(503);
      expect((await openClient(`ws://127.0.0.1:${port}/b`)).peer.isConnectedToHost()).to.equal(true);
      await delay(20);
      expect(otherPeers.values).to.have.length(3);
    });
  });

  describe('requireProtocol', () => {
    it('answers 400 to a client that offers none of our subprotocols, or none at all', async () => {
      const { server, url } = await startServer({ protocols: ['v2', 'v1'], requireProtocol: true });
      const peers = collect(server.peers$);
      for (const protocols of [['v3'], []]) {
        const error = await failure(url, { protocols });
        expect(error.code, protocols.join()).to.equal('ERR_HANDSHAKE_REJECTED');
        expect(error.statusCode, protocols.join()).to.equal(400);
      }
      const client = await openClient(url, { protocols: ['v3', 'v1'] });
      expect(client.peer.getSelectedProtocol()).to.equal('v1');
      await delay(20);
      expect(peers.values).to.have.length(1);
      expect(peers.values[0]?.getSelectedProtocol()).to.equal('v1');
    });

    it('is off by default: a client that offers none is accepted without a subprotocol', async () => {
      const { url } = await startServer({ protocols: ['v1'] });
      const client = await openClient(url);
      expect(client.peer.getSelectedProtocol()).to.equal('');
    });
  });

  describe('maxPayload', () => {
    it('takes a message of exactly maxPayload bytes, and closes with 1009 on both sides past it', async () => {
      const { url, nextPeer } = await startServer({ maxPayload: 1024 });
      const remoteOpened = nextPeer();
      const client = await openClient(url, { writeMode: WriteMode.Binary });
      const remote = await remoteOpened;
      client.peer.sink.next(new Uint8Array(1024).fill(7));
      const [exact] = await takeValues(remote.packets$, 1);
      expect((exact?.data as Uint8Array).byteLength).to.equal(1024);
      client.peer.sink.next(new Uint8Array(1025));
      expect((await takeValues(remote.closed$, 1))[0]?.code).to.equal(1009);
      expect((await takeValues(client.peer.closed$, 1))[0]?.code).to.equal(1009);
    });
  });

  describe('refusals', () => {
    const cases: Array<{ status: number; options: ListenOptions; headers: string; fill?: boolean }> = [
      { status: 403, options: { origins: ['https://app.example'] }, headers: 'Origin: https://evil.example\r\n' },
      { status: 400, options: { protocols: ['v1'], requireProtocol: true }, headers: 'Sec-WebSocket-Protocol: v9\r\n' },
      { status: 503, options: { maxConnections: 1 }, headers: '', fill: true },
    ];
    for (const { status, options, headers, fill } of cases) {
      it(`${status}: answered before upgrading; the socket ended, then destroyed though the client keeps its side`, async () => {
        const { http, port } = await ownHttpServer();
        await listening({ server: http, ...options });
        if (fill) await openClient(`ws://127.0.0.1:${port}`);
        const connections = (): Promise<number> =>
          new Promise((resolve, reject) =>
            http.getConnections((error, count) => (error ? reject(error) : resolve(count))),
          );
        const before = await connections();
        // allowHalfOpen: a plain socket would end its side as soon as the server's FIN came in.
        const socket = rawClient(port, true);
        let answer = '';
        socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
        const ended = new Promise((resolve) => socket.once('end', resolve));
        socket.write(upgradeRequest(headers));
        await within(2000, 'the answer', ended); // we never end our side
        expect(answer).to.match(new RegExp(`^HTTP/1\\.1 ${status} `));
        expect(answer).to.match(/\r\nConnection: close\r\n/);
        for (let i = 0; i < 50 && (await connections()) > before; i++) await delay(10);
        expect(await connections()).to.equal(before);
      });
    }
  });

  it('throws ERR_INVALID_OPTION synchronously for bad limits', () => {
    const bad: Array<Record<string, unknown>> = [
      { maxConnections: 0 },
      { maxConnections: 1.5 },
      { maxConnections: '10' },
      { handshakeTimeout: 0 },
      { handshakeTimeout: 2 ** 31 },
      { handshakeTimeout: '1s' },
      { origins: 'https://app.example' },
      { origins: ['https://app.example/'] }, // a path: not an origin
      { origins: ['app.example'] },
      { origins: ['https://user@app.example'] },
      { requireOrigin: 'yes' },
      { requireProtocol: true }, // without protocols
      { protocols: ['v1'], requireProtocol: 1 },
    ];
    for (const options of bad) {
      expect(() => listen(options), JSON.stringify(options))
        .to.throw(TypeError)
        .with.property('code', 'ERR_INVALID_OPTION');
    }
  });
});

describe('maxFragments: a message in many frames (Autobahn 9.3.1 and 9.4.1, from python3-websockets)', function () {
  this.timeout(30_000);
  const FIXTURE = fileURLToPath(new URL('../fixtures/ws_fragments.py', import.meta.url));
  /** Autobahn's 9.3.1 (text) and 9.4.1 (binary): 4 MiB in 64-byte frames, 65,536 of them. */
  const TOTAL = 4 * 1024 * 1024;
  const FRAME = 64;
  const children: ChildProcess[] = [];

  interface FragmentsReport {
    echoed: boolean;
    length: number | null;
    close: { code: number; reason: string } | null;
    error: string | null;
  }

  before(function () {
    needsTool('python3-websockets');
  });
  afterEach(async () => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
    stopAll();
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** Runs the fixture; resolves with the port line's port (server) and its final report. */
  function python(...args: string[]): { port: Promise<number>; report: Promise<FragmentsReport> } {
    const child = spawn('/usr/bin/python3', [FIXTURE, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    const lines: unknown[] = [];
    let out = '';
    let err = '';
    let onLine = (): void => {};
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      let newline: number;
      while ((newline = out.indexOf('\n')) !== -1) {
        lines.push(JSON.parse(out.slice(0, newline)));
        out = out.slice(newline + 1);
        onLine();
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    const port = new Promise<number>((resolve, reject) => {
      onLine = () => {
        const first = lines[0] as { port?: number };
        if (first.port !== undefined) resolve(first.port);
      };
      void exited.then(() => reject(new Error(`${FIXTURE} exited before listening\n${err}`)));
    });
    const report = exited.then(() => {
      const last = lines.at(-1) as FragmentsReport | undefined;
      if (!last || last.close === undefined) throw new Error(`${FIXTURE} ${args.join(' ')} gave no report\n${err}`);
      return last;
    });
    return { port, report };
  }

  /** Echoes every packet of `peer` back as it came. */
  function echo(peer: WebSocketPeer): void {
    const subscription = peer.packets$.subscribe({ next: (packet) => peer.sink.next(packet), error: () => {} });
    cleanups.push(() => subscription.unsubscribe());
  }

  it('listen({ maxFragments: 65_536 }) takes 4 MiB of text in 65,536 frames and echoes it whole', async () => {
    const { url, nextPeer } = await startServer({ maxFragments: 65_536 });
    const remote = nextPeer();
    const { report } = python('client', url, 'text', String(TOTAL), String(FRAME));
    echo(await remote);
    expect(await report).to.deep.equal({
      echoed: true,
      length: TOTAL,
      close: { code: 1000, reason: 'done' },
      error: null,
    });
  });

  it('listen() with the default 16,384 closes the same message with 1008, on both sides; 16,384 frames pass', async () => {
    const { url, nextPeer } = await startServer();
    const remote = nextPeer();
    const refused = python('client', url, 'binary', String(TOTAL), String(FRAME)).report;
    const peer = await remote;
    echo(peer);
    const closed = firstValueFrom(peer.closed$);
    expect((await refused).close?.code).to.equal(1008);
    expect((await closed).code).to.equal(1008);

    // Autobahn 9.4.2's size: 4 MiB in 256-byte frames is exactly 16,384 of them.
    const next = nextPeer();
    const passed = python('client', url, 'binary', String(TOTAL), '256').report;
    echo(await next);
    expect(await passed).to.deep.include({ echoed: true, length: TOTAL, error: null });
  });

  it('connect(url, { maxFragments: 65_536 }) takes 4 MiB of binary in 65,536 frames; the default closes with 1008', async () => {
    const wide = python('server', 'binary', String(TOTAL), String(FRAME));
    const client = await openClient(`ws://127.0.0.1:${await wide.port}/`, { maxFragments: 65_536 });
    echo(client.peer);
    expect(await wide.report).to.deep.equal({
      echoed: true,
      length: TOTAL,
      close: { code: 1000, reason: 'done' },
      error: null,
    });
    expect(await within(5000, 'connect() to end', client.ended)).to.equal('complete');

    const narrow = python('server', 'text', String(TOTAL), String(FRAME));
    const defaults = await openClient(`ws://127.0.0.1:${await narrow.port}/`);
    echo(defaults.peer);
    expect((await narrow.report).close?.code).to.equal(1008);
    expect((await firstValueFrom(defaults.peer.closed$)).code).to.equal(1008);
    expect(await within(5000, 'connect() to end', defaults.ended))
      .to.be.instanceOf(WebSocketCloseError)
      .with.property('code', 1008);
  });
});
