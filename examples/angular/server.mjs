// The example's server: the built app over HTTP and a chat room over WebSocket (/chat) on one port.
// The chat is the room 'chat' of an in-memory room engine (memoryRooms()), served with
// serveRooms(): every client that joins gets each message once, in order, and resumes where it
// was after a reconnect. Ctrl-C (SIGINT) or SIGTERM stops it gracefully: every message that
// reached it is stored first. In a terminal, Enter drops every client's connection, to watch the
// clients reconnect and resume.
//   npm start            builds the app, then serves it on http://127.0.0.1:4300
//   node server.mjs 8080 serves on another port (the chat alone, for `ng serve`, if there is no build)
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { listen, memoryRooms, ROOMS_PROTOCOL, serveRooms } from 'rx-websocket-peer';
import { ReplaySubject, switchMap, tap } from 'rxjs';

const here = fileURLToPath(new URL('.', import.meta.url));
/** Where `ng build` puts the app (angular.json's outputPath, then `browser/`). */
export const APP_ROOT = join(here, 'dist', 'chat', 'browser');
/** The room the app's chat is. */
export const CHAT_ROOM_NAME = 'chat';

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
 * @typedef {object} ChatServer
 * @property {string} url The app's URL (http:); the chat is on `/chat` there, over ws:.
 * @property {number} port
 * @property {import('rx-websocket-peer').RoomEngine} engine The rooms: server code may publish
 *   (`engine.publish(CHAT_ROOM_NAME, text)`) and read (`engine.room$(CHAT_ROOM_NAME)`) through it.
 * @property {import('rxjs').Observable<string>} received$ Every message stored in the chat room
 *   since the start, replayed (bytes as `[N bytes]`); completes once stopped.
 * @property {() => number} dropConnections Cuts the TCP connection of every client now, without
 *   a closing handshake, as a network failure would (they see 1006), and returns how many it cut.
 *   The server goes on: the clients reconnect and resume.
 * @property {() => Promise<void>} stop Graceful: refuses new connections, closes every peer with
 *   1001 (going away), stores every message that arrived before a peer's closing handshake ended,
 *   then closes the HTTP server. Calling it again returns the same promise.
 */

/**
 * Serves the app in `root` and the chat room on `/chat` until `stop()`.
 * @param {{ port?: number, host?: string, root?: string }} [options]
 *   port 4300 (0: the OS picks), host 127.0.0.1, root the built app.
 * @returns {Promise<ChatServer>}
 */
export async function startChatServer({ port = 4300, host = '127.0.0.1', root = APP_ROOT } = {}) {
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
  // Every TCP connection, the upgraded ones too: dropConnections() cuts them.
  /** @type {Set<import('node:net').Socket>} */
  const sockets = new Set();
  http.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise((done, fail) => http.once('error', fail).listen(port, host, () => done(undefined)));
  const address = /** @type {import('node:net').AddressInfo} */ (http.address());

  const engine = memoryRooms();
  /** @type {ReplaySubject<string>} */
  const received$ = new ReplaySubject();
  // A reader of the room from the start (it also keeps the room, and its epoch, alive while idle).
  const log = engine
    .room$(CHAT_ROOM_NAME)
    .subscribe((message) =>
      received$.next(typeof message.data === 'string' ? message.data : `[${message.data.byteLength} bytes]`),
    );

  /** @type {(server: import('rx-websocket-peer').PeerServer) => void} */
  let opened = () => {};
  /** @type {Promise<import('rx-websocket-peer').PeerServer>} */
  const listening = new Promise((done) => (opened = done));
  // Settles when listen() has completed: after stop(), once every peer's packets$ has ended (and
  // serveRooms() has stored what they published).
  const ended = new Promise((done, fail) => {
    listen({ server: http, path: '/chat', protocols: [ROOMS_PROTOCOL], requireProtocol: true })
      .pipe(
        tap((server) => opened(server)),
        switchMap((server) => server.peers$),
        // Join, leave and publish for each peer; a peer's end (a close, a cut) ends only its rooms.
        serveRooms(engine),
      )
      .subscribe({ complete: () => done(undefined), error: fail });
  });
  // listen() emits its PeerServer once listening (at once here: `http` listens already).
  const peerServer = await Promise.race([
    listening,
    ended.then(() => Promise.reject(new Error('listen() completed before it was listening'))),
  ]);

  const dropConnections = () => {
    const cut = sockets.size;
    for (const socket of sockets) socket.destroy();
    return cut;
  };

  const stop = async () => {
    peerServer.stop();
    await ended;
    log.unsubscribe();
    received$.complete();
    http.closeAllConnections();
    await new Promise((done) => http.close(() => done(undefined)));
  };
  /** @type {Promise<void> | undefined} */
  let stopping;

  return {
    url: `http://${host}:${address.port}/`,
    port: address.port,
    engine,
    received$: received$.asObservable(),
    dropConnections,
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
  // Enter, in a terminal: cut every connection, as a network failure would.
  const terminal = process.stdin.isTTY ? createInterface({ input: process.stdin }) : undefined;
  if (terminal) console.log('Enter drops every connection (the clients reconnect and resume).');
  terminal?.on('line', () => console.log(`dropped ${server.dropConnections()} connection(s)`));
  const stop = (/** @type {NodeJS.Signals} */ signal) => {
    terminal?.close();
    console.log(`${signal}: stopping (peers closed with 1001, their last messages stored first)`);
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
