import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { expect } from 'chai';
import { WebSocket, WebSocketServer } from 'ws';
import type { SharedFrame, Transport } from '../../../src/peer/Transport.js';
import { serverFrame } from '../../../src/peer/serverFrame.js';
import { NodeTransport } from '../../../src/transport/node/NodeTransport.js';
import { PeerSocket } from '../../../src/transport/node/PeerSocket.js';
import { kinds, openPair, recorder, until, upgradeHost, type UpgradeHost } from './transportHelpers.js';

/** A frame of `text` that counts how often its bytes were asked for. */
function countedFrame(text: string): SharedFrame & { made: number } {
  const length = Buffer.byteLength(text);
  const frame = {
    made: 0,
    payloadLength: length,
    bytes: () => {
      frame.made++;
      return serverFrame(text, true, length);
    },
  };
  return frame;
}

/** NodeTransport.sendFrame(): a frame made for many connections, written on a server's. */
describe('NodeTransport.sendFrame()', () => {
  let host: UpgradeHost;
  const open: Transport[] = [];

  before(async () => {
    host = await upgradeHost();
  });

  after(async () => {
    await host.close();
  });

  afterEach(() => {
    for (const transport of open) transport.terminate();
    open.length = 0;
  });

  async function pair() {
    const { client, server } = await openPair(host);
    open.push(client, server);
    const c = recorder();
    const s = recorder();
    client.bind(c.handlers, false);
    server.bind(s.handlers, false);
    return { client, server, c: c.events, s: s.events };
  }

  it("writes a server's frame as it is, in order with send(), and reports each message written once", async () => {
    const { client, server, c, s } = await pair();
    const shared = countedFrame('shared €');
    expect(server.send('one', true)).to.equal(0);
    expect(server.sendFrame?.(shared)).to.be.a('number');
    server.send(new Uint8Array([2]), false);
    expect(server.sendFrame?.(countedFrame('x'.repeat(20_000)))).to.be.a('number'); // large: uncorks
    expect(server.sendFrame?.(shared)).to.be.a('number');
    expect(shared.made, 'asked for its bytes each time it was written').to.equal(2);
    expect(kinds(s), 'nothing written synchronously').to.deep.equal([]);
    await until(() => kinds(c).filter((k) => k === 'message').length === 5, 'every message read');
    expect(c.map((e) => (e[0] === 'message' ? e[1].data : undefined)).filter(Boolean)).to.deep.equal([
      'one',
      'shared €',
      new Uint8Array([2]),
      'x'.repeat(20_000),
      'shared €',
    ]);
    await until(() => kinds(s).length === 5, 'written for each message');
    expect(kinds(s)).to.deep.equal(['written', 'written', 'written', 'written', 'written']);
    expect(client.queuedBytes()).to.equal(0);
  });

  it('returns the unwritten part of the payload, as send() does, once the socket is backed up', async () => {
    const { client, server } = await pair();
    client.pause?.();
    const chunk = new Uint8Array(1024 * 1024);
    let sends = 0;
    while (server.send(chunk, false) === 0 && sends < 64) sends++;
    expect(sends, 'sends until the socket holds some').to.be.below(64);
    const text = 'é'.repeat(1000);
    expect(server.sendFrame?.(countedFrame(text))).to.equal(2000);
    expect(server.send(text, true)).to.equal(2000);
    client.resume?.();
  });

  it("declines a client's connection (its frames are masked), never asking for the frame's bytes", async () => {
    const { client, s } = await pair();
    const frame = countedFrame('masked');
    expect(client.sendFrame?.(frame)).to.equal(undefined);
    expect(frame.made).to.equal(0);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(kinds(s)).to.deep.equal([]);
  });

  it('declines a connection that is closing, so that send() reports the message as ws does', async () => {
    const { server, s } = await pair();
    server.close(1000, '');
    const frame = countedFrame('late');
    expect(server.sendFrame?.(frame)).to.equal(undefined);
    expect(frame.made).to.equal(0);
    await until(() => kinds(s).includes('close'), 'the close');
  });

  it('declines a connection with permessage-deflate, whose sender compresses each message', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true, WebSocket: PeerSocket });
    await once(wss, 'listening');
    try {
      const accepted = once(wss, 'connection');
      const raw = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, { perMessageDeflate: true });
      const [ws] = (await accepted) as [PeerSocket];
      const transport = new NodeTransport(
        ws,
        (ws as unknown as { _socket: Socket })._socket,
        { url: '/', headers: {} },
        false,
      );
      expect(ws.extensions).to.equal('permessage-deflate');
      const { handlers } = recorder();
      transport.bind(handlers, false);
      const frame = countedFrame('deflated');
      expect(transport.sendFrame(frame)).to.equal(undefined);
      expect(frame.made).to.equal(0);
      const received = once(raw, 'message');
      transport.send('deflated', true);
      expect(String((await received)[0])).to.equal('deflated');
      raw.terminate();
    } finally {
      wss.close();
    }
  });
});
