import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { expect } from 'chai';
import { retry, Subject, takeUntil, tap } from 'rxjs';
import { WebSocketServer } from 'ws';
import { connect, type ConnectOptions } from '../../src/observables/connect.js';
import { consumePackets } from '../../src/operators/consumePackets.js';
import { WriteMode } from '../../src/peer/constants.js';
import { WebSocketCloseError } from '../../src/errors/WebSocketCloseError.js';
import type { WebSocketPeer } from '../../src/peer/WebSocketPeer.js';
import { WebSocketPeerError } from '../../src/errors/WebSocketPeerError.js';
import {
  collect,
  delay,
  openClient,
  openPair,
  startServer,
  stopAll,
  takeValues,
  until,
  expectInvalidOption,
} from '../helpers.js';

/** How `connect(url, options)` ended before it opened. */
function failure(url: string, options: Parameters<typeof connect>[1] = {}): Promise<WebSocketPeerError> {
  return new Promise((resolve, reject) => {
    connect(url, options).subscribe({
      next: () => reject(new Error('it opened')),
      error: resolve,
      complete: () => reject(new Error('it completed')),
    });
  });
}

function tcpServer(onSocket: (socket: Socket) => void): Promise<{ server: TcpServer; port: number }> {
  return new Promise((resolve) => {
    const server = createTcpServer(onSocket).listen(0, '127.0.0.1', () => {
      resolve({ server, port: (server.address() as { port: number }).port });
    });
  });
}

describe('connect()', () => {
  afterEach(stopAll);

  it('emits the peer once open, with state$ at open', async () => {
    const { client } = await openPair();
    expect(client.peer.isConnectedToHost()).to.equal(true);
    expect(await takeValues(client.peer.state$, 1)).to.deep.equal(['open']);
  });

  it('is cold: one connection per subscription', async () => {
    const server = await startServer();
    const peers = collect(server.server.peers$);
    await openClient(server.url);
    await openClient(server.url);
    await delay(20);
    expect(peers.values).to.have.length(2);
  });

  it('completes only after a clean close with 1000: connect(), packets$ and consumePackets()', async () => {
    const { client, remote } = await openPair();
    const packets = collect(client.peer.packets$);
    const consumed = collect(consumePackets(client.peer, () => undefined));
    remote.close(1000, 'done');
    expect(await client.ended).to.equal('complete');
    expect(await packets.done).to.deep.equal({});
    expect(await consumed.done).to.deep.equal({});
  });

  for (const code of [1001, 1008, 1011, 4000]) {
    it(`errors with WebSocketCloseError after a clean close with ${code}: connect(), packets$ and consumePackets()`, async () => {
      const { client, remote } = await openPair();
      const packets = collect(client.peer.packets$);
      const consumed = collect(consumePackets(client.peer, () => undefined));
      remote.close(code, 'why');
      const ended = await client.ended;
      expect(ended).to.be.instanceOf(WebSocketCloseError);
      expect(ended).to.include({ code, reason: 'why', wasClean: true });
      expect((ended as Error).message).to.equal(`WebSocket closed with code ${code}: why`);
      for (const { error } of [await packets.done, await consumed.done]) {
        expect(error).to.be.instanceOf(WebSocketCloseError).and.include({ code, wasClean: true });
      }
    });
  }

  it('errors on the side that closes too, when it closes with a code other than 1000', async () => {
    const { client, remote } = await openPair();
    const remotePackets = collect(remote.packets$);
    client.peer.close(4000, 'mine');
    expect(await client.ended)
      .to.be.instanceOf(WebSocketCloseError)
      .and.include({ code: 4000, wasClean: true });
    expect((await remotePackets.done).error).to.include({ code: 4000, reason: 'mine', wasClean: true });
  });

  it('errors with 1009 on the sender of a message over the receiver maxPayload, not a clean end', async () => {
    const server = await startServer({ maxPayload: 1024 });
    const remoteOpened = server.nextPeer();
    const client = await openClient(server.url);
    const remote = await remoteOpened;
    const packets = collect(client.peer.packets$);
    client.peer.sink.next('x'.repeat(2048));
    const ended = await client.ended;
    expect(ended).to.be.instanceOf(WebSocketCloseError).and.include({ code: 1009 });
    expect((await packets.done).error)
      .to.be.instanceOf(WebSocketCloseError)
      .and.include({ code: 1009 });
    expect((await collect(remote.packets$).done).error).to.include({ code: 1009 });
  });

  it('is retried by retry() after a server closes with 1001, and not after a clean 1000', async () => {
    const server = await startServer();
    const remotes = collect(server.server.peers$);
    const opened: WebSocketPeer[] = [];
    const ended = collect(
      connect(server.url).pipe(
        tap((peer) => opened.push(peer)),
        retry({ count: 3 }),
      ),
    );
    await until(() => remotes.values.length === 1);
    remotes.values[0]?.close(1001);
    await until(() => remotes.values.length === 2);
    remotes.values[1]?.close(1000);
    expect(await ended.done).to.deep.equal({});
    expect(opened).to.have.length(2);
  });

  it('errors with WebSocketCloseError (wasClean false) when the closing handshake is cut', async () => {
    const abrupt = await openPair();
    abrupt.remote.close(1000);
    // 'closing' on the server side: now cut the TCP connection before the client's answer lands.
    (abrupt.remote as unknown as { transport: { socket: Socket } }).transport.socket.resetAndDestroy();
    const ended = await abrupt.client.ended;
    // The client may have read the close frame (and answered) before the reset arrived.
    if (ended instanceof WebSocketCloseError) expect(ended.wasClean).to.equal(false);
    else expect(ended).to.equal('complete');
  });

  it('errors with WebSocketCloseError (1006) when the server resets the connection', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => wss.once('listening', resolve));
    wss.on('connection', (_ws, request) => setTimeout(() => request.socket.resetAndDestroy(), 20));
    const client = await openClient(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`);
    const error = await client.ended;
    expect(error).to.be.instanceOf(WebSocketCloseError);
    expect(error).to.include({ code: 1006, wasClean: false });
    wss.close();
  });

  it('closes with 1000 when unsubscribed', async () => {
    const { client, remote } = await openPair();
    client.subscription.unsubscribe();
    expect((await takeValues(remote.closed$, 1))[0]).to.deep.equal({ code: 1000, reason: '', wasClean: true });
    expect((await takeValues(client.peer.closed$, 1))[0]?.code).to.equal(1000);
  });

  it('aborts the handshake when unsubscribed before it opens, without an error', async () => {
    const accepted: Socket[] = [];
    const { server, port } = await tcpServer((socket) => {
      accepted.push(socket);
      socket.resume(); // read, so that the client's FIN shows up as 'end' and 'close'
    });
    const events: string[] = [];
    const subscription = connect(`ws://127.0.0.1:${port}`).subscribe({
      next: () => events.push('next'),
      error: () => events.push('error'),
      complete: () => events.push('complete'),
    });
    while (accepted.length === 0) await delay(5);
    const closed = new Promise((resolve) => accepted[0]?.once('close', resolve));
    subscription.unsubscribe();
    await closed;
    await delay(20);
    expect(events).to.deep.equal([]);
    server.close();
  });

  it('offers subprotocols and tells which one the server selected', async () => {
    const { client, remote } = await openPair({ protocols: ['v2', 'v1'] }, { protocols: ['v1', 'v2'] });
    expect(client.peer.getSelectedProtocol()).to.equal('v2');
    expect(remote.getSelectedProtocol()).to.equal('v2');
    const none = await openPair({}, {});
    expect(none.client.peer.getSelectedProtocol()).to.equal('');
  });

  it('sends extra handshake headers and shows the response headers', async () => {
    const { client, remote } = await openPair(
      { headers: { 'X-Served-By': 'test' } },
      { headers: { Authorization: 'Bearer abc' } },
    );
    expect(remote.handshake.headers['authorization']).to.equal('Bearer abc');
    expect(client.peer.handshake.headers['x-served-by']).to.equal('test');
    expect(client.peer.handshake.url).to.match(/^ws:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it('takes the initial write mode', async () => {
    const { client, remote } = await openPair({}, { writeMode: WriteMode.Binary });
    expect(client.peer.getWriteMode()).to.equal(WriteMode.Binary);
    client.peer.sink.next('bytes');
    expect((await takeValues(remote.packets$, 1))[0]?.isString).to.equal(false);
  });

  it('closes with 1009 when a message exceeds maxPayload', async () => {
    const { client, remote } = await openPair({}, { maxPayload: 1024 });
    remote.setWriteMode(WriteMode.Binary);
    remote.sink.next(new Uint8Array(1025));
    const [ours] = await takeValues(client.peer.closed$, 1);
    expect(ours?.code).to.equal(1009);
    expect((await takeValues(remote.closed$, 1))[0]?.code).to.equal(1009);
  });

  it('fails with ERR_HANDSHAKE_TIMEOUT when the server never answers', async () => {
    const { server, port } = await tcpServer(() => {});
    const error = await failure(`ws://127.0.0.1:${port}`, { handshakeTimeout: 150 });
    expect(error).to.be.instanceOf(WebSocketPeerError);
    expect(error.code).to.equal('ERR_HANDSHAKE_TIMEOUT');
    server.close();
  });

  it('fails with ERR_CONNECT_FAILED when nothing listens', async () => {
    const { server, port } = await tcpServer(() => {});
    await new Promise((resolve) => server.close(resolve));
    const error = await failure(`ws://127.0.0.1:${port}`);
    expect(error.code).to.equal('ERR_CONNECT_FAILED');
    expect(error.cause).to.have.property('code', 'ECONNREFUSED');
  });

  it('fails with ERR_HANDSHAKE_REJECTED and the HTTP status when the server refuses', async () => {
    const server = await startServer({ path: '/only' });
    const error = await failure(`${server.url}/elsewhere`);
    expect(error.code).to.equal('ERR_HANDSHAKE_REJECTED');
    expect(error.statusCode).to.equal(404);
  });

  it('fails with ERR_CONNECT_FAILED when the server selects none of our subprotocols', async () => {
    const server = await startServer({ protocols: ['other'] });
    const error = await failure(server.url, { protocols: ['mine'] });
    expect(error.code).to.equal('ERR_CONNECT_FAILED');
  });

  it('throws synchronously for a bad URL or option', () => {
    for (const url of ['not a url', 'http://127.0.0.1/', 'ws://127.0.0.1/#frag']) {
      expect(() => connect(url))
        .to.throw(TypeError)
        .with.property('code', 'ERR_INVALID_URL');
    }
    const bad: Array<Record<string, unknown>> = [
      { protocols: ['a b'] },
      { protocols: ['x', 'x'] },
      { headers: { 'Bad Name': 'x' } },
      { headers: { ok: 'line\r\nbreak' } },
      { handshakeTimeout: 0 },
      { maxPayload: -1 },
      { noDelay: 'yes' },
      { maxQueuedPackets: 1.5 },
    ];
    for (const options of bad) {
      expect(() => connect('ws://127.0.0.1:1', options))
        .to.throw(TypeError)
        .with.property('code', 'ERR_INVALID_OPTION');
    }
    expect(() => connect('ws://127.0.0.1:1', { writeMode: 7 as WriteMode })).to.throw(RangeError);
  });

  it('throws ERR_INVALID_OPTION for an unknown key, naming the nearest known one', () => {
    const url = 'ws://127.0.0.1:1';
    // A typo in JavaScript would silently turn the heartbeat off.
    expectInvalidOption(
      () => connect(url, { heartbeatIntervall: 1000 } as never),
      "connect(): unknown option 'heartbeatIntervall' (did you mean 'heartbeatInterval'?)",
    );
    expectInvalidOption(
      () => connect(url, { protocol: 'chat' } as never),
      "connect(): unknown option 'protocol' (did you mean 'protocols'?)",
    );
    expectInvalidOption(
      () => connect(url, { protocols: ['chat'], HandshakeTimeout: 500 } as never),
      "connect(): unknown option 'HandshakeTimeout' (did you mean 'handshakeTimeout'?)",
    );
    expectInvalidOption(() => connect(url, { retries: 3 } as never), "connect(): unknown option 'retries'");
    // Every known key passes, undefined as its value; so do undefined options.
    const known = {
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
    } satisfies Record<keyof ConnectOptions, undefined>;
    expect(() => connect(url, known)).not.to.throw();
    expect(() => connect(url, undefined)).not.to.throw();
    // Only own keys count: an object whose prototype has other fields is fine.
    expect(() => connect(url, Object.create({ retries: 3 }) as ConnectOptions)).not.to.throw();
  });

  it('composes: takeUntil closes the connection', async () => {
    const server = await startServer();
    const remoteOpened = server.nextPeer();
    const stop = new Subject<void>();
    const clientOpened = new Promise((resolve) => connect(server.url).pipe(takeUntil(stop)).subscribe(resolve));
    const remote = await remoteOpened;
    await clientOpened; // before this, takeUntil would abort the handshake instead
    stop.next();
    expect((await takeValues(remote.closed$, 1))[0]?.code).to.equal(1000);
  });
});
