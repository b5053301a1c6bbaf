import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, type Socket } from 'node:net';
import { expect } from 'chai';
import type { Transport } from '../../../src/peer/Transport.js';
import { WebSocketPeerError } from '../../../src/errors/WebSocketPeerError.js';
import type { HandshakeError } from '../../../src/transport/Handshake.js';
import { clientHandshake } from '../../../src/transport/node/clientHandshake.js';
import { NodeTransport } from '../../../src/transport/node/NodeTransport.js';
import { CLIENT_DEFAULTS, handshakeOutcome, until, upgradeHost } from './transportHelpers.js';

/** A port nothing listens on: one the OS gave a server that has closed since. */
async function freePort(): Promise<number> {
  const server = createTcpServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

describe('clientHandshake() (Node)', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('opened: an open NodeTransport, not yet bound, and nothing of the handshake left on the socket', async () => {
    const host = await upgradeHost({ protocols: ['chat'] });
    cleanups.push(() => host.close());
    const { transport, failure } = await handshakeOutcome(`${host.url}/path?q=1`, { protocols: ['chat'] });
    expect(failure).to.equal(undefined);
    cleanups.push(() => transport?.terminate());
    expect(transport).to.be.instanceOf(NodeTransport);
    expect((transport as Transport).protocol).to.equal('chat');
    expect((transport as Transport).handshake.url).to.equal(`${host.url}/path?q=1`);
    expect((transport as Transport).handshake.headers).to.have.property('upgrade', 'websocket');
    const { ws } = transport as unknown as { ws: { handler: unknown; listenerCount(event: string): number } };
    expect(ws.handler, 'the socket points at nothing until bound').to.equal(undefined);
    expect(ws.listenerCount('error') + ws.listenerCount('close') + ws.listenerCount('message')).to.equal(0);
  });

  it("ERR_CONNECT_FAILED, with ws's error as cause, when nobody listens", async () => {
    const { failure } = await handshakeOutcome(`ws://127.0.0.1:${await freePort()}`);
    expect(failure).to.be.instanceOf(WebSocketPeerError);
    expect(failure?.code).to.equal('ERR_CONNECT_FAILED');
    expect(failure?.cause).to.have.property('code', 'ECONNREFUSED');
  });

  it('ERR_CONNECT_FAILED when the server selects none of the subprotocols offered', async () => {
    const host = await upgradeHost({ protocols: ['other'] });
    cleanups.push(() => host.close());
    const { failure } = await handshakeOutcome(host.url, { protocols: ['chat'] });
    expect(failure?.code).to.equal('ERR_CONNECT_FAILED');
    expect(failure?.cause).to.be.instanceOf(Error);
  });

  it('ERR_HANDSHAKE_REJECTED, with the HTTP status, when the server answers something other than 101', async () => {
    const http = createHttpServer();
    http.on('upgrade', (_request, socket: Socket) => {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    });
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    cleanups.push(() => http.close());
    const { failure } = await handshakeOutcome(`ws://127.0.0.1:${(http.address() as AddressInfo).port}`);
    expect(failure).to.include({ code: 'ERR_HANDSHAKE_REJECTED', statusCode: 404 });
  });

  it('ERR_HANDSHAKE_TIMEOUT when the server never answers, after handshakeTimeout', async () => {
    const sockets: Socket[] = [];
    const silent = createTcpServer((socket) => sockets.push(socket.resume())).listen(0, '127.0.0.1');
    await once(silent, 'listening');
    cleanups.push(() => {
      for (const socket of sockets) socket.destroy();
      silent.close();
    });
    const start = Date.now();
    const { failure } = await handshakeOutcome(`ws://127.0.0.1:${(silent.address() as AddressInfo).port}`, {
      handshakeTimeout: 150,
    });
    expect(failure?.code).to.equal('ERR_HANDSHAKE_TIMEOUT');
    expect(Date.now() - start).to.be.within(100, 2000);
    await until(() => sockets.every((socket) => socket.closed), 'the connection to be dropped');
  });

  it('abort(): the connection is dropped and the handler never called; after the end, it does nothing', async () => {
    const sockets: Socket[] = [];
    const silent = createTcpServer((socket) => sockets.push(socket.resume())).listen(0, '127.0.0.1');
    await once(silent, 'listening');
    cleanups.push(() => silent.close());
    const calls: Array<Transport | HandshakeError> = [];
    const record = { opened: (t: Transport) => calls.push(t), failed: (f: HandshakeError) => calls.push(f) };
    const url = `ws://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const handshake = clientHandshake(url, { ...CLIENT_DEFAULTS, handshakeTimeout: 100 }, record);
    await until(() => sockets.length === 1, 'the TCP connection');
    handshake.abort();
    await until(() => (sockets[0] as Socket).closed, 'the server to see it closed');
    await new Promise((resolve) => setTimeout(resolve, 200)); // past the handshake timeout
    expect(calls, 'handler calls').to.deep.equal([]);

    const host = await upgradeHost();
    cleanups.push(() => host.close());
    const opened = await new Promise<Transport>((resolve) => {
      const done = clientHandshake(host.url, CLIENT_DEFAULTS, { opened: resolve, failed: () => {} });
      cleanups.push(() => done.abort()); // after it opened: nothing
    });
    cleanups.push(() => opened.terminate());
  });
});
