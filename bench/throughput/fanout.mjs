// The fan-out case of `npm run bench`: one server sends each message to every one of its open
// connections. Two roles, one process each; the parent (bench/throughput.mjs) relays between them.
//
//   role 'server', impl:
//     'ours'      our listen() (writeMode Binary), its peers kept in a Set; a run's `method` is
//                 'broadcast' (`broadcast(peers, data)`) or 'sink' (`for (const peer of peers)
//                 peer.sink.next(data)`): the same peers, the same process, for both.
//     'ws'        a raw `ws` WebSocketServer (perMessageDeflate off, as ours):
//                 `for (const c of wss.clients) c.send(data)`.
//     'socketio'  a socket.io 4 Server on a plain http server, websocket transport only,
//                 perMessageDeflate off: `io.emit('m', data)`, data a string of the same size
//                 (a socket.io binary event takes two frames: a text header, then the bytes).
//     Reports { type: 'listening', port }; on { type: 'expect', count } reports { type:
//     'connected' } once that many connections are open. On { type: 'prepare', n, size } it makes
//     the run's n payloads (each carries its sequence number: the first 4 bytes, little-endian;
//     socket.io: the first 8 characters, hex) and collects its garbage, then reports 'prepared'.
//     On { type: 'run', method, window, batch } it sends them, `batch` messages per turn of the
//     event loop, while fewer than `window` messages are in flight: sent, and not yet reported
//     received by every client ({ type: 'acked', upTo }, relayed by the parent). Once all n are
//     acknowledged it reports { type: 'result', cpuUs, loopUs }: its CPU time (process.cpuUsage(),
//     user + system, every thread) from the start of the run, and the time spent in its send loops
//     (by the clock).
//
//   role 'client': `connections` connections to each server in `ports` ({ ours, ws, socketio }):
//     raw `ws` clients to ours and to ws, socket.io-client (websocket transport) to socketio.
//     Reports 'ready' once all are open. On { type: 'arm', side, n, size, ackEvery } it expects n
//     messages on each connection to that side, and checks that each comes in order (its sequence
//     number is the count so far) with the right size; each time every one of its connections has
//     another `ackEvery` (and at n) it reports { type: 'progress', upTo }, and at n { type:
//     'done', messages } (the total it received in the run). A message out of order, of the wrong
//     size, or to a side not armed ends the process with an error.
import { createServer } from 'node:http';
import { switchMap } from 'rxjs';
import { Server } from 'socket.io';
import { io as ioClient } from 'socket.io-client';
import { WebSocket, WebSocketServer } from 'ws';
import { broadcast, listen, WriteMode } from 'rx-websocket-peer';
import { args, fail, reportCrashes, tell } from '../memory/common.mjs';

const { role, impl, ports = {}, connections = 1 } = args();
reportCrashes();
process.on('disconnect', () => process.exit(0));

if (role === 'server') await serve();
else if (role === 'client') await receive();
else throw new Error(`unknown role ${role}`);

async function serve() {
  // What each impl needs: how many connections are open, and how to send one message to all.
  let count = () => 0;
  let sendAll;
  let stopServer = () => {};
  const peers = new Set();
  if (impl === 'ours') {
    await new Promise((resolve, reject) => {
      const subscription = listen({ host: '127.0.0.1', port: 0, writeMode: WriteMode.Binary })
        .pipe(
          switchMap((server) => {
            resolve(server.port);
            return server.peers$;
          }),
        )
        .subscribe({
          next: (peer) => {
            peers.add(peer);
            peer.closed$.subscribe(() => peers.delete(peer));
          },
          error: reject,
        });
      stopServer = () => subscription.unsubscribe();
    }).then((port) => tell({ type: 'listening', port }));
    count = () => peers.size;
    sendAll = {
      broadcast: (data) => broadcast(peers, data),
      sink: (data) => {
        for (const peer of peers) peer.sink.next(data);
      },
    };
  } else if (impl === 'ws') {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
    await new Promise((resolve) => wss.once('listening', resolve));
    await tell({ type: 'listening', port: wss.address().port });
    count = () => wss.clients.size;
    sendAll = {
      ws: (data) => {
        for (const c of wss.clients) c.send(data);
      },
    };
    stopServer = () => wss.close();
  } else if (impl === 'socketio') {
    const http = createServer();
    const io = new Server(http, { transports: ['websocket'], perMessageDeflate: false, serveClient: false });
    await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
    await tell({ type: 'listening', port: http.address().port });
    count = () => io.engine.clientsCount;
    sendAll = {
      socketio: (data) => {
        io.emit('m', data);
      },
    };
    stopServer = () => io.close();
  } else throw new Error(`unknown server ${impl}`);

  let expected = Infinity;
  let payloads = [];
  let run;
  // Tells the parent once the expected connections are open (they open in another process).
  const watch = () => {
    if (count() >= expected) {
      expected = Infinity;
      void tell({ type: 'connected' });
    } else setTimeout(watch, 10);
  };

  /** Sends a batch per turn while the window has room; ends the run once all are acknowledged. */
  const pump = () => {
    const r = run;
    r.scheduled = false;
    if (r.sent >= r.n || r.sent - r.acked >= r.window) return;
    // By the clock, not process.cpuUsage(): a synchronous loop runs on the CPU throughout, and
    // reading the clock costs far less than a getrusage(2) per batch.
    const start = performance.now();
    const end = Math.min(r.n, r.sent + r.batch, r.acked + r.window);
    const send = r.send;
    for (let i = r.sent; i < end; i++) send(payloads[i]);
    r.sent = end;
    r.loopUs += (performance.now() - start) * 1000;
    if (r.sent < r.n && r.sent - r.acked < r.window) {
      r.scheduled = true;
      setImmediate(pump);
    }
  };

  process.on('message', (message) => {
    if (message.type === 'expect') {
      expected = message.count;
      watch();
    } else if (message.type === 'prepare') {
      payloads = Array.from({ length: message.n }, (_, i) => payload(i, message.size, impl === 'socketio'));
      globalThis.gc?.();
      void tell({ type: 'prepared' });
    } else if (message.type === 'run') {
      const send = sendAll[message.method];
      if (!send) return void fail(new Error(`server ${impl} has no method ${message.method}`));
      run = {
        n: payloads.length,
        send,
        window: message.window,
        batch: message.batch,
        sent: 0,
        acked: 0,
        scheduled: false,
        loopUs: 0,
        cpu: process.cpuUsage(),
      };
      pump();
    } else if (message.type === 'acked') {
      const r = run;
      r.acked = message.upTo;
      if (r.acked >= r.n) {
        const cpu = process.cpuUsage(r.cpu);
        run = undefined;
        void tell({ type: 'result', cpuUs: cpu.user + cpu.system, loopUs: r.loopUs });
      } else if (!r.scheduled) pump();
    } else if (message.type === 'exit') {
      stopServer();
      setTimeout(() => process.exit(0), 100);
    }
  });
}

/** Message `i` of a run: `size` bytes (a string for socket.io), its sequence number first. */
function payload(i, size, asString) {
  if (asString) return i.toString(16).padStart(8, '0') + 'a'.repeat(size - 8);
  const bytes = Buffer.alloc(size, 0x61);
  bytes.writeUInt32LE(i, 0);
  return bytes;
}

async function receive() {
  // Per side: each connection's count in the run under way.
  const sides = {};
  let armed;
  const check = (side, index, seq, length) => {
    const a = armed;
    if (a === undefined || a.side !== side)
      throw new Error(`a message to ${side} while ${a?.side ?? 'no side'} is armed`);
    const counts = a.counts;
    const expected = counts[index];
    if (seq !== expected || length !== a.size) {
      throw new Error(
        `${side} connection ${index}: message ${seq} of ${length} B where ${expected} of ${a.size} B was due`,
      );
    }
    const k = (counts[index] = expected + 1);
    a.total++;
    if (k % a.ackEvery === 0 || k === a.n) {
      const slot = k === a.n ? a.reached.length - 1 : k / a.ackEvery - 1;
      if (++a.reached[slot] === connections) {
        void tell({ type: 'progress', upTo: k });
        if (k === a.n) {
          armed = undefined;
          void tell({ type: 'done', messages: a.total });
        }
      }
    }
  };
  const opening = [];
  for (const side of Object.keys(ports)) {
    sides[side] = [];
    for (let index = 0; index < connections; index++) {
      opening.push(
        new Promise((resolve, reject) => {
          if (side === 'socketio') {
            const socket = ioClient(`http://127.0.0.1:${ports[side]}`, {
              transports: ['websocket'],
              forceNew: true,
              reconnection: false,
            });
            socket.on('m', (data) => check(side, index, Number.parseInt(data.slice(0, 8), 16), data.length));
            socket.once('connect', () => resolve(socket));
            socket.once('connect_error', reject);
            sides[side].push(socket);
          } else {
            const ws = new WebSocket(`ws://127.0.0.1:${ports[side]}`, { perMessageDeflate: false });
            ws.on('message', (data) => check(side, index, data.readUInt32LE(0), data.length));
            ws.once('open', () => resolve(ws));
            ws.once('error', reject);
            sides[side].push(ws);
          }
        }),
      );
      // Not all at once: a burst of thousands of handshakes overflows the listen backlog.
      if (opening.length % 50 === 0) await Promise.all(opening);
    }
  }
  await Promise.all(opening);

  process.on('message', (message) => {
    try {
      if (message.type === 'arm') {
        const { side, n, size, ackEvery } = message;
        armed = {
          side,
          n,
          size,
          ackEvery,
          total: 0,
          counts: new Array(connections).fill(0),
          reached: new Uint32Array(Math.ceil(n / ackEvery) + 1),
        };
        globalThis.gc?.();
        void tell({ type: 'armed' });
      } else if (message.type === 'exit') {
        for (const list of Object.values(sides)) {
          for (const c of list) (c.terminate ?? c.disconnect).call(c);
        }
        setTimeout(() => process.exit(0), 100);
      }
    } catch (error) {
      fail(error);
    }
  });
  await tell({ type: 'ready' });
}
