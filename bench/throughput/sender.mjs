// The client side of the throughput and round-trip cases. One process per client kind, kept for
// the whole case: it connects once, then runs what the parent asks, one run at a time, so that
// the runs of the different clients interleave and each one profits from the same warm-up.
//
//   client 'ws'       the `ws` package's WebSocket: ws.send() in a loop.
//   client 'rxjs'     RxJS webSocket() from 'rxjs/webSocket' (WebSocketCtor: ws's WebSocket,
//                     binaryType 'arraybuffer', serializer v => v, deserializer e => e.data): subject.next().
//   client 'ours'     connect() and peer.sink.next() in a loop (writeMode Binary or Text).
//   client 'ours-subject'  the same loop into a Subject that peer.sink subscribes to: the path
//                     of 'ours-bp' without the operator, so that the two differ by backpressure() alone.
//   client 'ours-bp'  the same values through backpressure(peer) (default marks) into peer.sink:
//                     a Subject fed by the same loop, piped through backpressure().
//
// Messages from the parent:
//   { type: 'send', n }  one-way: sends n payloads as fast as the client takes them; the time
//                        runs from just before the first send until the parent relays
//                        { type: 'reached' } from the receiver (all n counted there).
//                        Reports { type: 'result', ms, loopMs } (loopMs: the send loop alone).
//   { type: 'rtt', n }   n sequential round trips of one payload through the echo server; reports
//                        { type: 'result', p50, p99, mean } in microseconds.
//   { type: 'exit' }     closes and exits (so that --cpu-prof writes its profile).
import { Subject } from 'rxjs';
import { webSocket } from 'rxjs/webSocket';
import { WebSocket as WsWebSocket } from 'ws';
import { backpressure, connect, WriteMode } from 'rx-websocket-peer';
import { args, fail, reportCrashes, tell } from '../memory/common.mjs';

const { client, port, kind = 'binary', size = 64 } = args();
const url = `ws://127.0.0.1:${port}`;
reportCrashes();

// One payload, sent again and again: clients mask (and so copy) what they send, so reusing it is safe.
const payload = kind === 'text' ? 'a'.repeat(size) : new Uint8Array(size).fill(0x61);

/** send(value): one message; onMessage(fn): fn() per inbound message; close(). */
const transport = await open();
await tell({ type: 'ready' });

let waiting; // resolves when the parent relays 'reached'
process.on('message', async (message) => {
  try {
    if (message.type === 'send') await oneWay(message.n);
    else if (message.type === 'reached') waiting?.();
    else if (message.type === 'rtt') await roundTrips(message.n);
    else if (message.type === 'exit') {
      transport.close();
      setTimeout(() => process.exit(0), 100);
    }
  } catch (error) {
    fail(error);
  }
});
process.on('disconnect', () => process.exit(0));

async function oneWay(n) {
  const reached = new Promise((resolve) => (waiting = resolve));
  const t0 = performance.now();
  transport.sendMany(n);
  const loopMs = performance.now() - t0;
  await reached;
  const ms = performance.now() - t0;
  await tell({ type: 'result', ms, loopMs });
}

async function roundTrips(n) {
  const times = new Float64Array(n);
  await new Promise((resolve) => {
    let i = 0;
    let t = 0;
    transport.onMessage(() => {
      times[i++] = performance.now() - t;
      if (i === n) return resolve();
      t = performance.now();
      transport.send(payload);
    });
    t = performance.now();
    transport.send(payload);
  });
  transport.onMessage(undefined);
  times.sort();
  const at = (q) => times[Math.min(n - 1, Math.floor(q * n))] * 1000;
  const mean = (times.reduce((a, b) => a + b, 0) / n) * 1000;
  await tell({ type: 'result', p50: at(0.5), p99: at(0.99), mean });
}

function open() {
  if (client === 'ws') return openWs();
  if (client === 'rxjs') return openRxjs();
  if (client === 'ours' || client === 'ours-subject' || client === 'ours-bp') return openOurs(client);
  throw new Error(`unknown client ${client}`);
}

function openWs() {
  return new Promise((resolve, reject) => {
    const ws = new WsWebSocket(url, { perMessageDeflate: false });
    let handler;
    ws.on('message', () => handler?.());
    ws.on('error', reject);
    ws.on('open', () => {
      ws._socket.setNoDelay(true); // as ours does by default (ws sets it too; explicit here)
      resolve({
        send: (value) => ws.send(value),
        sendMany(n) {
          for (let i = 0; i < n; i++) ws.send(payload);
        },
        onMessage: (fn) => (handler = fn),
        close: () => ws.close(1000),
      });
    });
  });
}

function openRxjs() {
  return new Promise((resolve, reject) => {
    let handler;
    const subject = webSocket({
      url,
      WebSocketCtor: WsWebSocket,
      binaryType: 'arraybuffer',
      serializer: (value) => value,
      deserializer: (event) => event.data,
      openObserver: {
        // On the next turn: next() then goes straight to socket.send().
        next: () =>
          setImmediate(() =>
            resolve({
              send: (value) => subject.next(value),
              sendMany(n) {
                for (let i = 0; i < n; i++) subject.next(payload);
              },
              onMessage: (fn) => (handler = fn),
              close: () => subject.complete(),
            }),
          ),
      },
    });
    subject.subscribe({
      next: () => handler?.(),
      error: (event) => reject(event?.error ?? new Error('webSocket error')),
    });
  });
}

function openOurs(how) {
  return new Promise((resolve, reject) => {
    connect(url, { writeMode: kind === 'text' ? WriteMode.Text : WriteMode.Binary }).subscribe({
      next: (peer) => {
        let handler;
        peer.packets$.subscribe(() => handler?.());
        const sink = peer.sink;
        resolve({
          send: (value) => sink.next(value),
          sendMany:
            how === 'ours-bp'
              ? (n) => {
                  // backpressure() holds what a synchronous loop pushes while the buffer is above
                  // the high mark: allow all of it (256 MiB for 64 KiB x 4k); the marks stay default.
                  const source = new Subject();
                  source
                    .pipe(backpressure(peer, { maxHeldBytes: Math.max(64 * 1024 * 1024, 2 * n * size) }))
                    .subscribe({
                      next: (value) => sink.next(value),
                      error: fail,
                    });
                  for (let i = 0; i < n; i++) source.next(payload);
                  source.complete();
                }
              : how === 'ours-subject'
                ? (n) => {
                    const source = new Subject();
                    source.subscribe({ next: (value) => sink.next(value), error: fail });
                    for (let i = 0; i < n; i++) source.next(payload);
                    source.complete();
                  }
                : (n) => {
                    for (let i = 0; i < n; i++) sink.next(payload);
                  },
          onMessage: (fn) => (handler = fn),
          close: () => peer.close(1000),
        });
      },
      error: reject,
    });
  });
}
