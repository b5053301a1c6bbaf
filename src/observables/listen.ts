import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Observable } from 'rxjs';
import { WebSocketServer } from 'ws';
import { CloseCode, DEFAULT_MAX_PAYLOAD } from '../peer/constants.js';
import { Inbox } from '../peer/Inbox.js';
import { NodeTransport, PeerSocket } from '../peer/NodeTransport.js';
import { type PeerOptions, WebSocketPeer } from '../peer/WebSocketPeer.js';
import { argumentError, WebSocketPeerError } from '../peer/WebSocketPeerError.js';
import { checkOption, isHeaderRecord, isPositiveInteger, isProtocolList, isString, resolvePeerOptions } from './options.js';
import { PeerServer } from './PeerServer.js';

/** Options of `listen()`. */
export interface ListenOptions extends PeerOptions {
  /** The port to listen on; 0 (the default) lets the OS choose, and `PeerServer.port` tells. */
  port?: number;
  /** The address to bind; by default all interfaces, as Node's `http` server does. */
  host?: string;
  /** Accept upgrades only on this path (query ignored); others are answered 404. Default: any path. */
  path?: string;
  /**
   * An existing `http`/`https` server to attach to instead of listening ourselves (then `port` and
   * `host` are not allowed). Stopping leaves that server running.
   */
  server?: Server | HttpsServer;
  /**
   * Subprotocols we speak, in our order of preference: the first of them a client offers is
   * selected. Default: the first one the client offers.
   */
  protocols?: string[];
  /** Extra HTTP headers for the handshake response. */
  headers?: Record<string, string>;
  /** The largest message accepted, in bytes; a larger one closes the connection with 1009. Default 100 MiB. */
  maxPayload?: number;
}

const isPort = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 65535;
const isPath = (value: unknown): value is string => typeof value === 'string' && value.startsWith('/');
const isServer = (value: unknown): value is Server =>
  typeof value === 'object' && value !== null && typeof (value as Server).listen === 'function' && 'listening' in value;

function pathOf(url: string | undefined): string {
  const path = url ?? '/';
  const query = path.indexOf('?');
  return query === -1 ? path : path.slice(0, query);
}

function reject(socket: Duplex, status: string): void {
  // Node removes its own 'error' listener from a socket it hands to 'upgrade': without one, a
  // client that resets before this answer is written would crash the process (ECONNRESET).
  socket.on('error', () => {});
  // Once the answer is out the socket goes: a client that never closes its side must not keep
  // it (and the process) alive.
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/**
 * Listens for WebSocket connections. Emits one `PeerServer` once listening; its `peers$` emits
 * each peer as it opens. Unsubscribing stops the server: its peers are closed with 1001 and the
 * port is freed. Errors with `WebSocketPeerError` (`ERR_LISTEN_FAILED`) when it cannot bind, and
 * completes if an attached `server` closes.
 *
 * ```ts
 * import { listen } from 'rx-websocket-peer';
 * import { EMPTY, catchError, mergeMap, switchMap, tap } from 'rxjs';
 * // an echo server
 * listen({ port: 8080 }).pipe(
 *   switchMap((server) => server.peers$),
 *   mergeMap((peer) => peer.packets$.pipe(tap(peer.sink), catchError(() => EMPTY))),
 * ).subscribe();
 * ```
 * @param options see {@link ListenOptions}; all optional.
 * @throws TypeError (`ERR_INVALID_OPTION`) synchronously, for a bad option.
 */
export function listen(options: ListenOptions = {}): Observable<PeerServer> {
  const peerOptions = resolvePeerOptions('listen', options);
  const { port, host, path, server, protocols, headers, maxPayload = DEFAULT_MAX_PAYLOAD } = options;
  checkOption('listen', 'port', port, isPort, 'an integer from 0 to 65535');
  checkOption('listen', 'host', host, isString, 'a string');
  checkOption('listen', 'path', path, isPath, "a string starting with '/'");
  checkOption('listen', 'server', server, isServer, 'an http.Server or https.Server');
  checkOption('listen', 'protocols', protocols, isProtocolList, 'an array of distinct tokens');
  checkOption('listen', 'headers', headers, isHeaderRecord, 'an object of header names to string values');
  checkOption('listen', 'maxPayload', maxPayload, isPositiveInteger, 'a positive integer (bytes)');
  if (server && (port !== undefined || host !== undefined)) {
    throw argumentError(TypeError, 'ERR_INVALID_OPTION', "listen(): give either 'server' or 'port'/'host', not both");
  }
  const extraHeaders = Object.entries(headers ?? {}).map(([name, value]) => `${name}: ${value}`);

  return new Observable<PeerServer>((subscriber) => {
    const httpServer: Server | HttpsServer =
      server ??
      createServer((_request, response) => {
        response.writeHead(426, { Upgrade: 'websocket', 'Content-Type': 'text/plain' });
        response.end('This is a WebSocket endpoint.\n');
      });
    const wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload,
      perMessageDeflate: false,
      WebSocket: PeerSocket,
      ...(protocols && {
        handleProtocols: (offered: Set<string>) => protocols.find((p) => offered.has(p)) ?? false,
      }),
    });
    const inbox = new Inbox<WebSocketPeer>();
    const live = new Set<WebSocketPeer>();
    let stopped = false;

    const onHeaders = (responseHeaders: string[]): void => {
      responseHeaders.push(...extraHeaders);
    };
    const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
      if (path !== undefined && pathOf(request.url) !== path) {
        // Another handler on a shared server may own that path.
        if (httpServer.listenerCount('upgrade') === 1) reject(socket, '404 Not Found');
        return;
      }
      wss.handleUpgrade(request, socket, head, (ws) => {
        const transport = new NodeTransport(ws as PeerSocket, socket as Socket, {
          url: request.url ?? '/',
          headers: request.headers,
        });
        const peer = new WebSocketPeer(transport, peerOptions);
        if (stopped) {
          peer.close(CloseCode.GoingAway);
          return;
        }
        live.add(peer);
        peer.closed$.subscribe(() => live.delete(peer));
        inbox.put(peer, 1);
      });
    };
    const onListening = (): void => {
      httpServer.off('error', onListenError);
      httpServer.on('error', onServerError);
      const address = httpServer.address();
      const where =
        typeof address === 'string' || address === null
          ? { host: address ?? '', port: 0 }
          : { host: address.address, port: address.port };
      subscriber.next(new PeerServer(where.host, where.port, inbox.observable));
    };
    const onListenError = (error: Error): void => {
      subscriber.error(new WebSocketPeerError('ERR_LISTEN_FAILED', `Could not listen: ${error.message}`, { cause: error }));
    };
    const onServerError = (error: Error): void => {
      subscriber.error(new WebSocketPeerError('ERR_LISTEN_FAILED', `The server failed: ${error.message}`, { cause: error }));
    };
    const onServerClose = (): void => {
      subscriber.complete();
    };

    wss.on('headers', onHeaders);
    httpServer.on('upgrade', onUpgrade);
    httpServer.on('close', onServerClose);
    if (server?.listening) {
      onListening();
    } else {
      httpServer.once('listening', onListening);
      httpServer.once('error', onListenError);
      if (!server) httpServer.listen(port ?? 0, host);
    }

    return () => {
      stopped = true;
      wss.off('headers', onHeaders);
      httpServer.off('upgrade', onUpgrade);
      httpServer.off('close', onServerClose);
      httpServer.off('listening', onListening);
      httpServer.off('error', onListenError);
      httpServer.off('error', onServerError);
      for (const peer of live) peer.close(CloseCode.GoingAway);
      inbox.end();
      wss.close();
      if (!server) httpServer.close();
    };
  });
}
