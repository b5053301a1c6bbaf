import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { Transport } from '../../peer/Transport.js';
import { NodeTransport } from './NodeTransport.js';
import { PeerSocket } from './PeerSocket.js';

/** @internal How an `UpgradeServer` completes handshakes: `listen()`'s options, checked. */
export interface UpgradeServerOptions {
  /** The subprotocols it speaks, in its order of preference; without them it selects none. */
  readonly protocols?: readonly string[] | undefined;
  /** Extra headers of every 101 response, beside those of the handshake. */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /** The largest inbound message, in bytes; a larger one closes its connection with 1009. */
  readonly maxPayload: number;
  /** The most frames one inbound message may come in; more close its connection with 1008. */
  readonly maxFragments: number;
}

/**
 * @internal The accepting side of the transport seam, in Node (a browser cannot listen): the
 * server's half of the opening handshake, over `ws`, for upgrade requests that `listen()` has
 * already judged. Whoever owns the HTTP server hands each request over, with its socket and
 * head, to `upgrade()`, which writes the 101 response and calls `accepted(transport, socket)`
 * once with an open transport that is not yet bound, synchronously; or, for a request that is
 * no valid WebSocket handshake (RFC 6455 §4.2.1), answers it with an HTTP error itself, destroys
 * the socket and calls nothing. After `close()`, `upgrade()` is not to be called again.
 */
export class UpgradeServer {
  private readonly wss: WebSocketServer;
  private readonly onHeaders: ((responseHeaders: string[]) => void) | undefined;

  constructor(options: UpgradeServerOptions) {
    const { protocols, headers } = options;
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: options.maxPayload,
      maxFragments: options.maxFragments,
      perMessageDeflate: false,
      WebSocket: PeerSocket,
      ...(protocols && {
        handleProtocols: (offered: Set<string>) => protocols.find((p) => offered.has(p)) ?? false,
      }),
    });
    const extraHeaders = Object.entries(headers ?? {}).map(([name, value]) => `${name}: ${value}`);
    if (extraHeaders.length > 0) {
      this.onHeaders = (responseHeaders) => {
        responseHeaders.push(...extraHeaders);
      };
      this.wss.on('headers', this.onHeaders);
    }
  }

  /**
   * Completes the opening handshake of `request`, which arrived on `socket` (the TLS socket over
   * TLS) with `head`, the first bytes after its headers.
   */
  upgrade(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    accepted: (transport: Transport, socket: Socket) => void,
  ): void {
    // Apart from the request: what a peer keeps alive must not include it.
    const handshake = { url: request.url ?? '/', headers: request.headers };
    this.wss.handleUpgrade(request, socket, head, (ws) =>
      accepted(new NodeTransport(ws as PeerSocket, socket as Socket, handshake, false), socket as Socket),
    );
  }

  close(): void {
    if (this.onHeaders) this.wss.off('headers', this.onHeaders);
    this.wss.close();
  }
}

/** @internal Refuses an upgrade request with an HTTP `status`, before any WebSocket handshake. */
export function refuseUpgrade(socket: Duplex, status: number): void {
  // Node removes its own 'error' listener from a socket it hands to 'upgrade': without one, a
  // client that resets before this answer is written would crash the process (ECONNRESET).
  socket.on('error', () => {});
  // Once the answer is out the socket goes: a client that never closes its side must not keep
  // it (and the process) alive.
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
