import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { firstValueFrom } from 'rxjs';
import { Color, NodePath, PoolStringArray, Vector2, Vector3, type Variant } from '../../src/codec/godotTypes.js';
import { WriteMode } from '../../src/peer/constants.js';
import type { CloseInfo, Packet } from '../../src/peer/types.js';
import type { WebSocketPeer } from '../../src/peer/WebSocketPeer.js';
import { delay, needsTool, startServer, stopAll, takeValues } from '../helpers.js';

const GODOT = '/usr/bin/godot3-server';
const fixtures = fileURLToPath(new URL('../fixtures/godot/', import.meta.url));

/** What ws_client.gd sends with put_var() (Godot Dictionaries decode to Maps, in their order). */
const fromGodot = new Map<Variant, Variant>([
  ['int', 42],
  ['negative', -7],
  ['big', 2 ** 40],
  ['float', 1.5],
  ['string', 'héllo wörld'],
  ['vector2', new Vector2(1.5, -2.25)],
  ['color', new Color(0.25, 0.5, 0.75, 1)],
  ['array', [1, 'two', 3.5, [true, null]]],
  ['bytes', new Uint8Array([0, 1, 127, 128, 255])],
  [
    'nested',
    new Map<Variant, Variant>([
      ['k', [4]],
      [7, 'seven'],
    ]),
  ],
]);

/** What we send with putVar(); ws_client.gd compares get_var() with the same Dictionary. */
const toGodot = new Map<Variant, Variant>([
  ['vector3', new Vector3(1, 2.5, -3)],
  ['path', NodePath.parse('/root/Main/Player:position:x')],
  ['names', new PoolStringArray(['a', 'héllo', ''])],
  ['big', 2 ** 40],
  ['float', 0.1],
  ['list', [1, 'x', new Vector2(0.5, 0.25)]],
]);

interface GodotRun {
  child: ChildProcess;
  /** Everything the script printed so far. */
  stdout(): string;
  stderr(): string;
  /** The exit code (or the signal that ended it), once the process has ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function runGodot(url: string, timeoutMs: number): GodotRun {
  const child = spawn(GODOT, ['-s', 'ws_client.gd', '--', url], { cwd: fixtures, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('error', (error) => {
      err += String(error);
      resolve({ code: null, signal: null });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Waits until `count` packets wait in the peer's queue, or fails after `timeoutMs`. */
async function packetsWaiting(peer: WebSocketPeer, count: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (peer.getAvailablePacketCount() < count) {
    if (Date.now() > deadline) throw new Error(`only ${peer.getAvailablePacketCount()} of ${count} packets came`);
    await delay(10);
  }
}

describe('interop: Godot 3 WebSocketClient (godot3-server)', function () {
  this.timeout(40_000);
  let godot: GodotRun | undefined;

  afterEach(async () => {
    if (godot && godot.child.exitCode === null && godot.child.signalCode === null) {
      godot.child.kill('SIGKILL');
      await godot.exited;
    }
    godot = undefined;
    stopAll();
  });

  it('exchanges text, binary and put_var packets both ways, and sees our close code and reason', async function () {
    needsTool('godot3-server');
    const server = await startServer();
    const peerOpened = server.nextPeer();
    const run = runGodot(server.url, 20_000);
    godot = run;
    const describeRun = () => `godot stdout:\n${run.stdout()}\ngodot stderr:\n${run.stderr()}`;

    const peer = await Promise.race([
      peerOpened,
      run.exited.then(() => {
        throw new Error(`godot exited before connecting\n${describeRun()}`);
      }),
    ]);
    const closed = firstValueFrom(peer.closed$);

    // What Godot sent: text, binary, put_var, in that order, taken with the polling API.
    await packetsWaiting(peer, 3, 15_000);
    const text = peer.getPacket();
    expect(peer.wasStringPacket()).to.equal(true);
    expect(text).to.deep.equal({ isString: true, data: 'hello from godot' } satisfies Packet);
    const binary = peer.getPacket();
    expect(peer.wasStringPacket()).to.equal(false);
    expect(binary?.isString).to.equal(false);
    expect(binary?.data).to.deep.equal(new Uint8Array([1, 2, 3, 255]));
    const value = peer.getVar();
    expect(peer.wasStringPacket()).to.equal(false);
    expect(value).to.deep.equal(fromGodot);

    // Our answer: text (the default write mode), binary, and putVar() while the mode is text
    // again (putVar() always sends a binary frame).
    peer.sink.next('hello from node ✓');
    peer.setWriteMode(WriteMode.Binary);
    peer.putPacket(new Uint8Array([0, 128, 255, 10]));
    peer.setWriteMode(WriteMode.Text);
    peer.putVar(toGodot);

    // Godot acknowledges after checking all three, then we close.
    const [ack] = await Promise.race([
      takeValues(peer.packets$, 1),
      run.exited.then(() => {
        throw new Error(`godot exited before acknowledging\n${describeRun()}`);
      }),
    ]);
    expect(ack, describeRun()).to.deep.equal({ isString: true, data: 'ACK 3 OK' } satisfies Packet);
    peer.close(4000, 'bye from node');

    const info: CloseInfo = await closed;
    const { code, signal } = await run.exited;
    const out = run.stdout();
    const lines = out.split('\n').map((line) => line.trim());

    expect(signal, describeRun()).to.equal(null);
    expect(
      lines.filter((line) => line.startsWith('FAIL')),
      describeRun(),
    ).to.deep.equal([]);
    expect(lines, describeRun()).to.include.members([
      'OK text',
      'OK binary',
      'OK var',
      'CLOSE_REQUEST code=4000 reason=bye from node',
      'CLOSED was_clean=True',
      'EXIT 0',
    ]);
    expect(code, describeRun()).to.equal(0);
    // We started the closing handshake: closed$ reports our code and reason, and a clean close.
    expect(info).to.deep.equal({ code: 4000, reason: 'bye from node', wasClean: true } satisfies CloseInfo);
  });
});
