// The example's server: the built app over HTTP and a chat over WebSocket (/chat) on one port.
// Every peer gets a tick each `tickInterval` ms, and each text a peer sends goes to every peer.
// Ctrl-C (SIGINT) or SIGTERM stops it gracefully: every text that reached it is handled first.
//   npm start            builds the app, then serves it on http://127.0.0.1:4300
//   node server.mjs 8080 serves on another port (the chat alone, for `ng serve`, if there is no build)
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { listen } from 'rx-websocket-peer';
import { catchError, EMPTY, finalize, interval, mergeMap, ReplaySubject, switchMap, tap } from 'rxjs';

const here = fileURLToPath(new URL('.', import.meta.url));
/** Where `ng build` puts the app (angular.json's outputPath, then `browser/`). */
export const APP_ROOT = join(here, 'dist', 'chat', 'browser');

/** @type {Record<string, string>} */
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Serves the app in `root` and a chat on `/chat` until `stop()`.
 * @param {{ port?: number, host?: string, root?: string, tickInterval?: number }} [options]
 *   port 4300 (0: the OS picks), host 127.0.0.1, root the built app, ticks every 1,000 ms.
 * @returns {Promise<{ url: string, port: number, received$: import('rxjs').Observable<string>, stop: () => Promise<void> }>}
 *   `received$` replays every text the server received, and completes once stopped. `stop()` is
 *   graceful: it refuses new connections, closes every peer with 1001 (going away), hands every
 *   text that arrived before a peer's closing handshake ended to `received$`, then closes the
 *   HTTP server; calling it again returns the same promise.
 */
export async function startChatServer({ port = 4300, host = '127.0.0.1', root = APP_ROOT, tickInterval = 1000 } = {}) {
  const base = resolve(root);
  const http = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname);
    let file = resolve(base, `.${path}`);
    // Anything that is not a file of the app (a deep link, say) gets index.html; nothing outside `root`.
    if (!(file === base || file.startsWith(base + sep)) || !existsSync(file) || !statSync(file).isFile()) {
      file = join(base, 'index.html');
    }
    if (!existsSync(file)) {
      response
        .writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
        .end(`No app in ${base}: npm run build\n`);
      return;
    }
    response.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(response);
  });
  await new Promise((done, fail) => http.once('error', fail).listen(port, host, () => done(undefined)));
  const address = /** @type {import('node:net').AddressInfo} */ (http.address());

  /** @type {Set<import('rx-websocket-peer').WebSocketPeer>} */
  const peers = new Set();
  const broadcast = (/** @type {string} */ text) => {
    for (const peer of peers) if (peer.isConnectedToHost()) peer.putPacket(text);
  };
  /** @type {ReplaySubject<string>} */
  const received$ = new ReplaySubject();
  /** @type {(server: import('rx-websocket-peer').PeerServer) => void} */
  let opened = () => {};
  /** @type {Promise<import('rx-websocket-peer').PeerServer>} */
  const listening = new Promise((done) => (opened = done));
  // Settles when listen() has completed: after stop(), once every peer's packets$ has ended.
  const ended = new Promise((done, fail) => {
    listen({ server: http, path: '/chat' })
      .pipe(
        tap((server) => opened(server)),
        switchMap((server) => server.peers$),
        mergeMap((peer) => {
          peers.add(peer);
          peer.putPacket(`welcome, ${peer.getConnectedHost()}:${peer.getConnectedPort()}`);
          return peer.packets$.pipe(
            tap((packet) => {
              const text = packet.isString ? packet.data : `[${packet.data.byteLength} bytes]`;
              received$.next(text);
              broadcast(`${peer.getConnectedPort()} says: ${text}`);
            }),
            // packets$ of a peer closed with anything but 1000 errors (WebSocketCloseError): the
            // end of one peer, not of the chat.
            catchError(() => EMPTY),
            finalize(() => peers.delete(peer)),
          );
        }),
      )
      .subscribe({ complete: () => done(undefined), error: fail });
  });
  // listen() emits its PeerServer once listening (at once here: `http` listens already).
  const peerServer = await Promise.race([
    listening,
    ended.then(() => Promise.reject(new Error('listen() completed before it was listening'))),
  ]);
  const ticks = interval(tickInterval).subscribe((n) => broadcast(`tick ${n + 1}`));

  /** @type {Promise<void> | undefined} */
  let stopping;
  const stop = async () => {
    ticks.unsubscribe();
    peerServer.stop();
    await ended;
    received$.complete();
    http.closeAllConnections();
    await new Promise((done) => http.close(() => done(undefined)));
  };

  return {
    url: `http://${host}:${address.port}/`,
    port: address.port,
    received$: received$.asObservable(),
    stop: () => (stopping ??= stop()),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  if (!existsSync(join(APP_ROOT, 'index.html'))) {
    console.warn(`No app in ${APP_ROOT} (\`npm run build\` makes it): serving the chat only.`);
  }
  const server = await startChatServer({ port: Number(process.argv[2] ?? 4300) });
  console.log(`The chat is on ${server.url} (WebSocket on /chat). Ctrl-C stops it.`);
  server.received$.subscribe((text) => console.log(`received: ${text}`));
  const stop = (/** @type {NodeJS.Signals} */ signal) => {
    console.log(`${signal}: stopping (peers closed with 1001, their last messages handled first)`);
    server.stop().then(
      () => console.log('Stopped.'),
      (/** @type {unknown} */ error) => {
        console.error(error);
        process.exitCode = 1;
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
