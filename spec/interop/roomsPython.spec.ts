// The rooms protocol (docs/rooms.md, "The wire protocol") with an independent client: Debian's
// python3-websockets (spec/fixtures/rooms_client.py) against a serveRooms() server. It speaks the
// protocol as written, then breaks it on purpose, one way per connection; each bad connection
// must end with the close code the docs give (1002 for a frame that is not JSON text, 1008 for
// JSON that is no message of the protocol), while a well-behaved client of ours, reading a room
// that the bad connections had joined too, keeps getting every message, once, in order, on the
// connection it opened first.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { interval, lastValueFrom, Subscription, switchMap } from 'rxjs';
import { listen } from '../../src/observables/listen.js';
import type { PeerServer } from '../../src/observables/PeerServer.js';
import type { Connection } from '../../src/reconnect/Connection.js';
import { reconnecting } from '../../src/reconnect/reconnecting.js';
import { memoryRooms } from '../../src/rooms/memoryRooms.js';
import { ROOMS_PROTOCOL } from '../../src/rooms/protocol.js';
import { roomClient } from '../../src/rooms/roomClient.js';
import { serveRooms } from '../../src/rooms/serveRooms.js';
import type { RoomEngine, RoomMessage } from '../../src/rooms/types.js';
import { needsTool, until } from '../helpers.js';

const PYTHON = '/usr/bin/python3';
const CLIENT = fileURLToPath(new URL('../fixtures/rooms_client.py', import.meta.url));

type Json = Record<string, unknown>;
interface Close {
  code: number;
  reason: string;
}

/** Runs rooms_client.py with `args`; resolves the JSON line it printed. */
function python<R>(...args: string[]): Promise<R> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [CLIENT, ...args], { timeout: 8000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`rooms_client.py ${args.slice(0, 2).join(' ')} failed: ${error.message}\n${stderr}`));
      else resolve(JSON.parse(stdout) as R);
    });
  });
}

/** The room our well-behaved client reads, and every bad connection joins before it misbehaves. */
const NEWS = 'news';
/** 128 x 'é': 128 characters, 256 UTF-8 bytes, the longest room there may be. */
const LONGEST_ROOM = 'é'.repeat(128);

/** The ways to break the protocol, one per connection, each with the close code docs/rooms.md gives. */
const MALFORMED: Array<{ name: string; kind: 'text' | 'binary'; payload: string; code: number }> = [
  { name: 'a text frame that is not JSON', kind: 'text', payload: '{"type": "join", "room": "news"', code: 1002 },
  {
    name: 'a binary frame (holding a join that would be good as text)',
    kind: 'binary',
    payload: Buffer.from(JSON.stringify({ type: 'join', room: NEWS })).toString('hex'),
    code: 1002,
  },
  { name: 'a JSON array', kind: 'text', payload: JSON.stringify([{ type: 'join', room: NEWS }]), code: 1008 },
  { name: 'JSON that is no object (a string)', kind: 'text', payload: '"join"', code: 1008 },
  { name: 'an unknown type', kind: 'text', payload: JSON.stringify({ type: 'subscribe', room: NEWS }), code: 1008 },
  {
    name: 'a type the server sends, not the client',
    kind: 'text',
    payload: JSON.stringify({ type: 'joined', room: NEWS, after: { epoch: 'e', offset: 0 } }),
    code: 1008,
  },
  { name: 'a join without a room', kind: 'text', payload: JSON.stringify({ type: 'join' }), code: 1008 },
  {
    name: 'a publish without a room',
    kind: 'text',
    payload: JSON.stringify({ type: 'publish', id: 'py:x', text: 'x' }),
    code: 1008,
  },
  {
    name: 'a room of 257 UTF-8 bytes (129 characters)',
    kind: 'text',
    payload: JSON.stringify({ type: 'join', room: `${LONGEST_ROOM}x` }),
    code: 1008,
  },
  {
    name: 'a publish without an id',
    kind: 'text',
    payload: JSON.stringify({ type: 'publish', room: NEWS, text: 'no id' }),
    code: 1008,
  },
  {
    name: 'a publish with both text and bytes',
    kind: 'text',
    payload: JSON.stringify({ type: 'publish', room: NEWS, id: 'py:both', text: 'a', bytes: 'YQ==' }),
    code: 1008,
  },
  {
    name: 'a publish whose bytes are not base64',
    kind: 'text',
    payload: JSON.stringify({ type: 'publish', room: NEWS, id: 'py:b64', bytes: 'not base64!' }),
    code: 1008,
  },
  {
    name: 'a join from a negative offset',
    kind: 'text',
    payload: JSON.stringify({ type: 'join', room: NEWS, from: { epoch: 'e', offset: -1 } }),
    code: 1008,
  },
  {
    name: 'a join from a fractional offset',
    kind: 'text',
    payload: JSON.stringify({ type: 'join', room: NEWS, from: { epoch: 'e', offset: 1.5 } }),
    code: 1008,
  },
  {
    name: 'a join from a position without an epoch',
    kind: 'text',
    payload: JSON.stringify({ type: 'join', room: NEWS, from: { offset: 1 } }),
    code: 1008,
  },
  {
    name: 'a join from a string',
    kind: 'text',
    payload: JSON.stringify({ type: 'join', room: NEWS, from: '1' }),
    code: 1008,
  },
];

interface MalformedReport {
  subprotocol: string | null;
  before: Json[];
  after: Json[];
  close: Close | null;
  error: string | null;
}

interface SpeakReport {
  subprotocol: string | null;
  frames: Json[];
  resumed: { subprotocol: string | null; frames: Json[] };
  close: Close | null;
}

describe('the rooms protocol with python3-websockets as the client (an independent implementation)', function () {
  this.timeout(20_000);

  let running: Subscription;
  let engine: RoomEngine;
  let port: number;
  const connections: Connection[] = [];
  /** What our well-behaved reader got, and each state its connection went through. */
  const got: RoomMessage[] = [];
  const states: string[] = [];
  /** The messages our writer published into NEWS, and the offsets acknowledged. */
  let published = 0;
  const acked: number[] = [];
  let writing: Subscription | undefined;

  const connection = (): Connection => {
    const c = reconnecting(`ws://127.0.0.1:${port}`, {
      protocols: ROOMS_PROTOCOL,
      initialDelay: 5,
      maxDelay: 20,
      jitter: 0,
    });
    connections.push(c);
    return c;
  };

  /** Our reader got every message so far once, in order, and never lost its first connection. */
  function expectReaderIntact(): void {
    expect(
      got.map((m) => m.data),
      'the messages our reader got',
    ).to.deep.equal(Array.from({ length: got.length }, (_, i) => `n${i}`));
    expect(got.map((m) => m.position.offset)).to.deep.equal(Array.from({ length: got.length }, (_, i) => i + 1));
    expect(states, "our reader's connection").to.deep.equal(['idle', 'connecting', 'open']);
  }

  before(async function () {
    needsTool('python3-websockets');
    running = new Subscription();
    engine = memoryRooms();
    // As docs/rooms.md advises: only clients that offer the subprotocol are let in.
    port = await new Promise<number>((resolve, reject) => {
      running.add(
        listen({ host: '127.0.0.1', port: 0, protocols: [ROOMS_PROTOCOL], requireProtocol: true })
          .pipe(
            switchMap((server: PeerServer) => {
              resolve(server.port);
              return server.peers$;
            }),
            serveRooms(engine),
          )
          .subscribe({ error: reject }),
      );
    });

    // Our well-behaved reader, from the room's head (exact), and a writer that publishes every 5 ms.
    const readerConnection = connection();
    running.add(readerConnection.status$.subscribe((status) => states.push(status.state)));
    const from = await lastValueFrom(engine.head(NEWS));
    running.add(
      roomClient(readerConnection)
        .join(NEWS, { from })
        .subscribe((m) => got.push(m)),
    );
    const writer = roomClient(connection());
    writing = interval(5).subscribe(() => {
      running.add(writer.publish(NEWS, `n${published++}`).subscribe((position) => acked.push(position.offset)));
    });
    running.add(writing);
    await until(() => got.length >= 5);
  });

  after(() => {
    // The subscriptions first: closing a connection ends its publishes with an error.
    running?.unsubscribe();
    for (const c of connections.splice(0)) c.close();
  });

  it('speaks it: the server selects the subprotocol, joins, stores, acknowledges once per id, and resumes from a position', async () => {
    // Our client reads the python client's room, from its head: it gets what python publishes.
    const ours: RoomMessage[] = [];
    const from = await lastValueFrom(engine.head(LONGEST_ROOM));
    const reading = roomClient(connection())
      .join(LONGEST_ROOM, { from })
      .subscribe((m) => ours.push(m));
    running.add(reading);

    const report = await python<SpeakReport>('speak', String(port), LONGEST_ROOM);
    expect(report.subprotocol).to.equal('rx-websocket-peer.rooms.v1');
    expect(report.resumed.subprotocol).to.equal('rx-websocket-peer.rooms.v1');
    expect(report.close).to.deep.equal({ code: 1000, reason: 'done' });
    const { epoch } = from;
    const at = (offset: number): Json => ({ epoch, offset });
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('base64');
    const frames = report.frames;
    expect(frames[0]).to.deep.equal({ type: 'joined', room: LONGEST_ROOM, after: at(0) });
    // Each message once, in the room's order; each publish acknowledged at its message's position.
    expect(frames.filter((f) => f['type'] === 'message')).to.deep.equal([
      { type: 'message', room: LONGEST_ROOM, position: at(1), text: 'from python, é' },
      { type: 'message', room: LONGEST_ROOM, position: at(2), bytes },
    ]);
    // The retry of py:1 is acknowledged again, at the same position, and stored once.
    expect(frames.filter((f) => f['type'] === 'ack')).to.deep.equal([
      { type: 'ack', id: 'py:1', room: LONGEST_ROOM, position: at(1) },
      { type: 'ack', id: 'py:2', room: LONGEST_ROOM, position: at(2) },
      { type: 'ack', id: 'py:1', room: LONGEST_ROOM, position: at(1) },
    ]);
    expect(frames).to.have.length(6);
    expect((await lastValueFrom(engine.head(LONGEST_ROOM))).offset).to.equal(2);
    // A join from the first message's position, on another connection: what came after it.
    expect(report.resumed.frames).to.deep.equal([
      { type: 'joined', room: LONGEST_ROOM, after: at(1) },
      { type: 'message', room: LONGEST_ROOM, position: at(2), bytes },
    ]);

    // What python published reached our client: the text as text, the bytes as the same bytes.
    await until(() => ours.length === 2);
    expect(ours.map((m) => [m.position.offset, m.isString])).to.deep.equal([
      [1, true],
      [2, false],
    ]);
    expect(ours[0]?.data).to.equal('from python, é');
    expect(Buffer.from(ours[1]?.data as Uint8Array).toString('base64')).to.equal(bytes);
    expectReaderIntact();
  });

  it('refuses at the handshake (400) a client that does not offer the subprotocol, under requireProtocol', async () => {
    const report = await python<{ opened: boolean; status?: number }>('no-subprotocol', String(port));
    expect(report).to.deep.equal({ opened: false, status: 400 });
    expectReaderIntact();
  });

  for (const { name, kind, payload, code } of MALFORMED) {
    it(`${name}: the server closes that connection with ${code}; our reader of the same room is untouched`, async () => {
      const before = got.length;
      const report = await python<MalformedReport>('malformed', String(port), NEWS, kind, payload);
      const during = got.length;
      expect(report.error).to.equal(null);
      expect(report.subprotocol).to.equal('rx-websocket-peer.rooms.v1');
      // It had joined NEWS and been answered, so it was speaking the protocol until then.
      expect(report.before.map((f) => [f['type'], f['room']])).to.deep.equal([['joined', NEWS]]);
      expect(report.close?.code, `the close code for ${name}, reason ${JSON.stringify(report.close?.reason)}`).to.equal(
        code,
      );
      // Our reader kept receiving while the python client ran, and lost nothing.
      expect(during, 'messages our reader got while the python client ran').to.be.greaterThan(before);
      expectReaderIntact();
    });
  }

  it('every malformed connection at once: each closed with its code, our reader untouched', async () => {
    const before = got.length;
    const reports = await Promise.all(
      MALFORMED.map(({ kind, payload }) => python<MalformedReport>('malformed', String(port), NEWS, kind, payload)),
    );
    const during = got.length;
    expect(reports.map((r) => r.close?.code)).to.deep.equal(MALFORMED.map((m) => m.code));
    expect(during).to.be.greaterThan(before);
    expectReaderIntact();
  });

  it('and at the end, our reader has every message our writer published, once, in order', async () => {
    writing?.unsubscribe();
    const total = published;
    await until(() => acked.length === total && got.length === total, 8000);
    expectReaderIntact();
    expect(got.map((m) => m.data)).to.deep.equal(Array.from({ length: total }, (_, i) => `n${i}`));
    expect([...acked].sort((a, b) => a - b)).to.deep.equal(Array.from({ length: total }, (_, i) => i + 1));
    // Stored once each: nothing the bad connections sent went into the room.
    expect((await lastValueFrom(engine.head(NEWS))).offset).to.equal(total);
  });
});
