// server.mjs in Node: its graceful stop, called from code and on SIGTERM/SIGINT, and
// dropConnections(). The clients are rx-websocket-peer's own connect(), over ws, writing the rooms
// protocol's publish frames themselves (docs/rooms.md of the library, "The wire protocol"): all
// of them written at once, before the server stops.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { expect } from 'chai';
import { connect, ROOMS_PROTOCOL, type WebSocketPeer } from 'rx-websocket-peer';
import { filter, firstValueFrom, type Subscription, timeout, toArray } from 'rxjs';
import { CHAT_ROOM_NAME, startChatServer } from '../server.mjs';

const HERE = resolve(import.meta.dirname, '..');
const WAIT = 10_000;

/** The rooms protocol's publish of `text` or `bytes` into the chat room, under `id`. */
const publish = (id: string, data: string | Uint8Array): string =>
  JSON.stringify(
    typeof data === 'string'
      ? { type: 'publish', room: CHAT_ROOM_NAME, id, text: data }
      : { type: 'publish', room: CHAT_ROOM_NAME, id, bytes: Buffer.from(data).toString('base64') },
  );

/** Whether nothing listens on `port` of 127.0.0.1 any more: we can bind it ourselves. */
async function portIsFree(port: number): Promise<boolean> {
  const probe = createServer();
  try {
    await new Promise<void>((done, fail) => probe.once('error', fail).listen(port, '127.0.0.1', done));
    return true;
  } catch {
    return false;
  } finally {
    probe.close();
  }
}

describe('server.mjs', function () {
  this.timeout(20_000);

  const clients: Subscription[] = [];
  const children: ChildProcess[] = [];
  /** A client of the rooms protocol on the chat of `url` (http://host:port/), open; closed after the test. */
  const client = (url: string): Promise<WebSocketPeer> =>
    new Promise((done, fail) => {
      // connect() keeps its peer open while subscribed; it errors once the server closes with 1001.
      const chat = new URL('/chat', url.replace(/^http/, 'ws'));
      clients.push(
        connect(chat, { protocols: ROOMS_PROTOCOL })
          .pipe(timeout({ first: WAIT }))
          .subscribe({ next: done, error: fail }),
      );
    });
  afterEach(() => {
    for (const subscription of clients.splice(0)) subscription.unsubscribe();
    for (const child of children.splice(0)) child.kill('SIGKILL');
  });

  it('stop() stores every message a client published before the close, in received$, then frees the port', async () => {
    const server = await startChatServer({ port: 0 });
    const peer = await client(server.url);
    const all = firstValueFrom(server.received$.pipe(toArray()));
    const first = firstValueFrom(server.received$);
    // 2 MiB in 2,048 texts, all written before the server can close: most are still in flight
    // (in the sockets, in the peer's inbound queue) when stop() starts.
    const padding = 'x'.repeat(1024);
    const written = Array.from({ length: 2048 }, (_, i) => `${i} ${padding}`);
    for (const [i, text] of written.entries()) peer.putPacket(publish(`stop-${i}`, text));
    await first;

    await server.stop();

    const received = await all; // complete: received$ completes once stopped
    expect(received.length).to.equal(written.length);
    expect(received).to.deep.equal(written);
    const closed = await firstValueFrom(peer.closed$.pipe(timeout(WAIT)));
    expect(closed).to.deep.include({ code: 1001 });
    expect(await portIsFree(server.port)).to.equal(true);
    // A second stop() is the same one, already done.
    await server.stop();
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`on ${signal}: stores every message its peers published before it, closes them with 1001, and exits with 0`, async () => {
      const child = spawn(process.execPath, ['server.mjs', '0'], { cwd: HERE, stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      let output = '';
      child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
      child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
      const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
      const started = /The chat is on (http:\S+) /;
      const deadline = Date.now() + WAIT;
      while (!started.test(output)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`server.mjs did not start:\n${output}`);
        await new Promise((done) => setTimeout(done, 20));
      }
      const peer = await client(started.exec(output)?.[1] as string);
      // 8 MiB (11 MiB in base64) in 512 publishes of bytes, then one of text, all written before the
      // signal: most are still on their way when the server starts to stop. It logs bytes as
      // '[16384 bytes]'.
      const chunk = new Uint8Array(16 * 1024);
      for (let i = 0; i < 512; i++) peer.putPacket(publish(`bytes-${i}`, chunk));
      peer.putPacket(publish('last', `last before ${signal}`));

      child.kill(signal); // at once: most texts are still on their way

      const closed = await firstValueFrom(peer.closed$.pipe(timeout(WAIT)));
      expect(closed).to.deep.include({ code: 1001 });
      const [code, killedBy] = await Promise.race([
        exited,
        new Promise<never>((_, fail) => setTimeout(() => fail(new Error(`still running:\n${output}`)), WAIT)),
      ]);
      expect({ code, killedBy }, output).to.deep.equal({ code: 0, killedBy: null });
      const lines = output.split('\n');
      const received = lines.flatMap((line) => /^received: (.*)$/.exec(line)?.[1] ?? []);
      expect(received.length).to.equal(513);
      expect(received.slice(0, 512).every((text) => text === '[16384 bytes]')).to.equal(true);
      expect(received[512]).to.equal(`last before ${signal}`);
      expect(lines.indexOf('Stopped.')).to.be.greaterThan(lines.indexOf(`received: last before ${signal}`));
    });
  }

  it('dropConnections() cuts every client without a closing handshake; the server goes on', async () => {
    const server = await startChatServer({ port: 0 });
    try {
      const peers = [await client(server.url), await client(server.url)];
      expect(server.dropConnections()).to.be.at.least(2);
      for (const peer of peers) {
        const closed = await firstValueFrom(peer.closed$.pipe(timeout(WAIT)));
        expect(closed).to.deep.include({ code: 1006, wasClean: false });
      }
      // A client after the cut is served: its publish is stored.
      const stored = firstValueFrom(
        server.received$.pipe(
          filter((text) => text === 'after the cut'),
          timeout(WAIT),
        ),
      );
      (await client(server.url)).putPacket(publish('after', 'after the cut'));
      expect(await stored).to.equal('after the cut');
    } finally {
      await server.stop();
    }
  });

  it('answers 400 to a client that does not offer the rooms subprotocol', async () => {
    const server = await startChatServer({ port: 0 });
    try {
      const refused = await firstValueFrom(
        connect(new URL('/chat', server.url.replace(/^http/, 'ws'))).pipe(timeout(WAIT)),
      ).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(refused).to.deep.include({ code: 'ERR_HANDSHAKE_REJECTED', statusCode: 400 });
    } finally {
      await server.stop();
    }
  });
});
