import { expect } from 'chai';
import { lastValueFrom, Subscription, switchMap } from 'rxjs';
import { listen } from '../../src/observables/listen.js';
import type { PeerServer } from '../../src/observables/PeerServer.js';
import type { Connection } from '../../src/reconnect/Connection.js';
import { reconnecting } from '../../src/reconnect/reconnecting.js';
import { connect as connectOnce } from '../../src/observables/connect.js';
import { ROOMS_PROTOCOL } from '../../src/rooms/protocol.js';
import { memoryRooms } from '../../src/rooms/memoryRooms.js';
import { roomClient } from '../../src/rooms/roomClient.js';
import type { RoomEngine, RoomMessage } from '../../src/rooms/types.js';
import type { WebSocketPeer } from '../../src/peer/WebSocketPeer.js';
import { type RoomsHere, serveRoomsHere } from '../fixtures/roomsHere.js';
import { internalsOf, until } from '../helpers.js';

describe('roomClient(): rooms over a reconnecting() connection', () => {
  let running = new Subscription();
  const connections: Connection[] = [];
  afterEach(() => {
    // The subscriptions first: closing a connection ends its joins and publishes with an error.
    running.unsubscribe();
    running = new Subscription();
    for (const c of connections.splice(0)) c.close();
  });

  /** A server of `engine`'s rooms, and the server peers it has (to cut them). */
  const serve = (engine: RoomEngine): Promise<RoomsHere> => serveRoomsHere(engine, running);
  const connect = (url: string): Connection => {
    const c = reconnecting(url, { initialDelay: 5, maxDelay: 20, jitter: 0 });
    connections.push(c);
    return c;
  };

  it('publishes and reads a room, each message once, in order, across connections cut again and again', async () => {
    const engine = memoryRooms();
    const { url, peers } = await serve(engine);
    const reader = roomClient(connect(url));
    const writer = roomClient(connect(url));
    const got: RoomMessage[] = [];
    running.add(reader.join('chat').subscribe((m) => got.push(m)));
    // A join from now starts where the server confirms it: the first message makes sure it has.
    const acked: number[] = [];
    writer.publish('chat', 'm0').subscribe((p) => acked.push(p.offset));
    await until(() => got.length === 1);
    const total = 600;
    for (let i = 1; i < total; i++) {
      writer.publish('chat', `m${i}`).subscribe((p) => acked.push(p.offset));
      if (i % 100 === 50) {
        // Cut every server-side connection, the reader's and the writer's, mid-stream.
        for (const peer of peers.splice(0)) internalsOf(peer).socket.resetAndDestroy();
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    await until(() => got.length === total && acked.length === total, 20_000);
    expect(got.map((m) => m.data)).to.deep.equal(Array.from({ length: total }, (_, i) => `m${i}`));
    expect(got.map((m) => m.position.offset)).to.deep.equal(Array.from({ length: total }, (_, i) => i + 1));
    expect([...acked].sort((a, b) => a - b)).to.deep.equal(Array.from({ length: total }, (_, i) => i + 1));
    // Stored once each, though some were sent again after a cut.
    const head = await lastValueFrom(engine.head('chat'));
    expect(head.offset).to.equal(total);
  });

  it('speaks the subprotocol ROOMS_PROTOCOL: listen() selects it, and requireProtocol refuses a client without it', async () => {
    const engine = memoryRooms();
    const { url } = await serve(engine);
    const offered = reconnecting(url, { protocols: ROOMS_PROTOCOL, initialDelay: 5, jitter: 0 });
    connections.push(offered);
    const rooms = roomClient(offered);
    const position = await lastValueFrom(rooms.publish('chat', 'hi'));
    expect(position.offset).to.equal(1);
    const status = offered.currentStatus;
    expect(status.state).to.equal('open');
    if (status.state === 'open') expect(status.peer.getSelectedProtocol()).to.equal('rx-websocket-peer.rooms.v1');

    // A server that insists: a client that does not offer it is refused at the handshake.
    const strict = await new Promise<PeerServer>((resolve, reject) => {
      running.add(
        listen({ host: '127.0.0.1', port: 0, protocols: [ROOMS_PROTOCOL], requireProtocol: true }).subscribe({
          next: resolve,
          error: reject,
        }),
      );
    });
    const refused = await lastValueFrom(connectOnce(`ws://127.0.0.1:${strict.port}`)).catch((e: unknown) => e);
    expect(refused).to.have.property('code', 'ERR_HANDSHAKE_REJECTED');
    expect(refused).to.have.property('statusCode', 400);
  });

  it('sends at most maxInFlight publishes before acknowledgements come, in the order published', async () => {
    // A server that records what it gets and acknowledges only when told.
    const frames: { id: string; text: string }[] = [];
    let serverPeer: WebSocketPeer | undefined;
    const port = await new Promise<number>((resolve, reject) => {
      running.add(
        listen({ host: '127.0.0.1', port: 0 })
          .pipe(
            switchMap((server: PeerServer) => {
              resolve(server.port);
              return server.peers$;
            }),
          )
          .subscribe({
            next: (peer) => {
              serverPeer = peer;
              peer.packets$.subscribe({
                next: (p) => frames.push(JSON.parse(p.data as string) as { id: string; text: string }),
                error: () => {},
              });
            },
            error: reject,
          }),
      );
    });
    const connection = connect(`ws://127.0.0.1:${port}`);
    const rooms = roomClient(connection, { maxInFlight: 5 });
    const acked: string[] = [];
    for (let i = 1; i <= 20; i++) running.add(rooms.publish('r', `p${i}`).subscribe(() => acked.push(`p${i}`)));
    await until(() => frames.length === 5);
    await new Promise((r) => setTimeout(r, 30));
    expect(frames.map((f) => f.text)).to.deep.equal(['p1', 'p2', 'p3', 'p4', 'p5']);
    const ack = (frame: { id: string }, offset: number): void =>
      serverPeer?.putPacket(JSON.stringify({ type: 'ack', id: frame.id, room: 'r', position: { epoch: 'e', offset } }));
    ack(frames[0] as { id: string }, 1);
    ack(frames[1] as { id: string }, 2);
    await until(() => frames.length === 7);
    expect(acked).to.deep.equal(['p1', 'p2']);
    expect(frames.slice(5).map((f) => f.text)).to.deep.equal(['p6', 'p7']);
  });

  it("holds its publishes to the connection's queue: past maxQueuedWrites, publish errors with ERR_QUEUE_FULL", async () => {
    // Nothing listens there: every publish waits.
    const connection = reconnecting('ws://127.0.0.1:9', { maxQueuedWrites: 3, initialDelay: 1000 });
    connections.push(connection);
    const rooms = roomClient(connection);
    const errors: unknown[] = [];
    for (let i = 0; i < 4; i++)
      running.add(rooms.publish('r', `p${i}`).subscribe({ error: (e: unknown) => errors.push(e) }));
    expect(errors).to.have.length(1);
    expect(errors[0]).to.have.property('code', 'ERR_QUEUE_FULL');
    // One that gives up its place makes room for another.
    running.unsubscribe();
    running = new Subscription();
    const again: unknown[] = [];
    running.add(rooms.publish('r', 'later').subscribe({ error: (e: unknown) => again.push(e) }));
    expect(again).to.deep.equal([]);
  });

  it('ends every join and publish when the connection closes for good, by close() or by giving up, and refuses new ones', async () => {
    const outcomes = (rooms: ReturnType<typeof roomClient>): unknown[] => {
      const got: unknown[] = [];
      running.add(
        rooms.join('r').subscribe({ error: (e: unknown) => got.push(e), complete: () => got.push('complete') }),
      );
      running.add(rooms.publish('r', 'x').subscribe({ error: (e: unknown) => got.push(e) }));
      return got;
    };
    // Nothing listens on port 9.
    const gaveUp = reconnecting('ws://127.0.0.1:9', { maxAttempts: 1, initialDelay: 5 });
    const closed = reconnecting('ws://127.0.0.1:9', { initialDelay: 5 });
    connections.push(gaveUp, closed);
    const [a, b] = [roomClient(gaveUp), roomClient(closed)];
    const [gaveUpErrors, closedErrors] = [outcomes(a), outcomes(b)];
    closed.close();
    await until(() => gaveUpErrors.length === 2 && closedErrors.length === 2);
    // Given up: each errors with why. Closed by the app: the join completes, the publish (never
    // acknowledged, so perhaps not stored) errors.
    expect(gaveUpErrors.map((e) => (e as { code: string }).code)).to.deep.equal([
      'ERR_CONNECT_FAILED',
      'ERR_CONNECT_FAILED',
    ]);
    expect(closedErrors[0]).to.equal('complete');
    expect(closedErrors[1]).to.have.property('code', 'ERR_PEER_CLOSED');
    // Later ones end at once.
    const late = outcomes(b);
    expect(late.map((e) => (e as { code: string }).code)).to.deep.equal(['ERR_PEER_CLOSED', 'ERR_PEER_CLOSED']);
  });
});
