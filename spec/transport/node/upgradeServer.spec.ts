import { type AddressInfo, connect as tcpConnect } from 'node:net';
import { expect } from 'chai';
import { NodeTransport } from '../../../src/transport/node/NodeTransport.js';
import { handshakeOutcome, openPair, upgradeHost, type UpgradeHost } from './transportHelpers.js';

/** What the server answers a raw request with, until it closes the connection or `enough()` holds. */
async function rawAnswer(
  host: UpgradeHost,
  request: string | Buffer,
  enough = (_answer: string) => false,
): Promise<string> {
  const socket = tcpConnect((host.http.address() as AddressInfo).port, '127.0.0.1');
  socket.on('error', () => {});
  let answer = '';
  const done = new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
      if (enough(answer)) resolve();
    });
    socket.once('close', () => resolve());
  });
  socket.write(request);
  await done;
  socket.destroy();
  return answer;
}

describe('UpgradeServer', () => {
  const hosts: UpgradeHost[] = [];
  const start = async (...args: Parameters<typeof upgradeHost>): Promise<UpgradeHost> => {
    const host = await upgradeHost(...args);
    hosts.push(host);
    return host;
  };
  afterEach(async () => {
    for (const host of hosts.splice(0)) await host.close();
  });

  it('accepts with an open NodeTransport and the TCP socket, the request as its handshake', async () => {
    const host = await start();
    const { client, server, serverSocket } = await openPair(host, { headers: { 'X-Hello': 'there' } });
    client.terminate();
    expect(server).to.be.instanceOf(NodeTransport);
    expect(serverSocket.remotePort).to.equal(server.remotePort);
    expect(server.handshake.headers['x-hello']).to.equal('there');
    expect(server.protocol).to.equal('');
  });

  it('adds the extra headers to every 101 response', async () => {
    const host = await start({ headers: { 'X-Served-By': 'spec', 'Cache-Control': 'no-store' } });
    const { transport } = await handshakeOutcome(host.url);
    transport?.terminate();
    expect(transport?.handshake.headers).to.include({ 'x-served-by': 'spec', 'cache-control': 'no-store' });
  });

  it('selects the first of its subprotocols that the client offers, in its own order', async () => {
    const host = await start({ protocols: ['v2', 'v1'] });
    const { client, server } = await openPair(host, { protocols: ['v1', 'v2'] });
    client.terminate();
    expect([client.protocol, server.protocol]).to.deep.equal(['v2', 'v2']);
    const none = await openPair(host, { protocols: [] });
    none.client.terminate();
    expect(none.server.protocol).to.equal('');
  });

  it('enforces maxFragments: one fragment too many closes the connection with 1008', async () => {
    const host = await start({ maxFragments: 2 }, { bind: true });
    // A text message in three frames: "a", "b", "c" (FIN on the last), masked with a zero key.
    const frame = (opcode: number, fin: boolean, byte: number): Buffer =>
      Buffer.from([(fin ? 0x80 : 0) | opcode, 0x81, 0, 0, 0, 0, byte]);
    const answer = rawAnswer(
      host,
      Buffer.concat([
        Buffer.from(
          'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
        ),
        frame(1, false, 0x61),
        frame(0, false, 0x62),
        frame(0, true, 0x63),
      ]),
      // The 101 response, and a close frame after it.
      (text) => text.includes('\r\n\r\n') && text.length >= text.indexOf('\r\n\r\n') + 8,
    );
    const text = await answer;
    expect(text).to.match(/^HTTP\/1\.1 101 /);
    const close = Buffer.from(text.slice(text.indexOf('\r\n\r\n') + 4), 'latin1');
    expect(close[0], 'a close frame').to.equal(0x88);
    expect(close.readUInt16BE(2), 'its code').to.equal(1008);
    expect(host.accepted[0]?.events[0]).to.deep.equal(['closing', 1008, '']);
  });

  it('leaves a request that is no WebSocket handshake to ws: an HTTP error, and nothing accepted', async () => {
    const host = await start();
    const answer = await rawAnswer(
      host,
      'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    expect(answer).to.match(/^HTTP\/1\.1 400 /);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(host.accepted).to.have.length(0);
  });

  it("close(): its 'headers' hook goes", async () => {
    const host = await start({ headers: { 'X-Served-By': 'spec' } });
    const wss = (host.upgrades as unknown as { wss: { listenerCount(event: string): number } }).wss;
    expect(wss.listenerCount('headers')).to.equal(1);
    host.upgrades.close();
    expect(wss.listenerCount('headers')).to.equal(0);
  });
});
