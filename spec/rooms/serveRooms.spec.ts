import { expect } from 'chai';
import { lastValueFrom, Observable, Subscription } from 'rxjs';
import type { WebSocketPeer } from '../../src/peer/WebSocketPeer.js';
import WebSocket from 'ws';
import { memoryRooms } from '../../src/rooms/memoryRooms.js';
import { serveRooms, type ServeRoomsOptions, SLOW_SUBSCRIBER_CODE } from '../../src/rooms/serveRooms.js';
import type { RoomEngine, RoomMessage } from '../../src/rooms/types.js';
import { serveRoomsHere } from '../fixtures/roomsHere.js';
import { delay, expectInvalidOption, spyWrites, until } from '../helpers.js';

type Json = Record<string, unknown>;

/** A raw ws client of the protocol: what it received, parsed, and how it closed. */
interface Client {
  ws: WebSocket;
  got: Json[];
  closed: Promise<{ code: number; reason: string }>;
  send(message: unknown): void;
}

async function client(url: string): Promise<Client> {
  const ws = new WebSocket(url);
  const got: Json[] = [];
  ws.on('message', (data) => got.push(JSON.parse(String(data)) as Json));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return {
    ws,
    got,
    closed,
    send: (message) => ws.send(typeof message === 'string' ? message : JSON.stringify(message)),
  };
}

/** `engine`, counting its open `room$()` subscriptions. */
function countSubscriptions(engine: RoomEngine): { engine: RoomEngine; active: () => number } {
  let active = 0;
  return {
    active: () => active,
    engine: {
      publish: (room, data, id) => engine.publish(room, data, id),
      head: (room) => engine.head(room),
      state$: engine.state$,
      room$: (room, from) =>
        new Observable<RoomMessage>((subscriber) => {
          active++;
          const subscription = engine.room$(room, from).subscribe(subscriber);
          return () => {
            active--;
            subscription.unsubscribe();
          };
        }),
    },
  };
}

describe('serveRooms(): the rooms protocol on a server', () => {
  let running = new Subscription();
  const clients: Client[] = [];
  afterEach(() => {
    for (const c of clients.splice(0)) c.ws.terminate();
    running.unsubscribe();
    running = new Subscription();
  });

  /** The server side of each connection, in the order they came. */
  let serverPeers: WebSocketPeer[] = [];
  afterEach(() => (serverPeers = []));

  /** A listen() server serving `engine`'s rooms; resolves its URL. */
  async function serve(engine: RoomEngine, options?: ServeRoomsOptions): Promise<string> {
    const here = await serveRoomsHere(engine, running, options);
    serverPeers = here.peers;
    return here.url;
  }
  const open = async (url: string): Promise<Client> => {
    const c = await client(url);
    clients.push(c);
    return c;
  };

  it('joins from now with the position it starts after, delivers each message in order, and acknowledges publishes', async () => {
    const engine = memoryRooms();
    const url = await serve(engine);
    const [reader, writer] = [await open(url), await open(url)];
    reader.send({ type: 'join', room: 'chat' });
    await until(() => reader.got.length === 1);
    const joined = reader.got[0] as { type: string; after: { epoch: string; offset: number } };
    expect(joined).to.include({ type: 'joined', room: 'chat' });
    expect(joined.after.offset).to.equal(0);
    writer.send({ type: 'publish', room: 'chat', id: 'w-1', text: 'hello' });
    writer.send({ type: 'publish', room: 'chat', id: 'w-2', bytes: Buffer.from([1, 2, 3]).toString('base64') });
    await until(() => reader.got.length === 3 && writer.got.length === 2);
    expect(reader.got.slice(1)).to.deep.equal([
      { type: 'message', room: 'chat', position: { epoch: joined.after.epoch, offset: 1 }, text: 'hello' },
      { type: 'message', room: 'chat', position: { epoch: joined.after.epoch, offset: 2 }, bytes: 'AQID' },
    ]);
    expect(writer.got).to.deep.equal([
      { type: 'ack', id: 'w-1', room: 'chat', position: { epoch: joined.after.epoch, offset: 1 } },
      { type: 'ack', id: 'w-2', room: 'chat', position: { epoch: joined.after.epoch, offset: 2 } },
    ]);
    // A publish sent again (its ack lost with a connection) is stored once, acknowledged again.
    writer.send({ type: 'publish', room: 'chat', id: 'w-1', text: 'hello' });
    await until(() => writer.got.length === 3);
    expect(writer.got[2]).to.deep.include({
      type: 'ack',
      id: 'w-1',
      position: { epoch: joined.after.epoch, offset: 1 },
    });
    await delay(20);
    expect(reader.got).to.have.length(3);
  });

  it('resumes from a position on a new connection with nothing lost and nothing twice; a gap is an error, not a hole', async () => {
    const engine = memoryRooms({ historySize: 3 });
    const url = await serve(engine);
    const positions = [];
    for (const text of ['1', '2', '3', '4', '5']) positions.push(await lastValueFrom(engine.publish('r', text)));
    const resumed = await open(url);
    resumed.send({ type: 'join', room: 'r', from: positions[2] });
    await until(() => resumed.got.length === 3);
    expect(resumed.got.slice(1).map((m) => m['text'])).to.deep.equal(['4', '5']);
    const late = await open(url);
    late.send({ type: 'join', room: 'r', from: positions[0] });
    await until(() => late.got.length === 2);
    expect(late.got[1]).to.deep.equal({
      type: 'error',
      room: 'r',
      code: 'ERR_ROOM_GAP',
      lastDelivered: positions[0],
      oldestAvailable: positions[2],
    });
  });

  it('refuses what authorize() refuses, for that room only, and keeps the connection', async () => {
    const engine = memoryRooms();
    const url = await serve(engine, {
      authorize: (_peer, room, action) =>
        room === 'open' || (action === 'join' ? Promise.resolve(room === 'read-only') : false),
    });
    const c = await open(url);
    c.send({ type: 'join', room: 'secret' });
    c.send({ type: 'publish', room: 'read-only', id: 'p', text: 'x' });
    c.send({ type: 'join', room: 'read-only' });
    c.send({ type: 'publish', room: 'open', id: 'q', text: 'y' });
    await until(() => c.got.length === 4);
    // In the order sent, though the join answers asynchronously.
    expect(c.got.map((m) => [m['type'], m['room'], m['code'] ?? m['id'] ?? ''])).to.deep.equal([
      ['error', 'secret', 'ERR_ROOM_FORBIDDEN'],
      ['error', 'read-only', 'ERR_ROOM_FORBIDDEN'],
      ['joined', 'read-only', ''],
      ['ack', 'open', 'q'],
    ]);
    expect(c.ws.readyState).to.equal(WebSocket.OPEN);
  });

  it('closes a peer that breaks the protocol (1002 not JSON or binary, 1008 no message), acts on nothing after, the others untouched', async () => {
    const engine = memoryRooms();
    const url = await serve(engine);
    const bystander = await open(url);
    bystander.send({ type: 'join', room: 'r' });
    const cases: [unknown, number][] = [
      ['not json', 1002],
      [Buffer.from([1, 2]), 1002],
      [{ type: 'dance', room: 'r' }, 1008],
      [{ type: 'join' }, 1008],
      [{ type: 'join', room: 'r', from: { epoch: 1, offset: -1 } }, 1008],
      [{ type: 'publish', room: 'r', id: 'x' }, 1008],
      [{ type: 'publish', room: 'r', id: 'x', bytes: '***' }, 1008],
      [[1, 2], 1008],
    ];
    for (const [message, code] of cases) {
      const c = await open(url);
      if (Buffer.isBuffer(message)) c.ws.send(message);
      else c.send(message);
      // Sent in the same burst, after the bad one: not acted on.
      c.send({ type: 'publish', room: 'after-the-error', id: 'late', text: 'x' });
      expect((await c.closed).code, JSON.stringify(message)).to.equal(code);
      expect(
        c.got.filter((m) => m['type'] === 'ack'),
        JSON.stringify(message),
      ).to.deep.equal([]);
    }
    expect((await lastValueFrom(engine.head('after-the-error'))).offset).to.equal(0);
    await until(() => bystander.got.length === 1);
    expect(bystander.ws.readyState).to.equal(WebSocket.OPEN);
  });

  it('closes a subscriber that does not read with 4001, past maxQueuedBytes, while the others get everything', async () => {
    const engine = memoryRooms({ historySize: 100_000 });
    const url = await serve(engine, { maxQueuedBytes: 256 * 1024 });
    const [slow, fast] = [await open(url), await open(url)];
    slow.send({ type: 'join', room: 'r' });
    fast.send({ type: 'join', room: 'r' });
    await until(() => slow.got.length === 1 && fast.got.length === 1);
    // The slow one stops reading from its socket.
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    // 8 MiB, 64 KiB a turn: more than the kernel's buffers hold for the one that does not read.
    const text = 'x'.repeat(1024);
    const total = 8192;
    for (let i = 0; i < total; i += 64) {
      for (let k = 0; k < 64; k++) engine.publish('r', text).subscribe();
      await delay(1);
    }
    await until(() => fast.got.length === total + 1, 10_000);
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    expect((await slow.closed).code).to.equal(SLOW_SUBSCRIBER_CODE);
    expect(fast.got.slice(1).map((m) => (m['position'] as { offset: number }).offset)).to.deep.equal(
      Array.from({ length: total }, (_, i) => i + 1),
    );
    expect(fast.ws.readyState).to.equal(WebSocket.OPEN);
  });

  it('judges a reader once its frames went to the OS: a burst it takes in stride does not close it', async () => {
    const engine = memoryRooms({ historySize: 100_000 });
    const url = await serve(engine, { maxQueuedMessages: 1_000 });
    const reader = await open(url);
    reader.send({ type: 'join', room: 'r' });
    await until(() => reader.got.length === 1);
    // Five times the bound in one turn: every frame waits in the process until the turn ends.
    for (let i = 0; i < 5_000; i++) engine.publish('r', 'x'.repeat(64)).subscribe();
    await until(() => reader.got.length === 5_001, 10_000);
    await delay(20);
    expect(reader.ws.readyState).to.equal(WebSocket.OPEN);
  });

  it('closes a reader of small messages with 4001 past maxQueuedMessages, while the others get everything', async () => {
    const engine = memoryRooms({ historySize: 200_000 });
    const url = await serve(engine, { maxQueuedBytes: 256 * 1024 * 1024, maxQueuedMessages: 2_000 });
    const [slow, fast] = [await open(url), await open(url)];
    slow.send({ type: 'join', room: 'r' });
    fast.send({ type: 'join', room: 'r' });
    await until(() => slow.got.length === 1 && fast.got.length === 1);
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    // Messages of 64 B, 1,000 a turn, until the kernel's buffers are full and the server gives up
    // on it (at most 400,000), then as many again: the fast one reads on meanwhile. The next turn
    // waits for the fast one to have them all, so that it never has more than 1,000 waiting (on a
    // busy machine, a turn every millisecond outran it past its own 2,000 and it was cut too).
    const slowOnServer = serverPeers[0] as WebSocketPeer;
    let total = 0;
    const publish = async (): Promise<void> => {
      for (let k = 0; k < 1_000; k++) engine.publish('r', 'y'.repeat(64)).subscribe();
      total += 1_000;
      await until(() => fast.got.length === total + 1, 10_000);
    };
    while (slowOnServer.isConnectedToHost() && total < 400_000) await publish();
    expect(slowOnServer.isConnectedToHost(), 'the slow peer is closed').to.equal(false);
    for (let i = 0; i < 10; i++) await publish();
    await until(() => fast.got.length === total + 1, 20_000);
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    expect((await slow.closed).code).to.equal(SLOW_SUBSCRIBER_CODE);
    const offsets = fast.got.slice(1).map((m) => (m['position'] as { offset: number }).offset);
    expect(offsets.every((offset, i) => offset === i + 1)).to.equal(true);
  });

  it('reads each room on one engine subscription for all its peers; a peer from further back catches up paced, then shares it', async () => {
    const counted = countSubscriptions(memoryRooms({ historySize: 100_000 }));
    const url = await serve(counted.engine, { maxQueuedBytes: 256 * 1024 });
    const peers = await Promise.all(Array.from({ length: 20 }, () => open(url)));
    for (const peer of peers) peer.send({ type: 'join', room: 'r' });
    await until(() => peers.every((peer) => peer.got.length === 1));
    expect(counted.active()).to.equal(1);
    // 3 MiB of history, twelve times the late peer's bound.
    const text = 'z'.repeat(1024);
    for (let i = 0; i < 3_072; i++) counted.engine.publish('r', text).subscribe();
    await until(() => peers.every((peer) => peer.got.length === 3_073), 10_000);
    const first = (peers[0] as Client).got[0] as { after: { epoch: string } };
    const late = await open(url);
    (late.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    late.send({ type: 'join', room: 'r', from: { epoch: first.after.epoch, offset: 0 } });
    // It does not read for a while: its catch-up pauses (no subscription of its own meanwhile)
    // rather than filling the server, and it is not closed.
    await delay(300);
    expect(counted.active()).to.equal(1);
    expect(late.ws.readyState).to.equal(WebSocket.OPEN);
    (late.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    for (let i = 0; i < 100; i++) counted.engine.publish('r', 'after').subscribe();
    await until(() => late.got.length === 1 + 3_172, 10_000);
    expect(late.ws.readyState).to.equal(WebSocket.OPEN);
    const offsets = late.got.slice(1).map((m) => (m['position'] as { offset: number }).offset);
    expect(offsets).to.deep.equal(Array.from({ length: 3_172 }, (_, i) => i + 1));
    // Caught up, it reads with everyone on the room's one subscription.
    await until(() => counted.active() === 1);
    for (const peer of peers) peer.ws.close();
    late.ws.close();
    await until(() => counted.active() === 0);
  });

  it('on server.stop(), stores what a peer published before its close, unlike after a protocol error', async () => {
    const engine = memoryRooms();
    let stop: (() => void) | undefined;
    // The server stops as the first publish is stored: the rest arrive while it closes.
    const stopping: RoomEngine = {
      head: (room) => engine.head(room),
      room$: (room, from) => engine.room$(room, from),
      state$: engine.state$,
      publish: (room, data, id) => {
        stop?.();
        stop = undefined;
        return engine.publish(room, data, id);
      },
    };
    const { url, server } = await serveRoomsHere(stopping, running);
    stop = () => server.stop();
    const c = await open(url);
    for (let i = 0; i < 500; i++) c.send({ type: 'publish', room: 'r', id: `p${i}`, text: `m${i}` });
    expect((await c.closed).code).to.equal(1001);
    // Stored, all of them; acknowledged, those before the close frame went out (none may follow
    // it): a client sends the others again, under the same ids, to the next server.
    expect((await lastValueFrom(engine.head('r'))).offset).to.equal(500);
    expect(c.got.filter((m) => m['type'] === 'ack').length).to.be.below(500);
  });

  it("writes a turn's messages of a room to each subscriber in one write, and the next turn's in the next", async () => {
    const engine = memoryRooms();
    const url = await serve(engine);
    const readers = [await open(url), await open(url)];
    for (const reader of readers) reader.send({ type: 'join', room: 'r' });
    await until(() => readers.every((reader) => reader.got.length === 1));
    const writes = serverPeers.map(spyWrites);
    for (let i = 0; i < 50; i++) engine.publish('r', `a${i}`).subscribe();
    await delay(5);
    for (let i = 0; i < 50; i++) engine.publish('r', `b${i}`).subscribe();
    await until(() => readers.every((reader) => reader.got.length === 101));
    for (const chunks of writes) expect(chunks.filter((c) => (c as Uint8Array).length > 0)).to.have.length(2);
    for (const reader of readers) {
      expect(reader.got.slice(1).map((m) => m['text'])).to.deep.equal([
        ...Array.from({ length: 50 }, (_, i) => `a${i}`),
        ...Array.from({ length: 50 }, (_, i) => `b${i}`),
      ]);
    }
  });

  it('refuses a bad engine or option at once', () => {
    expect(() => serveRooms({} as never))
      .to.throw(TypeError)
      .with.property('code', 'ERR_INVALID_ARG_TYPE');
    expectInvalidOption(
      () => serveRooms(memoryRooms(), { maxQueuedBytes: 0 }),
      "serveRooms(): option 'maxQueuedBytes' must be a positive integer (bytes)",
    );
    expectInvalidOption(
      () => serveRooms(memoryRooms(), { authorise: () => true } as never),
      "serveRooms(): unknown option 'authorise' (did you mean 'authorize'?)",
    );
  });
});
