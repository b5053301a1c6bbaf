// The demo: a server and a client in one process, talking over 127.0.0.1, printing each stream
// as it emits. Run it with `npm run demo`.
import { connect, listen, WriteMode } from 'rx-websocket-peer';
import { filter, firstValueFrom, mergeMap, take, tap, toArray } from 'rxjs';

const started = Date.now();
const log = (side, text) => console.log(`${String(Date.now() - started).padStart(5)} ms  ${side.padEnd(6)}  ${text}`);
const show = (packet) =>
  packet.isString
    ? `text   ${JSON.stringify(packet.data)}`
    : `binary [${packet.data.length} bytes] ${[...packet.data.slice(0, 8)].join(' ')}${packet.data.length > 8 ? ' ...' : ''}`;

// The server: prints every stream of every peer, and echoes each packet as it came.
let serverStopped;
const stopped = new Promise((resolve) => (serverStopped = resolve));
const server = await new Promise((resolve, reject) => {
  listen({ host: '127.0.0.1', port: 0, protocols: ['demo.v1'] }).subscribe({
    next: resolve,
    error: reject,
    complete: () => serverStopped(),
  });
});
log('server', `listening on ws://127.0.0.1:${server.port}`);
server.peers$
  .pipe(
    tap((peer) => {
      log(
        'server',
        `peer from ${peer.getConnectedHost()}:${peer.getConnectedPort()}, subprotocol '${peer.getSelectedProtocol()}'`,
      );
      peer.state$.subscribe((state) => log('server', `state$        ${state}`));
      peer.closed$.subscribe((info) =>
        log('server', `closed$       code ${info.code}, reason '${info.reason}', wasClean ${info.wasClean}`),
      );
    }),
    mergeMap((peer) =>
      peer.packets$.pipe(
        tap((packet) => {
          if (packet.isString || packet.data.length <= 64)
            log('server', `packets$      ${show(packet)} (wasStringPacket ${peer.wasStringPacket()})`);
        }),
        tap(peer.sink),
      ),
    ),
  )
  .subscribe({ error: (e) => log('server', `error ${e.message}`) });

// The client.
// Not firstValueFrom(connect(...)): that unsubscribes after the first value, which closes the connection.
const peer = await new Promise((resolve, reject) => {
  connect(`ws://127.0.0.1:${server.port}`, { protocols: ['demo.v1'] }).subscribe({
    next: resolve,
    error: reject,
    complete: () => log('client', 'connect() completed: the connection closed cleanly with 1000'),
  });
});
log('client', `connected, subprotocol '${peer.getSelectedProtocol()}', write mode ${WriteMode[peer.getWriteMode()]}`);
peer.state$.subscribe((state) => log('client', `state$        ${state}`));
peer.closed$.subscribe((info) =>
  log('client', `closed$       code ${info.code}, reason '${info.reason}', wasClean ${info.wasClean}`),
);
const echoes = peer.packets$.pipe(
  tap((packet) => {
    if (packet.isString || packet.data.length <= 64)
      log('client', `packets$      ${show(packet)} (wasStringPacket ${peer.wasStringPacket()})`);
  }),
);

// Text mode: strings go as text frames, and so do bytes that are valid UTF-8.
let replies = firstValueFrom(echoes.pipe(take(2), toArray()));
peer.sink.next('hello from the client');
peer.sink.next(new TextEncoder().encode('bytes, sent as text'));
await replies;
try {
  peer.sink.next(new Uint8Array([0xff, 0xfe]));
} catch (error) {
  log('client', `refused: ${error.code} (nothing was sent)`);
}

// Binary mode: strings go as their UTF-8 bytes.
peer.setWriteMode(WriteMode.Binary);
log('client', `write mode ${WriteMode[peer.getWriteMode()]}`);
replies = firstValueFrom(echoes.pipe(take(2), toArray()));
peer.sink.next('a string, sent as binary');
peer.sink.next(new Uint8Array([0, 1, 2, 3, 255]));
await replies;

// A burst: 64 packets of 256 KiB. bufferedAmount$ rises as they are queued and falls as the OS takes them.
const burst = 64;
const chunk = new Uint8Array(256 * 1024).fill(7);
let peak = 0;
let lastShown = -1;
const watch = peer.bufferedAmount$.subscribe((amount) => {
  peak = Math.max(peak, amount);
  const step = Math.floor(amount / (4 * 1024 * 1024));
  if (step !== lastShown) {
    lastShown = step;
    log('client', `bufferedAmount$ ${(amount / 1024 / 1024).toFixed(2)} MiB`);
  }
});
replies = firstValueFrom(echoes.pipe(take(burst), toArray()));
for (let i = 0; i < burst; i++) peer.sink.next(chunk);
log(
  'client',
  `sent ${burst} x 256 KiB; getCurrentOutboundBufferedAmount() = ${peer.getCurrentOutboundBufferedAmount()}`,
);
const back = await replies;
await firstValueFrom(peer.bufferedAmount$.pipe(filter((amount) => amount === 0)));
watch.unsubscribe();
log(
  'client',
  `all ${back.length} echoed back, ${(back.reduce((n, p) => n + p.data.length, 0) / 1024 / 1024).toFixed(0)} MiB; peak bufferedAmount ${(peak / 1024 / 1024).toFixed(2)} MiB`,
);

// A clean close: both sides see the code and reason, and pass through 'closing'.
peer.close(1000, 'demo finished');
await firstValueFrom(peer.closed$);
try {
  peer.sink.next('too late');
} catch (error) {
  log('client', `write after close refused: ${error.code}`);
}
// The graceful stop: no new connections, every peer closed with 1001 after what it sent was
// handled; listen() completes then. (Unsubscribing would be the abort.)
server.stop();
await stopped;
log('server', 'stopped: listen() completed');
