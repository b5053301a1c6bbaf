// What a server loses when it stops, the two ways: unsubscribing from listen() (the abort) and
// PeerServer.stop() (the graceful stop). The server is the README's one pipeline (switchMap to
// peers$, mergeMap to each peer's packets$); clients in another process write numbered messages
// as fast as they can while their peer is open, and report how many they wrote. A message written
// while open and never handed to the server's handler is lost.
//   npm run bench:stop                      12 runs of each, 8 clients
//   STOP_RUNS=3 STOP_CLIENTS=4 npm run bench:stop
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { catchError, EMPTY, mergeMap, switchMap, tap } from 'rxjs';
import { connect, listen } from '../dist/esm/index.js';

const CLIENT_MS = 300;

if (process.argv[2] === 'clients') {
  // The client process: open the clients, write until each one's peer leaves 'open', report.
  const [url, count] = [process.argv[3], Number(process.argv[4])];
  const results = [];
  await Promise.all(
    Array.from({ length: count }, async () => {
      const result = { port: 0, written: 0 };
      results.push(result);
      await new Promise((resolve) => {
        connect(url).subscribe({
          next: (peer) => {
            // The local port, by which the server tells its peers apart (an internal field: a benchmark may peek).
            result.port = peer.transport?.socket?.localPort ?? 0;
            const burst = () => {
              if (!peer.isConnectedToHost()) return;
              if (peer.getCurrentOutboundBufferedAmount() < 1 << 20) {
                for (let i = 0; i < 200 && peer.isConnectedToHost(); i++) peer.sink.next(String(result.written++));
              }
              setImmediate(burst);
            };
            process.send?.({ open: true });
            burst();
          },
          error: resolve,
          complete: resolve,
        });
      });
    }),
  );
  process.send?.({ results });
  process.exit(0);
}

async function run(how, clients) {
  const received = new Map();
  let server;
  let ended;
  const done = new Promise((resolve) => (ended = resolve));
  const subscription = listen({ host: '127.0.0.1', port: 0 })
    .pipe(
      tap((s) => (server = s)),
      switchMap((s) => s.peers$),
      mergeMap((peer) => {
        let got = 0;
        let inOrder = true;
        received.set(peer.getConnectedPort(), () => ({ got, inOrder }));
        return peer.packets$.pipe(
          tap((packet) => {
            if (packet.data !== String(got)) inOrder = false;
            got++;
          }),
          catchError(() => EMPTY),
        );
      }),
    )
    .subscribe({ complete: () => ended(), error: () => ended() });
  while (!server) await new Promise((r) => setTimeout(r, 1));
  const child = spawn(process.execPath, [import.meta.filename, 'clients', `ws://127.0.0.1:${server.port}`, clients], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let opened = 0;
  let results;
  child.on('message', (m) => {
    if (m.open) opened++;
    if (m.results) results = m.results;
  });
  while (opened < clients) await new Promise((r) => setTimeout(r, 1));
  await new Promise((r) => setTimeout(r, CLIENT_MS));
  if (how === 'stop') server.stop();
  else subscription.unsubscribe();
  await once(child, 'exit');
  if (how === 'stop') await done;
  let written = 0;
  let lost = 0;
  let disordered = 0;
  for (const { port, written: w } of results) {
    const { got, inOrder } = received.get(port)?.() ?? { got: 0, inOrder: true };
    written += w;
    lost += Math.max(0, w - got);
    if (!inOrder || got > w) disordered++;
  }
  return { written, lost, disordered };
}

const runs = Number(process.env.STOP_RUNS ?? 12);
const clients = Number(process.env.STOP_CLIENTS ?? 8);
console.log(`${runs} runs of each, ${clients} clients writing for ${CLIENT_MS} ms, then the server stops:`);
for (const how of ['unsubscribe', 'stop']) {
  let written = 0;
  let lost = 0;
  let lossyRuns = 0;
  let disordered = 0;
  for (let i = 0; i < runs; i++) {
    const r = await run(how, clients);
    written += r.written;
    lost += r.lost;
    disordered += r.disordered;
    if (r.lost > 0) lossyRuns++;
  }
  const name = how === 'stop' ? 'server.stop()     ' : 'unsubscribe (abort)';
  console.log(
    `  ${name}  lost ${lost.toLocaleString('en-US')} of ${written.toLocaleString('en-US')} written while open, ` +
      `in ${lossyRuns} of ${runs} runs; out of order: ${disordered} connections`,
  );
}
