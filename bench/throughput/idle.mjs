// Idle memory per connection. Run with --expose-gc. Two roles, one process each:
//
//   role 'server', impl 'ws' | 'ours': a raw `ws` WebSocketServer, or our listen() with every
//       peer from peers$ kept (as an app would keep them). Reports { type: 'listening', port }.
//   role 'client', impl 'ws' | 'ours' | 'rxjs': opens `count` connections to the server, `batch`
//       at a time (the `ws` WebSocket; our connect(), one subscription each; RxJS webSocket(),
//       one subject and subscription each), and keeps them open.
//
// Each process reads its RSS (VmRSS) after a full GC before it opens or accepts anything
// ('before'), and again after a full GC once the parent says all connections are open ('after';
// the parent sends { type: 'measure' }). It reports { type: 'result', beforeKiB, afterKiB,
// heapBefore, heapAfter, externalBefore, externalAfter, open } and waits for { type: 'exit' }.
import { switchMap } from 'rxjs';
import { webSocket } from 'rxjs/webSocket';
import { WebSocket as WsWebSocket, WebSocketServer } from 'ws';
import { connect, listen } from 'rx-websocket-peer';
import { args, reportCrashes, sleep, statusKiB, tell } from '../memory/common.mjs';

const { role, impl, port, count = 5000, batch = 100 } = args();
reportCrashes();

async function settle() {
  for (let i = 0; i < 4; i++) {
    globalThis.gc?.();
    await sleep(50);
  }
  const usage = process.memoryUsage();
  return { rssKiB: statusKiB('VmRSS'), heap: usage.heapUsed, external: usage.external + usage.arrayBuffers };
}

const kept = []; // everything that must stay reachable
let open = 0;

// Warm the code paths and the modules before 'before', so that they are not counted per connection.
const before = await settle();

if (role === 'server') {
  if (impl === 'ws') {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, backlog: 2048 });
    server.on('connection', (ws) => {
      kept.push(ws);
      open++;
    });
    server.on('listening', () => void tell({ type: 'listening', port: server.address().port }));
    kept.push(server);
  } else {
    listen({ host: '127.0.0.1', port: 0 })
      .pipe(
        switchMap((server) => {
          void tell({ type: 'listening', port: server.port });
          return server.peers$;
        }),
      )
      .subscribe((peer) => {
        kept.push(peer);
        open++;
      });
  }
} else {
  const url = `ws://127.0.0.1:${port}`;
  const one = () =>
    new Promise((resolve, reject) => {
      if (impl === 'ws') {
        const ws = new WsWebSocket(url, { perMessageDeflate: false });
        ws.on('open', () => resolve(ws));
        ws.on('error', reject);
      } else if (impl === 'ours') {
        const subscription = connect(url).subscribe({ next: (peer) => resolve({ peer, subscription }), error: reject });
      } else if (impl === 'rxjs') {
        const subject = webSocket({
          url,
          WebSocketCtor: WsWebSocket,
          binaryType: 'arraybuffer',
          serializer: (v) => v,
          deserializer: (e) => e.data,
          openObserver: { next: () => resolve({ subject, subscription }) },
        });
        const subscription = subject.subscribe({ error: (e) => reject(e?.error ?? new Error('webSocket error')) });
      } else reject(new Error(`unknown impl ${impl}`));
    });
  for (let i = 0; i < count; i += batch) {
    const opened = await Promise.all(Array.from({ length: Math.min(batch, count - i) }, one));
    kept.push(...opened);
    open += opened.length;
  }
  void tell({ type: 'opened', open });
}

process.on('message', async (message) => {
  if (message.type === 'measure') {
    const after = await settle();
    await tell({
      type: 'result',
      open,
      beforeKiB: before.rssKiB,
      afterKiB: after.rssKiB,
      heapBefore: before.heap,
      heapAfter: after.heap,
      externalBefore: before.external,
      externalAfter: after.external,
    });
  } else if (message.type === 'exit') process.exit(0);
});
process.on('disconnect', () => process.exit(0));
