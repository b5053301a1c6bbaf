import { expect } from 'chai';
import { WebSocket } from 'ws';
import { WebSocketPeerError } from '../../src/errors/WebSocketPeerError.js';
import { broadcast, broadcastTexts } from '../../src/peer/broadcast.js';
import { WriteMode } from '../../src/peer/constants.js';
import { kOnWritten, type SharedFrame, type Transport, type TransportHandlers } from '../../src/peer/Transport.js';
import type { OutboundData, Packet } from '../../src/peer/types.js';
import { WebSocketPeer } from '../../src/peer/WebSocketPeer.js';
import type { ListenOptions } from '../../src/observables/listen.js';
import {
  collect,
  delay,
  internalsOf,
  spyWrites,
  openClient,
  startServer,
  stopAll,
  type TestServer,
  thrown,
  until,
} from '../helpers.js';

const KiB = 1024;

interface Frame {
  isBinary: boolean;
  data: Buffer;
}

/** A raw `ws` client: an independent end that records each message exactly as it came. */
interface RawClient {
  ws: WebSocket;
  frames: Frame[];
}

function rawClient(url: string): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const frames: Frame[] = [];
    ws.on('message', (data: Buffer, isBinary) => frames.push({ isBinary, data }));
    ws.once('open', () => resolve({ ws, frames }));
    ws.once('error', reject);
  });
}

/** A `listen()` server and `count` raw clients; `peers[i]` is the server's end of `clients[i]`. */
async function room(
  count: number,
  options: ListenOptions = {},
): Promise<{ server: TestServer; peers: WebSocketPeer[]; clients: RawClient[] }> {
  const server = await startServer(options);
  const peers: WebSocketPeer[] = [];
  const clients: RawClient[] = [];
  for (let i = 0; i < count; i++) {
    const next = server.nextPeer();
    clients.push(await rawClient(server.url));
    peers.push(await next);
  }
  return { server, peers, clients };
}

const texts = (client: RawClient): string[] => client.frames.map((f) => `${f.isBinary ? 'b' : 't'}:${f.data}`);

describe('broadcast()', () => {
  let clients: RawClient[] = [];
  afterEach(() => {
    for (const client of clients) client.ws.terminate();
    clients = [];
    stopAll();
  });

  async function openRoom(count: number, options: ListenOptions = {}) {
    const made = await room(count, options);
    clients.push(...made.clients);
    return made;
  }

  it("sends one message to every peer, in order with each peer's own writes, small and large, within and across turns", async () => {
    const { peers, clients: raw } = await openRoom(4);
    const expected: string[][] = peers.map(() => []);
    const members = new Set(peers);
    for (let step = 0; step < 60; step++) {
      if (step % 3 === 0) {
        // Every fifth broadcast is over 16 KiB: it goes out at once, after what the turn held.
        const message = step % 5 === 0 ? `all ${step} ${'x'.repeat(20 * KiB)}` : `all ${step}`;
        expect(broadcast(members, message)).to.deep.equal({ sent: 4, failed: [] });
        for (const list of expected) list.push(`t:${message}`);
      } else {
        peers.forEach((peer, i) => {
          peer.sink.next(`own ${i} ${step}`);
          expected[i]?.push(`t:own ${i} ${step}`);
        });
      }
      if (step % 7 === 0) await delay(1); // a new turn: its first message goes out at once again
    }
    await until(() => raw.every((client) => client.frames.length === 60));
    raw.forEach((client, i) => expect(texts(client), `client ${i}`).to.deep.equal(expected[i]));
  });

  it('writes one frame, the same bytes, to every server peer, and copies what it was given', async () => {
    const { peers, clients: raw } = await openRoom(3);
    const writes = peers.map(spyWrites);
    const data = new Uint8Array([1, 2, 3, 4]);
    for (const peer of peers) peer.setWriteMode(WriteMode.Binary);
    broadcast(peers, data);
    data.fill(9); // too late: the frame has its own copy
    const [first] = writes[0] ?? [];
    expect(first, 'what the first peer wrote').to.be.instanceOf(Uint8Array);
    for (const chunks of writes)
      expect(chunks)
        .to.have.length(1)
        .and.to.satisfy((c: unknown[]) => c[0] === first);
    expect([...(first as Uint8Array)]).to.deep.equal([0x82, 4, 1, 2, 3, 4]);
    await until(() => raw.every((client) => client.frames.length === 1));
    for (const client of raw) expect([...(client.frames[0]?.data ?? [])]).to.deep.equal([1, 2, 3, 4]);
  });

  it("honours each peer's write mode exactly as putPacket() does, and sends a Packet as its own kind", async () => {
    // Four peers: a text one and a binary one that get broadcast(), a twin of each that gets putPacket().
    const { peers, clients: raw } = await openRoom(4);
    const [text, binary, textTwin, binaryTwin] = peers as [WebSocketPeer, WebSocketPeer, WebSocketPeer, WebSocketPeer];
    binary.setWriteMode(WriteMode.Binary);
    binaryTwin.setWriteMode(WriteMode.Binary);
    const utf8 = new TextEncoder().encode('héllo €');
    const cases: OutboundData[] = [
      'héllo €',
      '',
      'x'.repeat(70 * KiB),
      utf8,
      utf8.buffer,
      new DataView(utf8.buffer, 1, 4),
      new Uint16Array([0x4141, 0x4242]),
      { isString: true, data: 'a packet' },
      { isString: false, data: new Uint8Array([0xff, 0xfe, 0]) },
      { isString: false, data: new Uint8Array(0) },
    ];
    for (const data of cases) {
      expect(broadcast([text, binary], data)).to.deep.equal({ sent: 2, failed: [] });
      textTwin.putPacket(data);
      binaryTwin.putPacket(data);
    }
    await until(() => raw.every((client) => client.frames.length === cases.length));
    const [t, b, tt, bt] = raw as [RawClient, RawClient, RawClient, RawClient];
    expect(t.frames).to.deep.equal(tt.frames);
    expect(b.frames).to.deep.equal(bt.frames);
    // And the modes did differ: text frames to one, binary frames to the other, but for the Packets.
    expect(t.frames.map((f) => f.isBinary)).to.deep.equal([
      false,
      false,
      false,
      false,
      false,
      false,
      false,
      false,
      true,
      true,
    ]);
    expect(b.frames.map((f) => f.isBinary)).to.deep.equal([
      true,
      true,
      true,
      true,
      true,
      true,
      true,
      false,
      true,
      true,
    ]);
  });

  it('reports a closing or closed peer in failed, and the others still get the message', async () => {
    const { peers, clients: raw } = await openRoom(4);
    const [open1, closing, closed, open2] = peers as [WebSocketPeer, WebSocketPeer, WebSocketPeer, WebSocketPeer];
    closed.close(1000, 'gone');
    await until(() => !closed.isConnectedToHost() && raw[2]?.ws.readyState === WebSocket.CLOSED);
    await new Promise((resolve) => closed.closed$.subscribe({ complete: () => resolve(undefined) }));
    closing.close(4000, 'leaving');
    const result = broadcast([open1, closing, closed, open2], 'news');
    expect(result.sent).to.equal(2);
    expect(result.failed.map((f) => f.peer)).to.deep.equal([closing, closed]);
    for (const { error } of result.failed) {
      expect(error).to.be.instanceOf(WebSocketPeerError);
      expect(error.code).to.equal('ERR_PEER_CLOSED');
    }
    expect(result.failed.map((f) => f.error.message)).to.deep.equal([
      'Cannot send: the peer is closing',
      'Cannot send: the peer is closed',
    ]);
    await until(() => raw[0]?.frames.length === 1 && raw[3]?.frames.length === 1);
    expect([texts(raw[0] as RawClient), texts(raw[3] as RawClient)]).to.deep.equal([['t:news'], ['t:news']]);
    await delay(20);
    expect([raw[1]?.frames.length, raw[2]?.frames.length]).to.deep.equal([0, 0]);
  });

  describe('misuse', () => {
    it('throws for data that no peer could be sent, the error putPacket() throws, before any peer gets anything', async () => {
      const { peers, clients: raw } = await openRoom(2);
      const detached = new ArrayBuffer(8);
      structuredClone(detached, { transfer: [detached] });
      for (const data of [42, null, undefined, {}, { isString: true, data: new Uint8Array(1) }, detached, [1, 2]]) {
        const error = thrown(() => broadcast(peers, data as unknown as OutboundData));
        const fromPut = thrown(() => peers[0]?.putPacket(data as unknown as OutboundData));
        expect(error, String(data)).to.be.instanceOf(TypeError).and.to.have.property('code', 'ERR_INVALID_DATA');
        expect((error as Error).message).to.equal((fromPut as Error).message);
      }
      // Even to no peer at all: the data is wrong whoever it is for.
      expect(thrown(() => broadcast([], 42 as unknown as OutboundData))).to.have.property('code', 'ERR_INVALID_DATA');
      await delay(30);
      expect(raw.map((client) => client.frames.length)).to.deep.equal([0, 0]);
    });

    it('throws ERR_INVALID_UTF8 for bytes that are not UTF-8 while an open peer is in text mode, sending nothing', async () => {
      const { peers, clients: raw } = await openRoom(3);
      const [binary, text, other] = peers as [WebSocketPeer, WebSocketPeer, WebSocketPeer];
      binary.setWriteMode(WriteMode.Binary);
      other.setWriteMode(WriteMode.Binary);
      const bad = new Uint8Array([0x61, 0xc3, 0x28]);
      const error = thrown(() => broadcast([binary, text, other], bad));
      expect(error).to.be.instanceOf(TypeError).and.to.have.property('code', 'ERR_INVALID_UTF8');
      await delay(30);
      expect(raw.map((client) => client.frames.length)).to.deep.equal([0, 0, 0]);
      // A text peer that is closing would refuse anything: the binary ones get the bytes.
      text.close();
      const result = broadcast([binary, text, other], bad);
      expect(result.sent).to.equal(2);
      expect(result.failed.map((f) => [f.peer, f.error.code])).to.deep.equal([[text, 'ERR_PEER_CLOSED']]);
      await until(() => raw[0]?.frames.length === 1 && raw[2]?.frames.length === 1);
      expect([...(raw[0]?.frames[0]?.data ?? [])]).to.deep.equal([0x61, 0xc3, 0x28]);
    });

    it('throws ERR_INVALID_ARG_TYPE for peers that are not an iterable of peers, before any peer gets anything', async () => {
      const { peers, clients: raw } = await openRoom(2);
      for (const bad of [undefined, null, 42, peers[0], { length: 1, 0: peers[0] }]) {
        const error = thrown(() => broadcast(bad as unknown as Iterable<WebSocketPeer>, 'x'));
        expect(error).to.be.instanceOf(TypeError).and.to.have.property('code', 'ERR_INVALID_ARG_TYPE');
      }
      // Something that is not a peer after one that is: the first one gets nothing either.
      const error = thrown(() => broadcast([peers[0], { sink: {} }, peers[1]] as unknown as WebSocketPeer[], 'x'));
      expect(error).to.have.property('code', 'ERR_INVALID_ARG_TYPE');
      expect((error as Error).message).to.equal('broadcast(): item 1 of peers is not a WebSocketPeer, got an object');
      await delay(30);
      expect(raw.map((client) => client.frames.length)).to.deep.equal([0, 0]);
    });
  });

  it('sends to each peer once however often it is listed, from any iterable; to an empty one, nothing', async () => {
    const { peers, clients: raw } = await openRoom(3);
    const [a, b, c] = peers as [WebSocketPeer, WebSocketPeer, WebSocketPeer];
    expect(broadcast([a, b, a, a, b], 'once')).to.deep.equal({ sent: 2, failed: [] });
    function* listed(): Generator<WebSocketPeer> {
      yield c;
      yield b;
      yield c;
    }
    expect(broadcast(listed(), 'again')).to.deep.equal({ sent: 2, failed: [] });
    expect(broadcast(new Map([[1, a]]).values(), 'third')).to.deep.equal({ sent: 1, failed: [] });
    expect(broadcast(new Set<WebSocketPeer>(), 'nobody')).to.deep.equal({ sent: 0, failed: [] });
    expect(broadcast([], 'nobody')).to.deep.equal({ sent: 0, failed: [] });
    // A closed peer listed twice is reported once.
    a.close();
    const twice = broadcast([a, a], 'late');
    expect([twice.sent, twice.failed.length]).to.deep.equal([0, 1]);
    await until(() => raw.map((client) => client.frames.length).join() === '2,2,1');
    await delay(30);
    expect(raw.map(texts)).to.deep.equal([['t:once', 't:third'], ['t:once', 't:again'], ['t:again']]);
  });

  describe('bufferedAmount$', () => {
    it('counts the small messages a turn holds back exactly as putPacket() does, per peer, then 0', async () => {
      const { peers } = await openRoom(3);
      const [a, b, twin] = peers as [WebSocketPeer, WebSocketPeer, WebSocketPeer];
      const amounts = [a, b, twin].map((peer) => collect(peer.bufferedAmount$));
      for (const data of ['ab€', 'cd', 'efg']) {
        broadcast([a, b], data);
        twin.putPacket(data);
      }
      // Alone in its turn, the first went out at once; the others wait for the end of the turn.
      expect([a, b, twin].map((peer) => peer.getCurrentOutboundBufferedAmount())).to.deep.equal([5, 5, 5]);
      await delay(20);
      expect(amounts.map((amount) => amount.values)).to.deep.equal([
        [0, 2, 5, 0],
        [0, 2, 5, 0],
        [0, 2, 5, 0],
      ]);
    });

    it('is what the OS has not taken, per peer, while readers stall: each message counted by its payload as putPacket() counts it', async function () {
      this.timeout(30_000);
      const { peers, clients: raw } = await openRoom(2, { writeMode: WriteMode.Binary });
      const [a, b] = peers as [WebSocketPeer, WebSocketPeer];
      // Both readers stop: the kernel's buffers fill, then Node's.
      for (const client of raw) (client.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      const seen: Array<{ amount: number; held: number; current: number }> = [];
      for (const peer of [a, b]) {
        const { socket } = internalsOf(peer);
        peer.bufferedAmount$.subscribe((amount) =>
          seen.push({ amount, held: socket.writableLength, current: peer.getCurrentOutboundBufferedAmount() }),
        );
      }
      const chunk = new Uint8Array(256 * KiB);
      let sent = 0;
      while ((a.getCurrentOutboundBufferedAmount() === 0 || b.getCurrentOutboundBufferedAmount() === 0) && sent < 256) {
        broadcast([a, b], chunk);
        sent++;
      }
      expect(sent, 'messages until both wait in the process').to.be.below(256);
      // From here on nothing reaches the kernel at once: each message adds its payload exactly.
      const steps: OutboundData[] = [
        new Uint8Array(100 * KiB),
        'é'.repeat(3000), // 6,000 bytes of UTF-8, in binary mode
        { isString: true, data: '€'.repeat(10) }, // 30 bytes, held for the end of the turn
        new Uint8Array(5),
      ];
      for (const data of steps) {
        const before = [a, b].map((peer) => peer.getCurrentOutboundBufferedAmount());
        broadcast([a], data);
        b.putPacket(data);
        const added = [a, b].map((peer, i) => peer.getCurrentOutboundBufferedAmount() - (before[i] as number));
        const payload =
          typeof data === 'string'
            ? Buffer.byteLength(data)
            : 'isString' in data
              ? Buffer.byteLength(data.data)
              : (data as Uint8Array).byteLength;
        expect(added, `added by ${payload} bytes of payload`).to.deep.equal([payload, payload]);
      }
      const received = raw.map(() => 0);
      raw.forEach((client, i) => client.ws.on('message', () => received[i]++));
      for (const client of raw) (client.ws as unknown as { _socket: { resume(): void } })._socket.resume();
      await until(
        () => a.getCurrentOutboundBufferedAmount() === 0 && b.getCurrentOutboundBufferedAmount() === 0,
        20_000,
      );
      await until(
        () =>
          received.every((count) => count === raw[0]?.frames.length) &&
          (raw[0]?.frames.length ?? 0) === sent + steps.length,
      );
      for (const { amount, held, current } of seen) {
        expect(current).to.equal(amount);
        // What the socket holds, less the headers of the frames it holds (at most 14 bytes each).
        expect(amount).to.be.at.most(held);
        expect(held - amount).to.be.at.most((sent + steps.length) * 14);
      }
      expect(seen.filter((s) => s.amount === 0).length, 'back to 0 on both').to.be.at.least(2);
    });
  });

  it('sends to client peers (masked frames) as putPacket() does, and to a set that mixes them with server peers', async () => {
    // Two client peers (connect()), whose server ends are checked by a listen() server, and two
    // server peers with raw clients: all in one set.
    const { server, peers: serverPeers, clients: raw } = await openRoom(2);
    const remote = [server.nextPeer()];
    const c1 = await openClient(server.url);
    remote.push(server.nextPeer());
    const c2 = await openClient(server.url);
    const [r1, r2] = await Promise.all(remote);
    const received = [r1, r2].map((peer) => collect(peer?.packets$ as NonNullable<typeof peer>['packets$']));
    const writes = [c1.peer, serverPeers[0] as WebSocketPeer].map(spyWrites);
    const mixed = [c1.peer, serverPeers[0] as WebSocketPeer, c2.peer, serverPeers[1] as WebSocketPeer];
    const expected: string[] = [];
    for (let i = 0; i < 20; i++) {
      const message = i % 4 === 0 ? `m${i} ${'y'.repeat(20 * KiB)}` : `m${i}`;
      expect(broadcast(mixed, message)).to.deep.equal({ sent: 4, failed: [] });
      for (const peer of mixed) peer.sink.next(`own ${i}`);
      expected.push(message, `own ${i}`);
      if (i % 5 === 0) await delay(1);
    }
    await until(
      () => received.every((r) => r.values.length === 40) && raw.every((client) => client.frames.length === 40),
    );
    for (const r of received) expect(r.values.map((p: Packet) => p.data)).to.deep.equal(expected);
    for (const client of raw) expect(client.frames.map((f) => String(f.data))).to.deep.equal(expected);
    // The client's frames were its own (masked), not the servers' shared ones.
    const [clientWrites, serverWrites] = writes as [unknown[], unknown[]];
    expect(clientWrites.some((chunk) => serverWrites.includes(chunk))).to.equal(false);
    expect(((clientWrites[0] as Uint8Array)[1] as number) & 0x80, 'the mask bit').to.equal(0x80);
  });

  describe('broadcastTexts(): several messages at once, for the rooms server', () => {
    it('writes them to each server peer in one write, the same bytes for all, as separate messages in order', async () => {
      const { peers, clients: raw } = await openRoom(3);
      const writes = peers.map(spyWrites);
      // Sizes on each side of the 7- and 16-bit length encodings, and a non-ASCII one.
      const texts = ['a', 'é€😀', 'x'.repeat(125), 'y'.repeat(126), 'z'.repeat(70_000), ''];
      expect(broadcastTexts(peers, texts)).to.deep.equal([]);
      const [first] = writes[0] ?? [];
      for (const chunks of writes)
        expect(chunks)
          .to.have.length(1)
          .and.to.satisfy((c: unknown[]) => c[0] === first);
      await until(() => raw.every((client) => client.frames.length === texts.length));
      for (const client of raw) {
        expect(client.frames.map((f) => f.isBinary)).to.deep.equal(texts.map(() => false));
        expect(client.frames.map((f) => String(f.data))).to.deep.equal(texts);
      }
    });

    it('sends them one by one to a client peer (its frames are masked), and reports a closed peer', async () => {
      const { server } = await openRoom(0);
      const remote = server.nextPeer();
      const client = await openClient(server.url);
      const received = collect((await remote).packets$);
      const closed = (await openRoom(1)).peers[0] as WebSocketPeer;
      closed.close();
      expect(broadcastTexts([client.peer, closed], ['one', 'two', 'three'])).to.deep.equal([closed]);
      await until(() => received.values.length === 3);
      expect(received.values.map((p: Packet) => [p.isString, p.data])).to.deep.equal([
        [true, 'one'],
        [true, 'two'],
        [true, 'three'],
      ]);
    });
  });

  describe('over a transport that takes no shared frame', () => {
    /** A transport that records what it is asked to send; `sendFrame` as given. */
    function recordingTransport(sendFrame?: (frame: SharedFrame) => number | undefined) {
      const sends: Array<[string | Uint8Array, boolean]> = [];
      let handlers: TransportHandlers | undefined;
      const transport: Transport = {
        closeCodes: 'application',
        protocol: '',
        remoteHost: undefined,
        remotePort: undefined,
        handshake: { url: '/', headers: {} },
        bind: (h) => (handlers = h),
        send: (data, asText) => {
          sends.push([typeof data === 'string' ? data : Uint8Array.from(data), asText]);
          return 0;
        },
        queuedBytes: () => 0,
        close: () => {},
        terminate: () => {},
        ...(sendFrame && { sendFrame }),
      };
      return { transport, sends, written: () => handlers?.[kOnWritten]() };
    }

    it("sends each peer's payload with send(), as putPacket() does (the browser's WebSocket frames it itself)", () => {
      const viaBroadcast = recordingTransport();
      const viaPut = recordingTransport();
      const peers = [new WebSocketPeer(viaBroadcast.transport), new WebSocketPeer(viaPut.transport)];
      for (const mode of [WriteMode.Text, WriteMode.Binary]) {
        for (const peer of peers) peer.setWriteMode(mode);
        for (const data of [
          'a€',
          new Uint8Array([0x61, 0x62]),
          { isString: false, data: new Uint8Array([1]) } as Packet,
        ]) {
          broadcast([peers[0] as WebSocketPeer], data);
          peers[1]?.putPacket(data);
        }
      }
      expect(viaBroadcast.sends).to.have.length(6);
      expect(viaBroadcast.sends).to.deep.equal(viaPut.sends);
    });

    it("finds a peer closing whose platform tells only when asked (the browser's isOpen()), and sends it nothing", () => {
      const open = recordingTransport();
      const closingTransport = recordingTransport();
      const closing = new WebSocketPeer({ ...closingTransport.transport, isOpen: () => false });
      const result = broadcast([new WebSocketPeer(open.transport), closing], 'x');
      expect(result.sent).to.equal(1);
      expect(result.failed.map((f) => [f.peer, f.error.code])).to.deep.equal([[closing, 'ERR_PEER_CLOSED']]);
      expect(closing.isConnectedToHost()).to.equal(false);
      expect(closingTransport.sends).to.deep.equal([]);
      expect(open.sends).to.deep.equal([['x', true]]);
    });

    it('sends with send(), and makes no frame, when sendFrame() declines', () => {
      let asked = 0;
      let made = 0;
      const declining = recordingTransport((frame) => {
        asked++;
        void frame;
        return undefined;
      });
      const spy = (frame: SharedFrame): number | undefined => {
        asked++;
        made += frame.bytes().byteLength;
        return 0;
      };
      const taking = recordingTransport(spy);
      const peers = [new WebSocketPeer(declining.transport), new WebSocketPeer(taking.transport)];
      expect(broadcast(peers, 'hello')).to.deep.equal({ sent: 2, failed: [] });
      expect(asked).to.equal(2);
      expect(declining.sends).to.deep.equal([['hello', true]]);
      expect(taking.sends).to.deep.equal([]);
      expect(made, 'one frame of 2 + 5 bytes, made for the peer that took it').to.equal(7);
    });
  });
});
