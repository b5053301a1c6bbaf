import { expect } from 'chai';
import fc from 'fast-check';
import { firstValueFrom, lastValueFrom, type Subscription } from 'rxjs';
import sinon from 'sinon';
import { memoryRooms } from '../../src/rooms/memoryRooms.js';
import { RoomGapError } from '../../src/rooms/RoomGapError.js';
import type { Position, RoomEngine, RoomMessage } from '../../src/rooms/types.js';
import { WebSocketPeerError } from '../../src/errors/WebSocketPeerError.js';
import { collect, expectInvalidOption, thrown } from '../helpers.js';

/** Publishes and waits for the position. */
const publish = (engine: RoomEngine, room: string, data: string | Uint8Array, id?: string): Promise<Position> =>
  lastValueFrom(engine.publish(room, data, id));

const offsets = (messages: RoomMessage[]): number[] => messages.map((m) => m.position.offset);

describe('memoryRooms(): the embedded room engine', () => {
  let clock: sinon.SinonFakeTimers | undefined;
  afterEach(() => {
    clock?.restore();
    clock = undefined;
  });

  it('stores each message once, at offsets 1, 2, 3 of one epoch, and delivers it live in that order', async () => {
    const engine = memoryRooms();
    const live = collect(engine.room$('chat'));
    const positions = [await publish(engine, 'chat', 'a'), await publish(engine, 'chat', new Uint8Array([1, 2]))];
    positions.push(await publish(engine, 'chat', 'c'));
    expect(positions.map((p) => p.offset)).to.deep.equal([1, 2, 3]);
    expect(new Set(positions.map((p) => p.epoch)).size).to.equal(1);
    expect(live.values.map((m) => [m.room, m.isString, m.data])).to.deep.equal([
      ['chat', true, 'a'],
      ['chat', false, new Uint8Array([1, 2])],
      ['chat', true, 'c'],
    ]);
    expect(live.values.map((m) => m.position)).to.deep.equal(positions);
  });

  it('keeps its own copy of the bytes it was given', async () => {
    const engine = memoryRooms();
    const bytes = new Uint8Array([7, 7]);
    const position = await publish(engine, 'r', bytes);
    bytes[0] = 0;
    const [replayed] = collect(engine.room$('r', { ...position, offset: 0 })).values;
    expect(replayed?.data).to.deep.equal(new Uint8Array([7, 7]));
  });

  it('stores a publish once per id: a retry, or a second subscription, gets the same position', async () => {
    const engine = memoryRooms();
    const live = collect(engine.room$('r'));
    const first = await publish(engine, 'r', 'x', 'id-1');
    const retry = await publish(engine, 'r', 'x', 'id-1');
    const once = engine.publish('r', 'y');
    const [a, b] = [await lastValueFrom(once), await lastValueFrom(once)];
    expect(retry).to.deep.equal(first);
    expect(b).to.deep.equal(a);
    expect(offsets(live.values)).to.deep.equal([1, 2]);
  });

  it('replays from a position (exclusive), then goes on live, with nothing twice and no hole', async () => {
    const engine = memoryRooms();
    const positions: Position[] = [];
    for (const text of ['1', '2', '3', '4']) positions.push(await publish(engine, 'r', text));
    const resumed = collect(engine.room$('r', positions[1]));
    await publish(engine, 'r', '5');
    expect(resumed.values.map((m) => m.data)).to.deep.equal(['3', '4', '5']);
    // From the last position: only what comes next.
    const upToDate = collect(engine.room$('r', positions[3]));
    await publish(engine, 'r', '6');
    expect(upToDate.values.map((m) => m.data)).to.deep.equal(['5', '6']);
  });

  it('errors with ERR_ROOM_GAP, and the positions, past its historySize, in another epoch, or from the future', async () => {
    const engine = memoryRooms({ historySize: 10 });
    let last: Position | undefined;
    for (let i = 1; i <= 25; i++) last = await publish(engine, 'r', String(i));
    const epoch = (last as Position).epoch;
    // Offsets 16-25 are kept: from 15 on is whole, from 14 would miss 15.
    expect(offsets(collect(engine.room$('r', { epoch, offset: 15 })).values)).to.deep.equal([
      16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
    ]);
    for (const from of [
      { epoch, offset: 14 },
      { epoch: 'another', offset: 20 },
      { epoch, offset: 26 },
    ]) {
      const { error } = await collect(engine.room$('r', from)).done;
      expect(error, JSON.stringify(from)).to.be.instanceOf(RoomGapError).and.instanceOf(WebSocketPeerError);
      expect(error).to.include({ code: 'ERR_ROOM_GAP', room: 'r' });
      expect((error as RoomGapError).lastDelivered).to.deep.equal(from);
      expect((error as RoomGapError).oldestAvailable).to.deep.equal({ epoch, offset: 16 });
    }
  });

  it('lets messages go after historyAge, frees a room nobody reads, and leaves no timer', async () => {
    clock = sinon.useFakeTimers({ toFake: ['Date', 'setInterval', 'clearInterval'] });
    const engine = memoryRooms({ historyAge: 5_000 });
    const old = await publish(engine, 'r', 'old');
    clock.tick(3_000);
    const recent = await publish(engine, 'r', 'recent');
    clock.tick(2_500);
    // 'old' is 5.5 s old: gone; 'recent' is still there.
    const { error } = await collect(engine.room$('r', { ...old, offset: 0 })).done;
    expect(error).to.have.property('code', 'ERR_ROOM_GAP');
    expect((error as RoomGapError).oldestAvailable).to.deep.equal(recent);
    const resumed: unknown[] = [];
    engine
      .room$('r', old)
      .subscribe((m) => resumed.push(m.data))
      .unsubscribe();
    expect(resumed).to.deep.equal(['recent']);
    clock.tick(6_000);
    // Nobody reads it and its history expired: freed, and with it the sweeping timer.
    expect(clock.countTimers()).to.equal(0);
    const again = await publish(engine, 'r', 'new');
    expect(again.epoch).to.not.equal(recent.epoch);
    expect(again.offset).to.equal(1);
    const gap = await collect(engine.room$('r', recent)).done;
    expect(gap.error).to.have.property('code', 'ERR_ROOM_GAP');
  });

  it('keeps a room that someone reads, and stops delivering to a reader that unsubscribed', async () => {
    clock = sinon.useFakeTimers({ toFake: ['Date', 'setInterval', 'clearInterval'] });
    const engine = memoryRooms({ historyAge: 1_000 });
    const first = await publish(engine, 'r', 'a');
    const reader = collect(engine.room$('r', first));
    clock.tick(10_000);
    const next = await publish(engine, 'r', 'b');
    expect(next).to.deep.equal({ epoch: first.epoch, offset: 2 });
    expect(reader.values.map((m) => m.data)).to.deep.equal(['b']);
    const gone: RoomMessage[] = [];
    const subscription: Subscription = engine.room$('r').subscribe((m) => gone.push(m));
    subscription.unsubscribe();
    await publish(engine, 'r', 'c');
    expect(gone).to.deep.equal([]);
  });

  it('gives every reader the one order, when a reader publishes while a message is delivered', async () => {
    const engine = memoryRooms();
    const seen: string[][] = [[], [], []];
    engine.room$('r').subscribe((m) => {
      seen[0]?.push(m.data as string);
      if (m.data === 'first') engine.publish('r', 'from a reader').subscribe();
    });
    engine.room$('r').subscribe((m) => seen[1]?.push(m.data as string));
    engine.room$('r').subscribe((m) => seen[2]?.push(m.data as string));
    await publish(engine, 'r', 'first');
    expect(seen).to.deep.equal([
      ['first', 'from a reader'],
      ['first', 'from a reader'],
      ['first', 'from a reader'],
    ]);
  });

  it('head() is the last position (offset 0 before any message); room$(room, head) misses nothing after it', async () => {
    const engine = memoryRooms();
    const empty = await lastValueFrom(engine.head('r'));
    expect(empty.offset).to.equal(0);
    const first = await publish(engine, 'r', 'a');
    expect(first.epoch).to.equal(empty.epoch);
    const head = await lastValueFrom(engine.head('r'));
    expect(head).to.deep.equal(first);
    await publish(engine, 'r', 'b');
    expect(collect(engine.room$('r', head)).values.map((m) => m.data)).to.deep.equal(['b']);
    expect(collect(engine.room$('r', empty)).values.map((m) => m.data)).to.deep.equal(['a', 'b']);
  });

  it('state$ is up', async () => {
    expect(await firstValueFrom(memoryRooms().state$)).to.equal('up');
  });

  it('refuses bad input at once, with codes', () => {
    const engine = memoryRooms();
    for (const [fn, code] of [
      [() => engine.publish('', 'x'), 'ERR_INVALID_ARG_TYPE'],
      [() => engine.publish('r'.repeat(257), 'x'), 'ERR_INVALID_ARG_TYPE'],
      [() => engine.publish('r', 42 as never), 'ERR_INVALID_DATA'],
      [() => engine.publish('r', 'x', ''), 'ERR_INVALID_ARG_TYPE'],
      [() => engine.publish('r', 'x', 'i'.repeat(129)), 'ERR_INVALID_ARG_TYPE'],
      [() => engine.room$(7 as never), 'ERR_INVALID_ARG_TYPE'],
      [() => engine.room$('r', { epoch: 'e', offset: -1 }), 'ERR_INVALID_ARG_TYPE'],
      [() => engine.room$('r', { offset: 1 } as never), 'ERR_INVALID_ARG_TYPE'],
    ] as const) {
      expect(thrown(fn), String(fn)).to.have.property('code', code);
    }
    expectInvalidOption(
      () => memoryRooms({ historySize: 0 }),
      "memoryRooms(): option 'historySize' must be a positive integer",
    );
    expectInvalidOption(
      () => memoryRooms({ historyAge: 1.5 }),
      "memoryRooms(): option 'historyAge' must be a positive integer (ms)",
    );
    expectInvalidOption(
      () => memoryRooms({ historySise: 5 } as never),
      "memoryRooms(): unknown option 'historySise' (did you mean 'historySize'?)",
    );
  });

  it('matches a model of the log under random publishes, retries and joins (fast-check)', async () => {
    type Op = { kind: 'publish'; id: number } | { kind: 'join'; back: number } | { kind: 'leave'; reader: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('publish' as const), id: fc.nat(12) }),
      fc.record({ kind: fc.constant('join' as const), back: fc.nat(12) }),
      fc.record({ kind: fc.constant('leave' as const), reader: fc.nat(10) }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.array(op, { minLength: 5, maxLength: 60 }),
        async (historySize, ops) => {
          const engine = memoryRooms({ historySize });
          // The model: the whole log (offset i + 1 holds log[i]) and the ids stored, with their offsets.
          const log: string[] = [];
          const ids = new Map<number, number>();
          let epoch: string | undefined;
          const readers: {
            from: number;
            /** Whether the history no longer held `from` when it joined. */
            gap: boolean;
            got: RoomMessage[];
            error?: unknown;
            sub?: Subscription;
            left?: number;
          }[] = [];
          for (const step of ops) {
            if (step.kind === 'publish') {
              const position = await publish(engine, 'r', `m${log.length}`, `id${step.id}`);
              epoch ??= position.epoch;
              const known = ids.get(step.id);
              // A retry gets its first position, also after its message left the history (the ids
              // are remembered longer: the last 10,000, for historyAge); otherwise a new message.
              if (known !== undefined) {
                expect(position.offset).to.equal(known);
              } else {
                log.push(`m${log.length}`);
                ids.set(step.id, log.length);
                expect(position.offset).to.equal(log.length);
              }
            } else if (step.kind === 'join') {
              const from = Math.max(0, log.length - step.back);
              // Before the first publish there is no position yet: such a reader joins from now.
              const oldest = Math.max(1, log.length - historySize + 1);
              const reader: (typeof readers)[number] = { from, gap: epoch !== undefined && from < oldest - 1, got: [] };
              reader.sub = engine
                .room$('r', epoch === undefined ? undefined : { epoch, offset: from })
                .subscribe({ next: (m) => reader.got.push(m), error: (e: unknown) => (reader.error = e) });
              readers.push(reader);
            } else {
              const reader = readers[step.reader];
              if (reader && reader.left === undefined) {
                reader.sub?.unsubscribe();
                reader.left = log.length;
              }
            }
          }
          for (const reader of readers) {
            if (reader.gap) {
              // Beyond the history: a gap error and nothing else.
              expect(reader.error).to.have.property('code', 'ERR_ROOM_GAP');
              expect(reader.got).to.deep.equal([]);
            } else {
              expect(reader.error).to.equal(undefined);
              const until = reader.left ?? log.length;
              expect(reader.got.map((m) => m.data)).to.deep.equal(log.slice(reader.from, until));
            }
            reader.sub?.unsubscribe();
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
