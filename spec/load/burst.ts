// The child of spec/load/promotion.spec.ts, run as
//   node --import tsx --trace-gc-nvp spec/load/burst.ts '<BurstArgs as JSON>'
// It opens `connections` client peers (connect(), from the source) to a raw `ws` server in this
// process that only counts, then has each send `messages` small messages, 64 per turn of the event
// loop (text and binary in turn), as a client that sends as fast as it can does. It prints BEGIN
// and END around the burst, so that the parent can sum what V8's scavenges promoted meanwhile
// (--trace-gc-nvp prints a line per GC to stdout), and exits.
import { WebSocketServer } from 'ws';
import { connect } from '../../src/observables/connect.js';
import { WriteMode } from '../../src/peer/constants.js';
import type { WebSocketPeer } from '../../src/peer/WebSocketPeer.js';

export interface BurstArgs {
  connections: number;
  messages: number;
}

const PER_TURN = 64;

async function main(): Promise<void> {
  const { connections, messages } = JSON.parse(process.argv[2] ?? '{}') as BurstArgs;
  let received = 0;
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  server.on('connection', (ws) => ws.on('message', () => received++));
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as { port: number };
  const peers: WebSocketPeer[] = [];
  for (let i = 0; i < connections; i += 50) {
    const batch = Array.from(
      { length: Math.min(50, connections - i) },
      () =>
        new Promise<WebSocketPeer>((resolve, reject) =>
          connect(`ws://127.0.0.1:${port}`).subscribe({ next: resolve, error: reject }),
        ),
    );
    peers.push(...(await Promise.all(batch)));
  }
  const text = 'x'.repeat(64);
  console.log('BEGIN');
  await Promise.all(
    peers.map(
      (peer) =>
        new Promise<void>((resolve) => {
          let sent = 0;
          const turn = (): void => {
            for (let n = 0; n < PER_TURN && sent < messages; n++, sent++) {
              // A fresh message each time, as an application makes them.
              if (sent % 2 === 0) {
                peer.setWriteMode(WriteMode.Text);
                peer.putPacket(`${sent} ${text}`.slice(0, 64));
              } else {
                peer.setWriteMode(WriteMode.Binary);
                peer.putPacket(new Uint8Array(64).fill(sent & 0xff));
              }
            }
            if (sent < messages) setImmediate(turn);
            else resolve();
          };
          turn();
        }),
    ),
  );
  console.log('END');
  const expected = connections * messages;
  const deadline = Date.now() + 30_000;
  while (received < expected && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  console.log(`RECEIVED ${received}`);
  for (const peer of peers) peer.close();
  server.close();
  process.exit(0);
}

void main();
