// The sending side: connects to the reader at ws://127.0.0.1:<port> and sends `count` binary
// chunks of `size` bytes (bench/memory/common.mjs chunk(i): made lazily, one at a time),
// hashing each one (sha256) as it is made. How it sends depends on `mode`:
//
//   'sendAll'           ours: sendAll(peer, generator), pull-based.
//   'backpressure'      ours: a paced Observable source -> backpressure(peer) -> peer.sink.
//   'backpressure-free' ours, for information: a free-running setImmediate source -> backpressure(peer).
//   'raw-ws'            contrast: the `ws` package's WebSocket, ws.send() in a plain loop.
//   'rxjs-webSocket'    contrast: RxJS webSocket() from 'rxjs/webSocket', subject.next() in a loop.
//
// Idle RSS is read once the connection is open, just before the first chunk is made, and VmHWM
// is reset there; the peak is read once the connection has closed after the last byte.
import { createHash } from 'node:crypto';
import { Observable, tap } from 'rxjs';
import { webSocket } from 'rxjs/webSocket';
import { WebSocket as WsWebSocket } from 'ws';
import { backpressure, connect, sendAll, WriteMode } from 'rx-websocket-peer';
import { args, chunk, fail, finish, reportCrashes, resetPeak, sampleMemory, sleep, statusKiB } from './common.mjs';

const { mode, port, count, size, window: creditWindow = 4, gcEvery } = args();
const url = `ws://127.0.0.1:${port}`;

reportCrashes();

// Warm-up: the code paths of the work, before idle is read.
createHash('sha256').update(chunk(0, size)).digest('hex');
await sleep(1);

const hash = createHash('sha256');
let produced = 0;
let bytes = 0;
const make = () => {
  const bytesOfChunk = chunk(produced++, size);
  hash.update(bytesOfChunk);
  if (gcEvery && produced % gcEvery === 0) globalThis.gc?.(); // diagnostics only (BENCH_SENDER)
  bytes += bytesOfChunk.byteLength;
  return bytesOfChunk;
};
let idleKiB = 0;
let hwmReset = false;
let sampler;
let startedAt = 0;
const begin = () => {
  idleKiB = statusKiB('VmRSS');
  hwmReset = resetPeak();
  sampler = sampleMemory();
  startedAt = performance.now();
};
const report = (extra) =>
  finish({
    role: 'sender',
    mode,
    idleKiB,
    hwmReset,
    bytes,
    packets: produced,
    digest: hash.digest('hex'),
    ms: Math.round(performance.now() - startedAt),
    memory: sampler?.stop(),
    ...extra,
  });

if (mode === 'sendAll' || mode === 'backpressure' || mode === 'backpressure-free') ours();
else if (mode === 'raw-ws') rawWs();
else if (mode === 'rxjs-webSocket') rxjsWebSocket();
else fail(new Error(`unknown mode ${mode}`));

function ours() {
  // Binary write mode: peer.sink sends bytes as binary frames (Text mode would refuse non-UTF-8).
  // sendAll sends bytes as binary whatever the mode.
  connect(url, { writeMode: WriteMode.Binary }).subscribe({
    next: (peer) => {
      begin();
      let maxBuffered = 0;
      peer.bufferedAmount$.subscribe((amount) => {
        maxBuffered = Math.max(maxBuffered, amount);
      });
      let sendError;
      const held = { now: 0, max: 0, maxBytes: 0 };
      peer.closed$.subscribe((info) =>
        report({
          maxBuffered,
          maxHeld: held.max,
          maxHeldBytes: held.maxBytes,
          sendError: sendError && (sendError.code ? `${sendError.code}: ${sendError.message}` : String(sendError)),
          close: info,
        }),
      );

      if (mode === 'sendAll') {
        function* chunks() {
          while (produced < count) yield make();
        }
        sendAll(peer, chunks()).subscribe({
          complete: () => peer.close(1000, 'all sent'),
          error: (error) => {
            sendError = error;
            peer.close(1011);
          },
        });
        return;
      }

      // backpressure() cannot slow a source down: it holds what the source pushes while the
      // peer's buffer is above the high mark, up to maxHeldBytes (64 MiB), then errors. A source
      // that merely yields between values (interval(0), a setImmediate loop) keeps producing at
      // its own rate while the reader stalls for 5 s, so the held buffer grows at that rate
      // (that is the 'backpressure-free' mode, run for information). For the bounded case the
      // source makes each chunk lazily on its own setImmediate turn AND stops while `window`
      // values (4, 256 KiB) have gone into backpressure() without coming out: credit-based,
      // so backpressure() still holds and releases values (and the high mark still decides
      // when they go), but the held buffer stays at most `window` values.
      const window = mode === 'backpressure' ? creditWindow : Infinity;
      let wake = () => {};
      const source = new Observable((subscriber) => {
        let scheduled;
        const step = () => {
          scheduled = undefined;
          if (subscriber.closed) return;
          if (produced === count) return subscriber.complete();
          if (held.now >= window) return; // woken when backpressure() lets one out
          held.now++;
          held.max = Math.max(held.max, held.now);
          held.maxBytes = Math.max(held.maxBytes, held.now * size);
          subscriber.next(make());
          wake();
        };
        wake = () => {
          scheduled ??= setImmediate(step);
        };
        wake();
        return () => clearImmediate(scheduled);
      });
      source
        .pipe(
          backpressure(peer),
          tap({
            next: () => {
              held.now--;
              wake();
            },
            error: (error) => {
              sendError = error;
            },
          }),
        )
        .subscribe(peer.sink); // sink.complete() closes with 1000, sink.error() with 1011
    },
    error: fail,
  });
}

/** Polls until `socket.bufferedAmount` is 0, so that close() comes after the last byte. */
async function drained(socket) {
  while (socket.bufferedAmount > 0) await sleep(10);
}

function rawWs() {
  const ws = new WsWebSocket(url, { perMessageDeflate: false });
  ws.on('open', async () => {
    begin();
    // What a plain `ws` user writes: send everything; ws and the socket queue what TCP cannot take.
    while (produced < count) ws.send(make());
    await drained(ws);
    ws.close(1000, 'all sent');
  });
  ws.on('error', fail);
  ws.on('close', (code) => report({ close: { code } }));
}

function rxjsWebSocket() {
  // Node 20 has no global WebSocket (Node 22 has); RxJS then needs a constructor, and the `ws`
  // package's WebSocket is one. A subclass to keep the instance, so that we can wait for its
  // bufferedAmount to reach 0 before closing.
  const Base = typeof globalThis.WebSocket === 'function' ? globalThis.WebSocket : WsWebSocket;
  let socket;
  class Tracked extends Base {
    constructor(...rest) {
      super(...rest);
      socket = this;
    }
  }
  const subject = webSocket({
    url,
    WebSocketCtor: Tracked,
    binaryType: 'arraybuffer',
    serializer: (value) => value, // the default is JSON.stringify
    deserializer: (event) => event.data,
    openObserver: {
      // After open, on the next turn: next() then goes straight to socket.send() (before open,
      // RxJS would queue every value in a ReplaySubject first).
      next: () =>
        setImmediate(async () => {
          begin();
          while (produced < count) subject.next(make());
          await drained(socket);
          subject.complete(); // socket.close()
        }),
    },
    closeObserver: {
      next: (event) =>
        report({ close: { code: event.code }, ctor: Base === WsWebSocket ? "ws's WebSocket" : 'global WebSocket' }),
    },
  });
  subject.subscribe({ error: (event) => fail(event?.error ?? new Error(`webSocket error ${event?.type}`)) });
}
