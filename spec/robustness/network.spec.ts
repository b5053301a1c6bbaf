/**
 * Bad input from the network. A raw TCP client (spec/fixtures/rawWebSocket.ts) and an
 * independent implementation, Debian's python3-websockets (spec/fixtures/*.py), send what RFC
 * 6455 forbids: garbage instead of a handshake, half a handshake, invalid UTF-8, close codes
 * that may not be sent, oversize and fragmented control frames, reserved bits, unmasked client
 * frames and masked server frames. Each must get the RFC's answer (a 400, or a close frame with
 * 1002, 1007 or 1009), the attacked peer's `closed$` must say so, and the server must go on
 * serving its other peers without disturbing their data.
 *
 * What `ws` does, and so what these specs pin: on a protocol error it sends its close frame
 * with the RFC's code and no reason, stops reading and ends the TCP connection without waiting
 * for the other side's close frame. So the closing handshake never completes: the attacked
 * peer's `closed$` reports the code it closed with (DESIGN: the code that started the closing
 * handshake) and `wasClean: false`, and its `packets$` errors with a `WebSocketCloseError` of
 * that code.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { catchError, EMPTY, mergeMap, type Subscription, tap } from 'rxjs';
import type { ListenOptions } from '../../src/observables/listen.js';
import type { CloseInfo, Packet } from '../../src/peer/types.js';
import { WebSocketCloseError } from '../../src/errors/WebSocketCloseError.js';
import type { WebSocketPeer } from '../../src/peer/WebSocketPeer.js';
import { WebSocketPeerError } from '../../src/errors/WebSocketPeerError.js';
import { closePayload, type FrameSpec, frame, Opcode, parseFrames, RawClient } from '../fixtures/rawWebSocket.js';
import {
  collect,
  delay,
  needsTool,
  openClient,
  startServer,
  stopAll,
  takeValues,
  type TestClient,
  type TestServer,
} from '../helpers.js';

const PYTHON = '/usr/bin/python3';
const ATTACK_CLIENT = fileURLToPath(new URL('../fixtures/ws_attack_client.py', import.meta.url));
const BAD_SERVER = fileURLToPath(new URL('../fixtures/ws_bad_server.py', import.meta.url));

/** The servers under attack accept at most this many bytes per message. */
const MAX_PAYLOAD = 1024;

/** The exact bytes of a server's close frame with `code` and no reason: FIN + close, unmasked. */
const closeFrameBytes = (code: number): Buffer => Buffer.from([0x88, 0x02, code >> 8, code & 0xff]);

/** Rejects with a message saying what did not happen in time. */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function until(what: string, check: () => boolean, ms = 3000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(5);
  }
}

/** An echo server as the README writes it, that also remembers every peer it served. */
interface EchoServer extends TestServer {
  remotes: WebSocketPeer[];
  echo: Subscription;
  /** The server-side peer of the client whose local port is `port`. */
  remoteAt(port: number): Promise<WebSocketPeer>;
}

async function startEchoServer(options: ListenOptions = {}): Promise<EchoServer> {
  const server = await startServer({ maxPayload: MAX_PAYLOAD, ...options });
  const remotes: WebSocketPeer[] = [];
  const echo = server.server.peers$
    .pipe(
      tap((peer) => remotes.push(peer)),
      mergeMap((peer) =>
        peer.packets$.pipe(
          tap(peer.sink),
          catchError(() => EMPTY),
        ),
      ),
    )
    .subscribe();
  server.subscription.add(echo);
  const remoteAt = async (port: number): Promise<WebSocketPeer> => {
    await until(`the server peer of port ${port}`, () => remotes.some((p) => p.getConnectedPort() === port));
    return remotes.find((p) => p.getConnectedPort() === port) as WebSocketPeer;
  };
  return { ...server, remotes, echo, remoteAt };
}

/** What a well-behaved client exchanges with the echo server: text and binary, byte-exact. */
function messages(tag: string, count: number): Array<string | Uint8Array> {
  return Array.from({ length: count }, (_, i) =>
    i % 2 === 0
      ? `${tag} ${i} ✓ ${'x'.repeat(i * 7)}`
      : new Uint8Array(Array.from({ length: 1 + i * 5 }, (_, k) => (k * 31 + i) & 0xff)),
  );
}

const asPacket = (data: string | Uint8Array): Packet =>
  typeof data === 'string' ? { isString: true, data } : { isString: false, data };

/** Sends each message as its own kind and expects the echoes back in order, unchanged. */
async function expectEchoes(client: TestClient, sent: Array<string | Uint8Array>): Promise<void> {
  const echoed = takeValues(client.peer.packets$, sent.length);
  for (const data of sent) client.peer.sink.next(asPacket(data));
  const packets = await within(3000, `${sent.length} echoes`, echoed);
  expect(packets.map((p) => (p.isString ? p.data : Buffer.from(p.data).toString('hex')))).to.deep.equal(
    sent.map((d) => (typeof d === 'string' ? d : Buffer.from(d).toString('hex'))),
  );
  expect(packets.map((p) => p.isString)).to.deep.equal(sent.map((d) => typeof d === 'string'));
}

/** How a peer ended: its `closed$` and the end of its `packets$`. */
async function endOf(peer: WebSocketPeer): Promise<{ info: CloseInfo; packetsError: unknown }> {
  const packets = collect(peer.packets$);
  const [info] = await within(3000, 'closed$', takeValues(peer.closed$, 1));
  const { error } = await within(1000, 'packets$ to end', packets.done);
  return { info: info as CloseInfo, packetsError: error };
}

/** The attacked server peer: ended with `code` (the code it closed with), not clean. */
function expectFailedWith(end: { info: CloseInfo; packetsError: unknown }, code: number): void {
  expect(end.info).to.deep.equal({ code, reason: '', wasClean: false });
  expect(end.packetsError).to.be.instanceOf(WebSocketCloseError);
  expect(end.packetsError).to.include({ code, wasClean: false });
  // The protocol error ws found is kept as the cause, with ws's own stable code.
  const cause = (end.packetsError as Error).cause;
  expect(cause).to.be.instanceOf(Error);
  expect(cause)
    .to.have.property('code')
    .that.matches(/^WS_ERR_/);
}

interface FrameCase {
  name: string;
  /** The frames the attacker writes after the handshake, in one write. */
  frames: FrameSpec[];
  /** The code of the close frame the server must answer with. */
  code: 1002 | 1007 | 1009;
}

const text = (payload: Buffer | string, more: Partial<FrameSpec> = {}): FrameSpec => ({
  opcode: Opcode.Text,
  payload,
  ...more,
});

const FRAME_CASES: FrameCase[] = [
  // RFC 6455 §8.1: a text frame that is not UTF-8 fails the connection with 1007 (§7.4.1).
  { name: 'invalid UTF-8 in a text frame (FF FE)', frames: [text(Buffer.from([0x68, 0xff, 0xfe, 0x69]))], code: 1007 },
  {
    name: 'an encoded surrogate U+D800 (ED A0 80) in a text frame',
    frames: [text(Buffer.from([0x61, 0xed, 0xa0, 0x80]))],
    code: 1007,
  },
  {
    name: 'an overlong encoding of "/" (C0 AF) in a text frame',
    frames: [text(Buffer.from([0xc0, 0xaf]))],
    code: 1007,
  },
  {
    name: 'a code point past U+10FFFF (F4 90 80 80) in a text frame',
    frames: [text(Buffer.from([0xf4, 0x90, 0x80, 0x80]))],
    code: 1007,
  },
  {
    name: 'invalid UTF-8 only once the fragments are joined (C3 | 28)',
    frames: [
      text(Buffer.from('caf\xc3', 'latin1'), { fin: false }),
      { opcode: Opcode.Continuation, payload: Buffer.from([0x28]) },
    ],
    code: 1007,
  },
  {
    name: 'invalid UTF-8 in a close reason',
    frames: [{ opcode: Opcode.Close, payload: closePayload(1000, Buffer.from([0xff])) }],
    code: 1007,
  },
  // RFC 6455 §7.4.1/§7.4.2: 1004-1006 and 1015 are reserved, <1000 and 1016-2999 are not used, >4999 do not exist.
  ...[0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535].map((code): FrameCase => ({
    name: `close code ${code}`,
    frames: [{ opcode: Opcode.Close, payload: closePayload(code) }],
    code: 1002,
  })),
  {
    name: 'a close frame with a 1-byte payload',
    frames: [{ opcode: Opcode.Close, payload: Buffer.from([0x03]) }],
    code: 1002,
  },
  // RFC 6455 §5.5: control frames are at most 125 bytes and never fragmented.
  { name: 'a ping of 126 bytes', frames: [{ opcode: Opcode.Ping, payload: Buffer.alloc(126, 1) }], code: 1002 },
  { name: 'a fragmented ping (FIN clear)', frames: [{ opcode: Opcode.Ping, payload: 'p', fin: false }], code: 1002 },
  { name: 'a fragmented pong (FIN clear)', frames: [{ opcode: Opcode.Pong, payload: 'p', fin: false }], code: 1002 },
  {
    name: 'a fragmented close (FIN clear)',
    frames: [{ opcode: Opcode.Close, payload: closePayload(1000), fin: false }],
    code: 1002,
  },
  // RFC 6455 §5.2: RSV1-3 must be 0 unless an extension says otherwise (none is negotiated).
  { name: 'RSV1 set on a text frame', frames: [text('hi', { rsv: 0b100 })], code: 1002 },
  { name: 'RSV2 set on a text frame', frames: [text('hi', { rsv: 0b010 })], code: 1002 },
  { name: 'RSV3 set on a binary frame', frames: [{ opcode: Opcode.Binary, payload: 'hi', rsv: 0b001 }], code: 1002 },
  { name: 'RSV1 set on a ping', frames: [{ opcode: Opcode.Ping, payload: 'p', rsv: 0b100 }], code: 1002 },
  // RFC 6455 §5.1: a server must close the connection on an unmasked client frame.
  { name: 'an unmasked text frame', frames: [text('hi', { mask: false })], code: 1002 },
  {
    name: 'an unmasked close frame',
    frames: [{ opcode: Opcode.Close, payload: closePayload(1000), mask: false }],
    code: 1002,
  },
  // RFC 6455 §5.2: reserved opcodes.
  ...[0x3, 0x7, 0xb, 0xf].map((opcode): FrameCase => ({
    name: `reserved opcode 0x${opcode.toString(16)}`,
    frames: [{ opcode, payload: 'x' }],
    code: 1002,
  })),
  // RFC 6455 §5.4: fragments come in order, one message at a time.
  {
    name: 'a continuation frame with no message to continue',
    frames: [{ opcode: Opcode.Continuation, payload: 'x' }],
    code: 1002,
  },
  { name: 'a new text frame inside a fragmented message', frames: [text('a', { fin: false }), text('b')], code: 1002 },
  // §10.4: an endpoint may refuse messages too large for it; 1009 says so (§7.4.1).
  {
    name: `a binary frame of maxPayload + 1 bytes (${MAX_PAYLOAD + 1})`,
    frames: [{ opcode: Opcode.Binary, payload: Buffer.alloc(MAX_PAYLOAD + 1) }],
    code: 1009,
  },
  {
    name: 'a fragmented message that passes maxPayload only in total',
    frames: [
      { opcode: Opcode.Binary, payload: Buffer.alloc(MAX_PAYLOAD / 2 + 1), fin: false },
      { opcode: Opcode.Continuation, payload: Buffer.alloc(MAX_PAYLOAD / 2 + 1) },
    ],
    code: 1009,
  },
  // The server must not wait for (or buffer) a payload it will refuse anyway: the header alone is enough.
  {
    name: 'a header announcing 200 MiB, and no payload',
    frames: [{ opcode: Opcode.Binary, declaredLength: 200 * 2 ** 20 }],
    code: 1009,
  },
  // RFC 6455 §5.2 wants the 64-bit length's top bit clear; ws refuses anything past 2^53 - 1 with 1009.
  {
    name: 'a 64-bit length with its top bit set',
    frames: [{ opcode: Opcode.Binary, declaredLength: 2 ** 63 }],
    code: 1009,
  },
];

describe('robustness: bad input from the network', function () {
  this.timeout(5000);

  const raws: RawClient[] = [];
  const children: ChildProcess[] = [];
  afterEach(async () => {
    for (const raw of raws.splice(0)) raw.destroy();
    stopAll();
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }
    }
  });

  async function attacker(port: number): Promise<RawClient> {
    const raw = await RawClient.open(port);
    raws.push(raw);
    return raw;
  }

  describe('frames that break RFC 6455, from a raw TCP client to a listen() server', () => {
    let server: EchoServer;
    let healthy: TestClient;

    beforeEach(async () => {
      server = await startEchoServer();
      healthy = await openClient(server.url);
      await expectEchoes(healthy, messages('before', 4));
    });

    for (const { name, frames, code } of FRAME_CASES) {
      it(`${name}: answers a close frame with ${code}, closed$ says ${code}, the other peers are served`, async () => {
        const raw = await attacker(server.server.port);
        expect((await raw.handshake()).status).to.equal(101);
        const remote = await server.remoteAt(raw.localPort);
        const ended = endOf(remote);

        raw.write(Buffer.concat(frames.map(frame)));
        // The healthy client talks while the attacked connection is failed.
        const during = expectEchoes(healthy, messages('during', 12));

        await raw.untilClosed();
        expect(raw.received.toString('hex'), 'the bytes the server answered').to.equal(
          closeFrameBytes(code).toString('hex'),
        );
        expect(raw.gotEnd, 'the server ended the TCP connection').to.equal(true);
        expectFailedWith(await ended, code);

        await during;
        await expectEchoes(healthy, messages('after', 6));
        expect(healthy.peer.isConnectedToHost()).to.equal(true);
        expect(server.remotes.filter((p) => p.isConnectedToHost())).to.have.length(1);
        expect(server.subscription.closed, 'the server is still listening').to.equal(false);
      });
    }

    it('delivers (and echoes) the valid message sent before the bad frame, then answers 1002', async () => {
      const raw = await attacker(server.server.port);
      await raw.handshake();
      const remote = await server.remoteAt(raw.localPort);
      const ended = endOf(remote);
      raw.write(Buffer.concat([frame(text('fine')), frame(text('bad', { rsv: 0b100 }))]));
      await raw.untilClosed();
      const { frames, rest } = parseFrames(raw.received);
      expect(rest).to.have.length(0);
      expect(frames.map((f) => [f.opcode, f.masked, f.payload.toString('hex')])).to.deep.equal([
        [Opcode.Text, false, Buffer.from('fine').toString('hex')],
        [Opcode.Close, false, closePayload(1002).toString('hex')],
      ]);
      expectFailedWith(await ended, 1002);
      await expectEchoes(healthy, messages('after', 4));
    });

    it('an empty close frame is legal: answered with an empty close, closed$ 1005 and clean', async () => {
      const raw = await attacker(server.server.port);
      await raw.handshake();
      const remote = await server.remoteAt(raw.localPort);
      const ended = endOf(remote);
      raw.write(frame({ opcode: Opcode.Close }));
      await raw.untilClosed();
      expect(raw.received.toString('hex')).to.equal('8800');
      const { info, packetsError } = await ended;
      expect(info).to.deep.equal({ code: 1005, reason: '', wasClean: true });
      expect(packetsError).to.equal(undefined);
      await expectEchoes(healthy, messages('after', 2));
    });

    it('survives every attack at once, while a healthy client streams through it', async function () {
      this.timeout(10000);
      const streaming = (async () => {
        for (let round = 0; round < 10; round++) await expectEchoes(healthy, messages(`round ${round}`, 8));
      })();
      const attacks = FRAME_CASES.map(async ({ name, frames, code }) => {
        const raw = await attacker(server.server.port);
        await raw.handshake();
        const remote = await server.remoteAt(raw.localPort);
        const ended = endOf(remote);
        raw.write(Buffer.concat(frames.map(frame)));
        await raw.untilClosed(5000);
        expect(raw.received.toString('hex'), name).to.equal(closeFrameBytes(code).toString('hex'));
        expect((await ended).info, name).to.deep.equal({ code, reason: '', wasClean: false });
      });
      await Promise.all([streaming, ...attacks]);
      expect(server.remotes).to.have.length(FRAME_CASES.length + 1);
      expect(server.remotes.filter((p) => p.isConnectedToHost())).to.have.length(1);
      await expectEchoes(healthy, messages('after', 4));
    });
  });

  describe('garbage instead of an opening handshake', () => {
    let server: EchoServer;
    let healthy: TestClient;

    beforeEach(async () => {
      server = await startEchoServer();
      healthy = await openClient(server.url);
      await expectEchoes(healthy, messages('before', 2));
    });

    /** Random-looking bytes, the same on every run (mulberry32). */
    function noise(length: number, seed: number): Buffer {
      let a = seed >>> 0;
      return Buffer.from(
        Array.from({ length }, () => {
          a = (a + 0x6d2b79f5) >>> 0;
          let t = Math.imul(a ^ (a >>> 15), a | 1);
          t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
          return (t ^ (t >>> 14)) & 0xff;
        }),
      );
    }

    const upgrade = (headers: string, method = 'GET'): string =>
      `${method} / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${headers}\r\n`;
    const KEY = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

    const cases: Array<{ name: string; bytes: Buffer | string; status: number; header?: RegExp }> = [
      { name: "'hello\\r\\n\\r\\n'", bytes: 'hello\r\n\r\n', status: 400 },
      { name: '256 random bytes', bytes: noise(256, 6455), status: 400 },
      {
        name: 'random bytes after a valid request line',
        bytes: Buffer.concat([Buffer.from('GET / HTTP/1.1\r\n'), noise(64, 7)]),
        status: 400,
      },
      { name: 'a header line without a colon', bytes: 'GET / HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n', status: 400 },
      { name: 'an upgrade without Sec-WebSocket-Key', bytes: upgrade('Sec-WebSocket-Version: 13\r\n'), status: 400 },
      {
        name: 'a Sec-WebSocket-Key that is not 16 bytes',
        bytes: upgrade('Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n'),
        status: 400,
      },
      {
        name: 'Sec-WebSocket-Version 12',
        bytes: upgrade(`${KEY}Sec-WebSocket-Version: 12\r\n`),
        status: 400,
        header: /\r\nSec-WebSocket-Version: 13, 8\r\n/i, // RFC 6455 §4.4: say which versions we speak
      },
      {
        name: 'an invalid Sec-WebSocket-Protocol',
        bytes: upgrade(`${KEY}Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: a b\r\n`),
        status: 400,
      },
      { name: 'an upgrade by POST', bytes: upgrade(`${KEY}Sec-WebSocket-Version: 13\r\n`, 'POST'), status: 405 },
      {
        name: 'headers over 16 KiB',
        bytes: upgrade(`${KEY}Sec-WebSocket-Version: 13\r\nX-Padding: ${'a'.repeat(20000)}\r\n`),
        status: 431,
      },
    ];

    for (const { name, bytes, status, header } of cases) {
      it(`${name}: HTTP ${status} and the socket closed, the other peers served`, async () => {
        const raw = await attacker(server.server.port);
        raw.write(bytes);
        await raw.untilClosed();
        const answer = raw.received.toString('latin1');
        expect(answer).to.match(new RegExp(`^HTTP/1\\.1 ${status} `));
        if (header) expect(answer).to.match(header);
        expect(server.remotes, 'no peer was made').to.have.length(1);
        await expectEchoes(healthy, messages('after', 4));
        expect(server.subscription.closed).to.equal(false);
      });
    }

    it('half a handshake, then nothing: the other peers are served meanwhile', async () => {
      const raw = await attacker(server.server.port);
      raw.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Up');
      await delay(50);
      const second = await openClient(server.url);
      await expectEchoes(second, messages('second', 4));
      await expectEchoes(healthy, messages('after', 4));
      expect(raw.received).to.have.length(0);
      expect(raw.isClosed).to.equal(false); // no handshake timeout by default (see the next spec)
      raw.write('grade\r\n'); // still half: the server waits on
      await delay(20);
      expect(server.remotes).to.have.length(2);
    });

    // http.Server#close() closes idle connections only: listen() destroys the ones in their handshake.
    it('stopping the server drops a connection that is still in its opening handshake', async () => {
      const raw = await attacker(server.server.port);
      raw.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');
      await delay(50);
      const closed = collect(healthy.peer.closed$);
      server.stop();
      await closed.done;
      expect(closed.values[0]).to.include({ code: 1001 });
      await raw.untilClosed(1000);
    });

    it('stopping the server sends 1001 at once to a peer that never answers', async () => {
      const raw = await attacker(server.server.port);
      await raw.handshake();
      const remote = await server.remoteAt(raw.localPort);
      server.stop();
      await raw.until('the close frame', () => raw.received.length >= 4, 1000);
      expect(raw.received.toString('hex')).to.equal(closeFrameBytes(1001).toString('hex'));
      // ws then waits for our close frame (its closing timeout is 30 s) before it drops the
      // socket, so closed$ is still to come: the peer is only closing.
      await delay(100);
      expect(remote.isConnectedToHost()).to.equal(false);
      expect(raw.isClosed).to.equal(false);
    });

    it('half a handshake, then nothing: dropped after listen({ handshakeTimeout }), the others served', async () => {
      const timed = await startEchoServer({ handshakeTimeout: 300 } as ListenOptions);
      const other = await openClient(timed.url);
      const raw = await attacker(timed.server.port);
      const started = Date.now();
      raw.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');
      // A slow sender does not reset the clock: the timeout bounds the whole handshake.
      const trickle = setInterval(() => !raw.isClosed && raw.write('X: y\r\n'), 100);
      try {
        await raw.untilClosed(2000);
      } finally {
        clearInterval(trickle);
      }
      expect(Date.now() - started).to.be.within(250, 1500);
      // Either nothing or an HTTP error status (408) before the socket goes.
      const answer = raw.received.toString('latin1');
      if (answer) expect(answer).to.match(/^HTTP\/1\.1 4\d\d /);
      expect(timed.remotes).to.have.length(1);
      await expectEchoes(other, messages('after', 4));
    });
  });

  describe('python3-websockets as the attacking client (an independent implementation)', () => {
    let server: EchoServer;
    let healthy: TestClient;

    before(function () {
      needsTool('python3-websockets');
    });

    beforeEach(async () => {
      server = await startEchoServer();
      healthy = await openClient(server.url);
      await expectEchoes(healthy, messages('before', 2));
    });

    interface AttackReport {
      status: number | null;
      local_port: number;
      frames: Array<{ opcode: number; fin: boolean; data: string }>;
      received?: string;
      close: { code: number; reason: string } | null;
      eof: boolean;
      error: string | null;
    }

    function pythonAttack(port: number, ...args: string[]): Promise<AttackReport> {
      return new Promise((resolve, reject) => {
        const child = execFile(
          PYTHON,
          [ATTACK_CLIENT, String(port), ...args],
          { timeout: 4000 },
          (error, stdout, stderr) => {
            if (error) reject(new Error(`${ATTACK_CLIENT} ${args.join(' ')} failed: ${error.message}\n${stderr}`));
            else resolve(JSON.parse(stdout) as AttackReport);
          },
        );
        children.push(child);
      });
    }

    const cases: Array<{ args: string[]; code: number }> = [
      { args: ['text-invalid-utf8'], code: 1007 },
      { args: ['close-reason-invalid-utf8'], code: 1007 },
      { args: ['close-999'], code: 1002 },
      { args: ['close-1005'], code: 1002 },
      { args: ['close-1006'], code: 1002 },
      { args: ['close-5000'], code: 1002 },
      { args: ['oversize', String(MAX_PAYLOAD)], code: 1009 },
    ];

    for (const { args, code } of cases) {
      it(`${args[0]}: python sees a close frame with ${code} and the end of the connection`, async () => {
        const before = server.remotes.length;
        const report = pythonAttack(server.server.port, ...args);
        await until('the python client to connect', () => server.remotes.length === before + 1);
        const remote = server.remotes[before] as WebSocketPeer;
        const ended = endOf(remote);
        const during = expectEchoes(healthy, messages('during', 8));
        const result = await report;
        expect(result.status).to.equal(101);
        expect(result.local_port).to.equal(remote.getConnectedPort());
        expect(result.error).to.equal(null);
        expect(result.close).to.deep.equal({ code, reason: '' });
        expect(result.received).to.equal(closeFrameBytes(code).toString('hex'));
        expect(result.eof).to.equal(true);
        expectFailedWith(await ended, code);
        await during;
        await expectEchoes(healthy, messages('after', 4));
      });
    }

    it('the control case: python sends text and closes 1000; echoed, and clean on both sides', async () => {
      const before = server.remotes.length;
      const report = pythonAttack(server.server.port, 'valid');
      await until('the python client to connect', () => server.remotes.length === before + 1);
      const ended = endOf(server.remotes[before] as WebSocketPeer);
      const result = await report;
      expect(result.close).to.deep.equal({ code: 1000, reason: 'bye' });
      expect(result.frames.map((f) => [f.opcode, f.data])).to.deep.equal([
        [Opcode.Text, Buffer.from('hi').toString('hex')],
        [Opcode.Close, closePayload(1000, 'bye').toString('hex')],
      ]);
      const { info, packetsError } = await ended;
      expect(info).to.deep.equal({ code: 1000, reason: 'bye', wasClean: true });
      expect(packetsError).to.equal(undefined);
    });

    it('reads every frame a server peer writes: coalesced, large, text and binary, each intact', async () => {
      const before = server.remotes.length;
      const report = pythonAttack(server.server.port, 'listen');
      await until('the python client to connect', () => server.remotes.length === before + 1);
      const peer = server.remotes[before] as WebSocketPeer;
      const reused = new Uint8Array(300);
      const sent: Array<[number, string]> = [];
      const send = (data: string | Uint8Array, asText: boolean): void => {
        peer.sink.next(
          asText ? { isString: true, data: data as string } : { isString: false, data: data as Uint8Array },
        );
        sent.push([asText ? Opcode.Text : Opcode.Binary, Buffer.from(data).toString('hex')]);
      };
      // One turn: small messages go out together, a large one between them on its own.
      send('', true);
      send('é€😀', true);
      send(
        Uint8Array.from({ length: 256 }, (_, i) => i),
        false,
      );
      send(new Uint8Array(70_001).fill(7), false);
      for (let i = 0; i < 20; i++) {
        reused.fill(i); // the same buffer each time: a server peer copies messages up to 16 KiB
        send(reused, false);
      }
      await delay(10);
      send('y'.repeat(70_000), true);
      peer.close(1000, 'done');
      const result = await report;
      expect(result.error).to.equal(null);
      expect(result.frames.map((f) => [f.opcode, f.data])).to.deep.equal([
        ...sent,
        [Opcode.Close, closePayload(1000, 'done').toString('hex')],
      ]);
    });
  });

  describe('python3-websockets as a server that sends bad frames to our connect() client', () => {
    let python: ChildProcess;
    let port: number;
    const reports = new Map<string, (report: ServerReport) => void>();
    const early = new Map<string, ServerReport>();

    interface ServerReport {
      path: string;
      frames: Array<{ opcode: number; fin: boolean; data: string }>;
      received?: string;
      close: { code: number; reason: string } | null;
      eof: boolean;
      error: string | null;
    }

    before(async function () {
      this.timeout(5000);
      needsTool('python3-websockets');
      python = spawn(PYTHON, [BAD_SERVER], { stdio: ['pipe', 'pipe', 'inherit'] });
      let buffered = '';
      const listening = new Promise<number>((resolve, reject) => {
        python.once('exit', (code) => reject(new Error(`${BAD_SERVER} exited with ${code}`)));
        python.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
          buffered += chunk;
          let newline: number;
          while ((newline = buffered.indexOf('\n')) !== -1) {
            const line = JSON.parse(buffered.slice(0, newline)) as { port?: number } & ServerReport;
            buffered = buffered.slice(newline + 1);
            if (line.port !== undefined) resolve(line.port);
            else {
              const waiting = reports.get(line.path);
              if (waiting) waiting(line);
              else early.set(line.path, line);
            }
          }
        });
      });
      port = await within(4000, 'the python server to listen', listening);
    });

    after(async () => {
      if (python && python.exitCode === null && python.signalCode === null) {
        const exited = new Promise((resolve) => python.once('exit', resolve));
        python.stdin?.end(); // it exits when its stdin closes
        const timer = setTimeout(() => python.kill('SIGKILL'), 2000);
        await exited;
        clearTimeout(timer);
      }
    });

    /** What the python server saw of the connection on `path`, once it ended. */
    function reportOf(path: string): Promise<ServerReport> {
      const ready = early.get(path);
      if (ready) return Promise.resolve(ready);
      return within(
        3000,
        `the python server's report on ${path}`,
        new Promise((resolve) => reports.set(path, resolve)),
      );
    }

    it('the control case: our client reads its text and closes 1000, clean on both sides', async () => {
      const client = await openClient(`ws://127.0.0.1:${port}/ok`);
      const [hello] = await takeValues(client.peer.packets$, 1);
      expect(hello).to.deep.equal({ isString: true, data: 'hello' });
      client.peer.sink.next('hi back');
      client.peer.close(1000, 'done');
      expect(await within(3000, 'connect() to end', client.ended)).to.equal('complete');
      expect((await takeValues(client.peer.closed$, 1))[0]).to.deep.equal({
        code: 1000,
        reason: 'done',
        wasClean: true,
      });
      const report = await reportOf('/ok');
      expect(report.frames.map((f) => [f.opcode, f.data])).to.deep.equal([
        [Opcode.Text, Buffer.from('hi back').toString('hex')],
        [Opcode.Close, closePayload(1000, 'done').toString('hex')],
      ]);
      expect(report.close).to.deep.equal({ code: 1000, reason: 'done' });
    });

    it('reads every frame our client writes: coalesced, large, text and binary, each masked and intact', async () => {
      // A path of its own (the server sends nothing there), so that its report is this test's.
      const client = await openClient(`ws://127.0.0.1:${port}/burst`);
      const reused = new Uint8Array(300);
      const sent: Array<[number, Buffer]> = [];
      const send = (data: string | Uint8Array, asText: boolean): void => {
        client.peer.sink.next(
          asText ? { isString: true, data: data as string } : { isString: false, data: data as Uint8Array },
        );
        sent.push([asText ? Opcode.Text : Opcode.Binary, Buffer.from(data)]);
      };
      // One turn: small messages go out together, a large one between them on its own.
      send('', true);
      send('é€😀', true);
      send('x'.repeat(126), true);
      send(
        Uint8Array.from({ length: 256 }, (_, i) => i),
        false,
      );
      send(new Uint8Array(70_001).fill(7), false);
      for (let i = 0; i < 20; i++) {
        reused.fill(i); // the same buffer each time: each message was copied as it was sent
        send(reused, false);
      }
      await delay(10);
      send('y'.repeat(70_000), true); // another turn
      client.peer.close(1000, 'done');
      expect(await within(3000, 'connect() to end', client.ended)).to.equal('complete');
      const report = await reportOf('/burst');
      expect(report.error).to.equal(null);
      expect(report.frames.map((f) => [f.opcode, f.data])).to.deep.equal([
        ...sent.map(([opcode, data]) => [opcode, data.toString('hex')]),
        [Opcode.Close, closePayload(1000, 'done').toString('hex')],
      ]);
    });

    const cases: Array<{ path: string; what: string; code: number; maxPayload?: number }> = [
      { path: '/text-invalid-utf8', what: 'invalid UTF-8 in a text frame', code: 1007 },
      { path: '/masked', what: 'a masked server frame', code: 1002 },
      { path: '/rsv1', what: 'RSV1 set without an extension', code: 1002 },
      { path: '/fragmented-ping', what: 'a fragmented ping', code: 1002 },
      { path: '/close-1005', what: 'a close frame carrying 1005', code: 1002 },
      { path: '/close-999', what: 'a close frame carrying 999', code: 1002 },
      { path: '/close-1006', what: 'a close frame carrying 1006', code: 1002 },
      { path: '/close-5000', what: 'a close frame carrying 5000', code: 1002 },
      {
        path: '/oversize-2048',
        what: 'a 2048-byte frame to a client with maxPayload 1024',
        code: 1009,
        maxPayload: 1024,
      },
    ];

    for (const { path, what, code, maxPayload } of cases) {
      it(`${what}: our client closes with ${code}, closed$ says ${code} not clean, connect() errors`, async () => {
        const client = await openClient(`ws://127.0.0.1:${port}${path}`, maxPayload ? { maxPayload } : {});
        const packets = collect(client.peer.packets$);
        const [info] = await within(3000, "the client's closed$", takeValues(client.peer.closed$, 1));
        expect(info).to.deep.equal({ code, reason: '', wasClean: false });
        const error = await within(1000, 'connect() to end', client.ended);
        expect(error).to.be.instanceOf(WebSocketCloseError);
        expect(error).to.include({ code, reason: '', wasClean: false });
        const { error: packetsError } = await packets.done;
        expect(packetsError).to.be.instanceOf(WebSocketCloseError);
        expect(packets.values).to.deep.equal([]);

        // The python server read our close frame: masked, as a client's must be, with the code.
        const report = await reportOf(path);
        expect(report.error).to.equal(null);
        expect(report.close).to.deep.equal({ code, reason: '' });
        expect(report.frames.map((f) => f.opcode)).to.deep.equal([Opcode.Close]);
        expect(report.eof).to.equal(true);
        const sent = parseFrames(Buffer.from(report.received ?? '', 'hex')).frames;
        expect(sent.map((f) => [f.opcode, f.masked, f.payload.toString('hex')])).to.deep.equal([
          [Opcode.Close, true, closePayload(code).toString('hex')],
        ]);
      });
    }

    it('an empty close frame is legal: our client answers, closed$ says 1005 clean, connect() completes', async () => {
      const client = await openClient(`ws://127.0.0.1:${port}/close-empty`);
      const [info] = await within(3000, "the client's closed$", takeValues(client.peer.closed$, 1));
      expect(info).to.deep.equal({ code: 1005, reason: '', wasClean: true });
      expect(await within(1000, 'connect() to end', client.ended)).to.equal('complete');
      const report = await reportOf('/close-empty');
      // websockets reports an empty close payload as 1005, as we do.
      expect(report.close).to.deep.equal({ code: 1005, reason: '' });
      expect(
        Buffer.from(report.received ?? '', 'hex')
          .subarray(0, 2)
          .toString('hex'),
      ).to.equal('8880');
    });

    it('a wrong Sec-WebSocket-Accept: connect() fails with ERR_CONNECT_FAILED', async () => {
      const failure = await within(
        3000,
        'connect() to fail',
        openClient(`ws://127.0.0.1:${port}/bad-accept`).then(
          () => new Error('it opened'),
          (error: unknown) => error,
        ),
      );
      expect(failure).to.be.instanceOf(WebSocketPeerError);
      expect(failure).to.have.property('code', 'ERR_CONNECT_FAILED');
      expect((failure as Error).cause).to.be.instanceOf(Error);
      expect(String((failure as Error).cause)).to.match(/Sec-WebSocket-Accept/);
    });

    it('HTTP 400 instead of 101: connect() fails with ERR_HANDSHAKE_REJECTED, statusCode 400', async () => {
      const failure = await within(
        3000,
        'connect() to fail',
        openClient(`ws://127.0.0.1:${port}/reject`).then(
          () => new Error('it opened'),
          (error: unknown) => error,
        ),
      );
      expect(failure).to.be.instanceOf(WebSocketPeerError);
      expect(failure).to.include({ code: 'ERR_HANDSHAKE_REJECTED', statusCode: 400 });
    });
  });
});
