// server.mjs in Node: its graceful stop, called from code and on SIGTERM/SIGINT. The clients are
// rx-websocket-peer's own connect(), over ws.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { expect } from 'chai';
import { connect, type WebSocketPeer } from 'rx-websocket-peer';
import { firstValueFrom, type Subscription, timeout, toArray } from 'rxjs';
import { startChatServer } from '../server.mjs';

const HERE = resolve(import.meta.dirname, '..');
const WAIT = 10_000;

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
  /** A client on the chat of `url` (http://host:port/), open; closed after the test. */
  const client = (url: string): Promise<WebSocketPeer> =>
    new Promise((done, fail) => {
      // connect() keeps its peer open while subscribed; it errors once the server closes with 1001.
      const chat = new URL('/chat', url.replace(/^http/, 'ws'));
      clients.push(
        connect(chat)
          .pipe(timeout({ first: WAIT }))
          .subscribe({ next: done, error: fail }),
      );
    });
  afterEach(() => {
    for (const subscription of clients.splice(0)) subscription.unsubscribe();
    for (const child of children.splice(0)) child.kill('SIGKILL');
  });

  it('stop() hands every text a client wrote before the close to received$, then frees the port', async () => {
    const server = await startChatServer({ port: 0, tickInterval: 60_000 });
    const peer = await client(server.url);
    const all = firstValueFrom(server.received$.pipe(toArray()));
    const first = firstValueFrom(server.received$);
    // 2 MiB in 2,048 texts, all written before the server can close: most are still in flight
    // (in the sockets, in the peer's inbound queue) when stop() starts.
    const padding = 'x'.repeat(1024);
    const written = Array.from({ length: 2048 }, (_, i) => `${i} ${padding}`);
    for (const text of written) peer.putPacket(text);
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
    it(`on ${signal}: handles every text its peers wrote before it, closes them with 1001, and exits with 0`, async () => {
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
      // 8 MiB in 512 binary messages, then one text, all written before the signal: most are still
      // on their way when the server starts to stop. It logs bytes as '[16384 bytes]'.
      const chunk = new Uint8Array(16 * 1024);
      for (let i = 0; i < 512; i++) peer.putPacket({ isString: false, data: chunk });
      peer.putPacket(`last before ${signal}`);

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
});
