// Memory under load (npm run bench, case `load-mem`): the load suite's exchange (spec/load/), with
// each side in its own process so that each side's peak RSS is its own. Two roles:
//
//   role 'server', impl 'ws' | 'ours': an echo server on 127.0.0.1. 'ws': a raw `ws`
//       WebSocketServer (perMessageDeflate off, as ours), `ws.send(data, { binary })` in its
//       'message' handler. 'ours': listen() with the README's echo pipeline,
//       `peer.packets$.pipe(tap(peer.sink), catchError(() => EMPTY))` for each peer of `peers$`.
//       Reports { type: 'listening', port }.
//   role 'client', impl 'ws' | 'ours': opens `connections` connections (`openConcurrency`
//       handshakes at a time) and reports { type: 'open' }. On { type: 'go' } every connection
//       sends its `messages` messages of `size` bytes at once, pipelined (even ones text, odd ones
//       binary), checks that the echoes come back in order, each of its kind and length, and closes
//       with 1000 after the last. 'ws': ws.send() in a loop, 'message'. 'ours': connect(),
//       sendAll(peer, generator), packets$, close(): the load suite's library client.
//       Reports { type: 'done', ... } once every connection has closed.
//
// Both reset their peak RSS (VmHWM) on { type: 'go' } (the server gets it when the clients are
// open), so that the peak is the exchange's, and sample process.memoryUsage() meanwhile (the
// maxima of the V8 heap and of the ArrayBuffers, to tell where a peak went). On
// { type: 'measure' } each reports { type: 'result', peakKiB, ... }. Both run with --expose-gc
// and collect their garbage before 'go', so that the exchange starts from the same heap.
import { catchError, EMPTY, mergeMap, switchMap, tap } from 'rxjs';
import { WebSocket as WsWebSocket, WebSocketServer } from 'ws';
import { connect, listen, sendAll } from 'rx-websocket-peer';
import { args, reportCrashes, resetPeak, sampleMemory, sleep, statusKiB, tell } from '../memory/common.mjs';

const { role, impl, port, connections = 1000, messages = 1000, size = 64, openConcurrency = 100 } = args();
reportCrashes();

let sampler;
let peakReset = false;
let cpuAtGo;

async function settle() {
  for (let i = 0; i < 3; i++) {
    globalThis.gc?.();
    await sleep(20);
  }
}

/** Marks the start of the exchange: a collected heap, the peak reset, the sampler on. */
async function go() {
  await settle();
  peakReset = resetPeak();
  cpuAtGo = process.cpuUsage();
  sampler = sampleMemory(10);
}

/** What this side reports at the end. */
function result(extra = {}) {
  const max = sampler?.stop() ?? {};
  const cpu = process.cpuUsage(cpuAtGo);
  return {
    type: 'result',
    peakKiB: statusKiB('VmHWM'),
    rssKiB: statusKiB('VmRSS'),
    peakReset,
    cpuMs: (cpu.user + cpu.system) / 1000,
    maxHeapUsed: max.heapUsed,
    maxArrayBuffers: max.arrayBuffers,
    maxExternal: max.external,
    ...extra,
  };
}

// Message j of connection i: even ones text, odd ones binary; j in the first bytes (the check).
const isText = (j) => j % 2 === 0;
function message(i, j) {
  if (isText(j)) {
    const head = `${j} ${i} `;
    return head.length >= size ? head : head + 'x'.repeat(size - head.length);
  }
  const bytes = new Uint8Array(Math.max(size, 8));
  const view = new DataView(bytes.buffer);
  view.setUint32(0, j, true);
  view.setUint32(4, i, true);
  return bytes;
}
/** Whether an echo is message j of connection i: its kind, its length and its j. */
function isEcho(i, j, text, data) {
  if (text !== isText(j)) return false;
  if (text) return data.length === Math.max(size, `${j} ${i} `.length) && data.startsWith(`${j} ${i} `);
  return (
    data.byteLength === Math.max(size, 8) &&
    new DataView(data.buffer, data.byteOffset, 8).getUint32(0, true) === j &&
    new DataView(data.buffer, data.byteOffset, 8).getUint32(4, true) === i
  );
}

if (role === 'server') await server();
else await clients();

process.on('message', (m) => {
  if (m.type === 'exit') process.exit(0);
});
process.on('disconnect', () => process.exit(0));

async function server() {
  let echoed = 0;
  let closed = 0;
  if (impl === 'ws') {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
    wss.on('connection', (ws) => {
      ws.on('message', (data, isBinary) => {
        ws.send(data, { binary: isBinary });
        echoed++;
      });
      ws.on('close', () => closed++);
    });
    await new Promise((resolve) => wss.on('listening', resolve));
    await tell({ type: 'listening', port: wss.address().port });
  } else {
    const port = await new Promise((resolve, reject) => {
      listen({ host: '127.0.0.1', port: 0 })
        .pipe(
          tap((server) => resolve(server.port)),
          switchMap((server) => server.peers$),
          mergeMap((peer) =>
            peer.packets$.pipe(
              tap(peer.sink),
              catchError(() => EMPTY),
              tap({ finalize: () => closed++ }),
            ),
          ),
        )
        .subscribe({ next: () => echoed++, error: reject });
    });
    await tell({ type: 'listening', port });
  }
  process.on('message', async (m) => {
    if (m.type === 'go') {
      await go();
      await tell({ type: 'going' });
    } else if (m.type === 'measure') {
      await tell(result({ echoed, closed }));
    }
  });
}

async function clients() {
  const url = `ws://127.0.0.1:${port}`;
  let received = 0;
  let wrong = 0;
  let closedClean = 0;
  const problems = [];
  const problem = (text) => problems.length < 5 && problems.push(text);

  /** Opens connection i; resolves to { run() } where run() resolves once it has closed. */
  const open = impl === 'ws' ? openWs : openOurs;

  function openWs(i) {
    return new Promise((resolve, reject) => {
      const ws = new WsWebSocket(url, { perMessageDeflate: false });
      ws.on('error', (error) => problem(`connection ${i}: ${error.message}`));
      ws.once('unexpected-response', () => reject(new Error('handshake refused')));
      const ended = new Promise((done) =>
        ws.once('close', (code) => {
          if (code === 1000) closedClean++;
          done();
        }),
      );
      ws.once('open', () =>
        resolve({
          run: () => {
            let j = 0;
            ws.on('message', (data, isBinary) => {
              received++;
              const text = !isBinary;
              if (!isEcho(i, j, text, text ? data.toString('utf8') : data)) wrong++;
              if (++j === messages) ws.close(1000);
            });
            for (let k = 0; k < messages; k++) ws.send(message(i, k), { binary: !isText(k) });
            return ended;
          },
        }),
      );
    });
  }

  function openOurs(i) {
    return new Promise((resolve, reject) => {
      let ended;
      const end = new Promise((done) => (ended = done));
      let opened = false;
      connect(url).subscribe({
        next: (peer) => {
          opened = true;
          resolve({
            run: () => {
              let j = 0;
              peer.packets$.subscribe({
                next: (packet) => {
                  received++;
                  if (!isEcho(i, j, packet.isString, packet.data)) wrong++;
                  if (++j === messages) peer.close(1000);
                },
                error: (error) => problem(`connection ${i}: packets$ failed: ${error.message}`),
              });
              function* outgoing() {
                for (let k = 0; k < messages; k++) yield message(i, k);
              }
              sendAll(peer, outgoing()).subscribe({
                error: (error) => problem(`connection ${i}: sendAll failed: ${error.message}`),
              });
              return end;
            },
          });
        },
        error: (error) => (opened ? (problem(`connection ${i}: ${error.message}`), ended()) : reject(error)),
        complete: () => {
          closedClean++;
          ended();
        },
      });
    });
  }

  const opened = new Array(connections);
  let next = 0;
  const startedAt = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(openConcurrency, connections) }, async () => {
      while (next < connections) {
        const i = next++;
        opened[i] = await open(i);
      }
    }),
  );
  const openMs = performance.now() - startedAt;
  await new Promise((resolve) => {
    process.on('message', async (m) => {
      if (m.type === 'go') {
        await go();
        resolve();
      } else if (m.type === 'measure') {
        await tell(result({ received, wrong, closedClean, problems, exchangeMs }));
      }
    });
    void tell({ type: 'open', openMs });
  });
  const t0 = performance.now();
  let exchangeMs = 0;
  await Promise.all(opened.map((c) => c.run()));
  exchangeMs = performance.now() - t0;
  await tell({ type: 'done', exchangeMs });
}
