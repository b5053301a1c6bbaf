// One suite, run against every room engine: memoryRooms() in this process, and redisRooms() on a
// Redis of the suite's own. What the rooms promise must not depend on which engine keeps them.
import { expect } from 'chai';
import fc from 'fast-check';
import { lastValueFrom, Subscription } from 'rxjs';
import { createClient } from 'redis';
import { WebSocketPeerError } from '../../src/errors/WebSocketPeerError.js';
import { reconnecting } from '../../src/reconnect/reconnecting.js';
import { memoryRooms } from '../../src/rooms/memoryRooms.js';
import { ROOMS_PROTOCOL } from '../../src/rooms/protocol.js';
import { redisRooms } from '../../src/rooms/redisRooms.js';
import { roomClient } from '../../src/rooms/roomClient.js';
import { RoomGapError } from '../../src/rooms/RoomGapError.js';
import type { Position, RoomEngine, RoomMessage } from '../../src/rooms/types.js';
import { type RedisServer, startRedis, stopRedises } from '../fixtures/redisServer.js';
import { serveRoomsHere } from '../fixtures/roomsHere.js';
import { internalsOf, needsTool, until } from '../helpers.js';

/** What a suite needs of an engine: one made with these options, on an empty store. */
interface EngineKind {
  name: string;
  /** Whether room$() reads the history inside subscribe() (the model can then be exact). */
  synchronous?: boolean;
  before?: () => Promise<void>;
  after?: () => Promise<void>;
  make: (options: { historySize?: number }) => Promise<RoomEngine>;
}

type RedisClient = ReturnType<typeof createClient>;
let redis: RedisServer | undefined;
const redisClients: RedisClient[] = [];

const KINDS: EngineKind[] = [
  { name: 'memoryRooms()', synchronous: true, make: async (options) => memoryRooms(options) },
  {
    name: 'redisRooms()',
    before: async () => {
      needsTool('redis-server');
      redis = await startRedis();
    },
    after: async () => {
      await Promise.all(redisClients.splice(0).map((client) => client.close().catch(() => undefined)));
      await stopRedises();
    },
    make: async (options) => {
      const client = createClient({ url: (redis as RedisServer).url });
      client.on('error', () => {});
      await client.connect();
      redisClients.push(client);
      // Each test on an empty Redis: rooms of the tests before it are gone.
      await client.sendCommand(['FLUSHALL']);
      return redisRooms(client, options);
    },
  },
];

const publish = (engine: RoomEngine, room: string, data: string | Uint8Array, id?: string): Promise<Position> =>
  lastValueFrom(engine.publish(room, data, id));

/** Subscribes to `room$` and keeps what it emits, and how it ended. */
function read(engine: RoomEngine, room: string, from?: Position) {
  const got: RoomMessage[] = [];
  const state: { error?: unknown; subscription?: Subscription } = {};
  state.subscription = engine
    .room$(room, from)
    .subscribe({ next: (m) => got.push(m), error: (e) => (state.error = e) });
  return { got, state, offsets: () => got.map((m) => m.position.offset) };
}

for (const kind of KINDS) {
  describe(`room engines: ${kind.name}`, function () {
    this.timeout(30_000);
    const reading = new Subscription();
    before(async () => {
      await kind.before?.();
    });
    after(async () => {
      reading.unsubscribe();
      await kind.after?.();
    });

    it('stores each message once, at offsets 1, 2, 3 of one epoch, and delivers it live in that order, text and bytes', async () => {
      const engine = await kind.make({});
      // A reader from now: it starts once it knows where the room stands.
      const head = await lastValueFrom(engine.head('chat'));
      const live = read(engine, 'chat', head);
      reading.add(live.state.subscription);
      const bytes = new Uint8Array([1, 2, 0, 255]);
      const positions = [await publish(engine, 'chat', 'a'), await publish(engine, 'chat', bytes)];
      bytes[0] = 9; // the engine keeps what it was given when publish() was called
      positions.push(await publish(engine, 'chat', 'é😀'));
      expect(positions.map((p) => p.offset)).to.deep.equal([1, 2, 3]);
      expect(new Set(positions.map((p) => p.epoch)).size).to.equal(1);
      expect(positions[0]?.epoch).to.equal(head.epoch);
      await until(() => live.got.length === 3);
      expect(live.got.map((m) => [m.room, m.isString, m.data])).to.deep.equal([
        ['chat', true, 'a'],
        ['chat', false, new Uint8Array([1, 2, 0, 255])],
        ['chat', true, 'é😀'],
      ]);
      expect(live.got.map((m) => m.position)).to.deep.equal(positions);
    });

    it('stores a publish once per id: a retry, or a second subscription, gets the same position', async () => {
      const engine = await kind.make({});
      const first = await publish(engine, 'r', 'x', 'id-1');
      const retry = await publish(engine, 'r', 'x', 'id-1');
      const once = engine.publish('r', 'y');
      const [a, b] = [await lastValueFrom(once), await lastValueFrom(once)];
      expect(retry).to.deep.equal(first);
      expect(b).to.deep.equal(a);
      expect((await lastValueFrom(engine.head('r'))).offset).to.equal(2);
    });

    it('remembers at least the last 10,000 publish ids, however many came before, across batches', async () => {
      const engine = await kind.make({ historySize: 100 });
      let n = 0;
      for (let round = 0; round < 5; round++) {
        // 5,000 more, 1,000 made in one turn at a time (one call each, where the engine batches).
        for (let k = 0; k < 5; k++) {
          const offsets = Array.from({ length: 1_000 }, (_, i) => n + i + 1);
          const positions = await Promise.all(offsets.map((o) => publish(engine, 'r', `m${o}`, `p${o}`)));
          expect(positions.map((p) => p.offset)).to.deep.equal(offsets);
          n += 1_000;
        }
        // Retried in one turn: the oldest of the last 10,000, one in the middle, the newest, and
        // a new id twice: each retry keeps its offset, the new one is stored once.
        const retried = [Math.max(1, n - 9_999), Math.max(1, n - 5_000), n];
        const again = await Promise.all([
          ...retried.map((o) => publish(engine, 'r', `m${o}`, `p${o}`)),
          publish(engine, 'r', `m${n + 1}`, `p${n + 1}`),
          publish(engine, 'r', `m${n + 1}`, `p${n + 1}`),
        ]);
        expect(again.map((p) => p.offset)).to.deep.equal([...retried, n + 1, n + 1]);
        n += 1;
      }
      expect((await lastValueFrom(engine.head('r'))).offset).to.equal(n);
    });

    it('stores large messages made in one turn (three of 600 kB, one of 2 MB) once each, in order, and replays them', async () => {
      const engine = await kind.make({});
      const start = await lastValueFrom(engine.head('big'));
      const live = read(engine, 'big', start);
      reading.add(live.state.subscription);
      const texts = [600_000, 600_000, 2_000_000, 600_000].map((size, i) => String(i).repeat(size));
      const positions = await Promise.all(texts.map((text) => publish(engine, 'big', text)));
      expect(positions.map((p) => p.offset)).to.deep.equal([1, 2, 3, 4]);
      const replay = read(engine, 'big', start);
      reading.add(replay.state.subscription);
      await until(() => live.got.length === 4 && replay.got.length === 4);
      for (const reader of [live, replay]) {
        expect(reader.state.error).to.equal(undefined);
        expect(reader.got.map((m) => m.data)).to.deep.equal(texts);
        expect(reader.offsets()).to.deep.equal([1, 2, 3, 4]);
      }
    });

    it('replays from a position (exclusive), then goes on live, with nothing twice and no hole', async () => {
      const engine = await kind.make({});
      const positions: Position[] = [];
      for (const text of ['1', '2', '3', '4']) positions.push(await publish(engine, 'r', text));
      const resumed = read(engine, 'r', positions[1]);
      const upToDate = read(engine, 'r', positions[3]);
      reading.add(resumed.state.subscription);
      reading.add(upToDate.state.subscription);
      await until(() => resumed.got.length === 2);
      await publish(engine, 'r', '5');
      await publish(engine, 'r', '6');
      await until(() => resumed.got.length === 4 && upToDate.got.length === 2);
      expect(resumed.got.map((m) => m.data)).to.deep.equal(['3', '4', '5', '6']);
      expect(upToDate.got.map((m) => m.data)).to.deep.equal(['5', '6']);
    });

    it('keeps each message as published when many go in one turn, whatever they hold: empty, digits and colons, multi-byte text, bytes', async () => {
      const engine = await kind.make({});
      const start = await lastValueFrom(engine.head('r'));
      const live = read(engine, 'r', start);
      reading.add(live.state.subscription);
      const sent: (string | Uint8Array)[] = [
        '',
        '12:',
        't3:abc',
        ':',
        '0',
        'é😀\u0000',
        new Uint8Array([58, 49]),
        'x'.repeat(1000),
        '',
      ];
      // Made in one turn: a Redis engine stores them in one call.
      const positions = await Promise.all(sent.map((data) => publish(engine, 'r', data)));
      expect(positions.map((p) => p.offset)).to.deep.equal(sent.map((_, i) => start.offset + 1 + i));
      await until(() => live.got.length === sent.length);
      const replayed = read(engine, 'r', start);
      reading.add(replayed.state.subscription);
      await until(() => replayed.got.length === sent.length);
      for (const got of [live.got, replayed.got]) {
        expect(got.map((m) => m.data)).to.deep.equal(sent);
        expect(got.map((m) => m.isString)).to.deep.equal(sent.map((d) => typeof d === 'string'));
        expect(got.map((m) => m.position)).to.deep.equal(positions);
      }
    });

    it('errors with ERR_ROOM_GAP, and the positions, past its historySize, in another epoch, or from the future', async () => {
      const engine = await kind.make({ historySize: 10 });
      let last: Position | undefined;
      for (let i = 1; i <= 25; i++) last = await publish(engine, 'r', String(i));
      const epoch = (last as Position).epoch;
      // Offsets 16-25 are kept: from 15 on is whole, from 14 would miss 15.
      const whole = read(engine, 'r', { epoch, offset: 15 });
      reading.add(whole.state.subscription);
      await until(() => whole.got.length === 10);
      expect(whole.offsets()).to.deep.equal([16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
      for (const from of [
        { epoch, offset: 14 },
        { epoch: 'another', offset: 20 },
        { epoch, offset: 26 },
      ]) {
        const gap = read(engine, 'r', from);
        await until(() => gap.state.error !== undefined);
        expect(gap.got, JSON.stringify(from)).to.deep.equal([]);
        expect(gap.state.error, JSON.stringify(from)).to.be.instanceOf(RoomGapError).and.instanceOf(WebSocketPeerError);
        expect(gap.state.error).to.include({ code: 'ERR_ROOM_GAP', room: 'r' });
        expect((gap.state.error as RoomGapError).lastDelivered).to.deep.equal(from);
        expect((gap.state.error as RoomGapError).oldestAvailable).to.deep.equal({ epoch, offset: 16 });
      }
    });

    it('head() is the last position (offset 0 before any message); room$(room, head) misses nothing after it', async () => {
      const engine = await kind.make({});
      const empty = await lastValueFrom(engine.head('new'));
      expect(empty.offset).to.equal(0);
      const reader = read(engine, 'new', empty);
      reading.add(reader.state.subscription);
      const stored = await publish(engine, 'new', 'first');
      expect(stored).to.deep.equal({ epoch: empty.epoch, offset: 1 });
      expect(await lastValueFrom(engine.head('new'))).to.deep.equal(stored);
      await until(() => reader.got.length === 1);
    });

    it('gives every reader the one order while many publishes are in flight at once', async () => {
      const engine = await kind.make({ historySize: 2_000 });
      const head = await lastValueFrom(engine.head('busy'));
      const readers = [0, 1, 2].map(() => read(engine, 'busy', head));
      for (const reader of readers) reading.add(reader.state.subscription);
      const stored = await Promise.all(
        Array.from({ length: 600 }, (_, i) => publish(engine, 'busy', `m${i}`, `p${i % 300}-${i >= 300 ? 'b' : 'a'}`)),
      );
      expect(stored.map((p) => p.offset).sort((a, b) => a - b)).to.deep.equal(
        Array.from({ length: 600 }, (_, i) => i + 1),
      );
      await until(() => readers.every((reader) => reader.got.length === 600));
      const order = readers[0]?.got.map((m) => m.data);
      for (const reader of readers) {
        expect(reader.offsets()).to.deep.equal(Array.from({ length: 600 }, (_, i) => i + 1));
        expect(reader.got.map((m) => m.data)).to.deep.equal(order);
      }
      // Each message at the position its publish was told.
      for (const [i, position] of stored.entries())
        expect(readers[0]?.got[position.offset - 1]?.data).to.equal(`m${i}`);
    });

    it('matches a model of the log under random publishes, retries and late joins (fast-check)', async () => {
      type Op = { kind: 'publish'; id: number } | { kind: 'join'; back: number };
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 6 }),
          fc.array(
            fc.oneof(
              fc.record({ kind: fc.constant('publish' as const), id: fc.nat(8) }),
              fc.record({ kind: fc.constant('join' as const), back: fc.nat(8) }),
            ),
            { minLength: 3, maxLength: 25 },
          ),
          async (historySize, ops: Op[]) => {
            const engine = await kind.make({ historySize });
            const room = 'model';
            const epoch = (await lastValueFrom(engine.head(room))).epoch;
            const log: string[] = [];
            const ids = new Map<number, number>();
            const readers: { from: number; gap: boolean; reader: ReturnType<typeof read> }[] = [];
            try {
              for (const step of ops) {
                if (step.kind === 'publish') {
                  const text = `m${log.length}`;
                  const position = await publish(engine, room, text, `id${step.id}`);
                  const known = ids.get(step.id);
                  if (known !== undefined) expect(position.offset).to.equal(known);
                  else {
                    log.push(text);
                    ids.set(step.id, log.length);
                    expect(position.offset).to.equal(log.length);
                  }
                } else {
                  const from = Math.max(0, log.length - step.back);
                  const oldest = Math.max(1, log.length - historySize + 1);
                  const reader = read(engine, room, { epoch, offset: from });
                  readers.push({ from, gap: from < oldest - 1, reader });
                  // An engine over the network reads the history when it gets to it: the reader
                  // has joined once it has what was there (or the gap).
                  await until(() => reader.state.error !== undefined || reader.got.length === log.length - from);
                }
              }
              for (const { from, gap, reader } of readers) {
                await until(() => reader.state.error !== undefined || reader.got.length === log.length - from);
                // What it got is the log from where it joined, in order, nothing twice, no hole.
                expect(reader.got.map((m) => m.data)).to.deep.equal(log.slice(from, from + reader.got.length));
                if (gap) {
                  expect(reader.state.error).to.have.property('code', 'ERR_ROOM_GAP');
                  expect(reader.got).to.deep.equal([]);
                } else if (reader.state.error === undefined || kind.synchronous === true) {
                  expect(reader.state.error).to.equal(undefined);
                  expect(reader.got).to.have.length(log.length - from);
                } else {
                  // An engine over the network reads the history when it gets to it, after the
                  // publishes that followed the join, perhaps: then a gap, but a true one.
                  const error = reader.state.error as RoomGapError;
                  const stood = from + reader.got.length;
                  expect(error).to.be.instanceOf(RoomGapError);
                  expect(error.lastDelivered?.offset).to.equal(stood);
                  expect(error.oldestAvailable?.offset).to.be.greaterThan(stood + 1);
                }
              }
            } finally {
              for (const { reader } of readers) reader.state.subscription?.unsubscribe();
            }
          },
        ),
        { numRuns: 40 },
      );
    });

    it('serves roomClient() through serveRooms(): each message once, in order, across server-side cuts', async () => {
      const engine = await kind.make({});
      const running = new Subscription();
      reading.add(running);
      const { port, peers } = await serveRoomsHere(engine, running);
      const connections = [0, 1].map(() =>
        reconnecting(`ws://127.0.0.1:${port}`, { protocols: ROOMS_PROTOCOL, initialDelay: 5, jitter: 0 }),
      );
      running.add(() => connections.forEach((c) => c.close()));
      const [reader, writer] = connections.map((c) => roomClient(c)) as [
        ReturnType<typeof roomClient>,
        ReturnType<typeof roomClient>,
      ];
      const start = await lastValueFrom(engine.head('chat'));
      const got: RoomMessage[] = [];
      running.add(reader.join('chat', { from: start }).subscribe((m) => got.push(m)));
      const acked: number[] = [];
      const total = 300;
      for (let i = 0; i < total; i++) {
        running.add(writer.publish('chat', `m${i}`).subscribe((p) => acked.push(p.offset)));
        if (i % 60 === 30) {
          for (const peer of peers.splice(0)) internalsOf(peer).socket.resetAndDestroy();
          await new Promise((r) => setTimeout(r, 5));
        }
      }
      await until(() => got.length === total && acked.length === total, 20_000);
      expect(got.map((m) => m.data)).to.deep.equal(Array.from({ length: total }, (_, i) => `m${i}`));
      expect([...acked].sort((a, b) => a - b)).to.deep.equal(Array.from({ length: total }, (_, i) => i + 1));
      expect((await lastValueFrom(engine.head('chat'))).offset).to.equal(total);
      running.unsubscribe();
    });
  });
}
