import type { Socket } from 'node:net';

/** The TCP connection under a socket, by its addresses: the same for a TLS socket and the one it wraps. */
const connectionKey = (socket: Socket): string =>
  `${socket.remoteAddress}|${socket.remotePort}|${socket.localAddress}|${socket.localPort}`;

/**
 * @internal The deadline of every connection of `listen()`'s own server that has not upgraded
 * yet: from its TCP accept, it has `timeout` ms to finish its TLS handshake and send its upgrade
 * request, or its socket is destroyed.
 *
 * Each connection is kept with the time it must have upgraded by. One timer serves them all:
 * with one timeout for all, they fall due in the order they came, which is the Map's order. (A
 * timer and a closure per connection, alive for the whole handshake, cost a busy server about a
 * kilobyte per connection in garbage that outlived the young generation.) Over TLS, 'upgrade'
 * hands over the TLS socket that wraps the TCP socket of 'connection': `byAddress` finds the one
 * from the other by their TCP addresses, which both tell.
 *
 * Call order: `start()` on each accepted connection (the server's 'connection'), `done()` once
 * its upgrade request is taken; a connection that closes first is forgotten by itself.
 * `dropAll()` at the end. No timer is left once no handshake is under way.
 */
export class HandshakeDeadlines {
  private readonly handshaking = new Map<Socket, { due: number; key: string | undefined }>();
  private readonly byAddress: Map<string, Socket> | undefined;
  private sweeper: ReturnType<typeof setTimeout> | undefined;
  /** One listener for the 'close' of every socket under way, not one per socket. */
  private readonly onHandshakeClose: (this: Socket) => void;

  /**
   * @param timeout ms from the TCP accept to the upgrade request.
   * @param tls whether the server's sockets are TLS sockets over the TCP sockets it accepts.
   */
  constructor(
    private readonly timeout: number,
    tls: boolean,
  ) {
    this.byAddress = tls ? new Map() : undefined;
    const forget = (socket: Socket): void => this.forget(socket);
    this.onHandshakeClose = function (this: Socket): void {
      forget(this);
    };
  }

  /** A connection was accepted: `socket` is the TCP socket. */
  start(socket: Socket): void {
    let key: string | undefined;
    if (this.byAddress !== undefined) {
      key = connectionKey(socket);
      this.forget(this.byAddress.get(key));
      this.byAddress.set(key, socket);
    }
    this.handshaking.set(socket, { due: performance.now() + this.timeout, key });
    socket.on('close', this.onHandshakeClose);
    this.sweeper ??= setTimeout(this.sweep, this.timeout);
  }

  /** Its upgrade request was taken: `socket` is the one 'upgrade' handed over (a TLS socket over TLS). */
  done(socket: Socket): void {
    this.forget(this.handshaking.has(socket) ? socket : this.byAddress?.get(connectionKey(socket)));
  }

  /** Drops every connection still under way, and the timer with them. */
  dropAll(): void {
    for (const socket of this.handshaking.keys()) {
      this.forget(socket);
      socket.destroy();
    }
  }

  /** How many connections are under way. */
  get size(): number {
    return this.handshaking.size;
  }

  private forget(socket: Socket | undefined): void {
    const pending = socket && this.handshaking.get(socket);
    if (socket === undefined || pending === undefined) return;
    socket.off('close', this.onHandshakeClose);
    this.handshaking.delete(socket);
    if (pending.key !== undefined) this.byAddress?.delete(pending.key);
    // No timer is left behind once no handshake is under way.
    if (this.handshaking.size === 0 && this.sweeper !== undefined) {
      clearTimeout(this.sweeper);
      this.sweeper = undefined;
    }
  }

  private readonly sweep = (): void => {
    this.sweeper = undefined;
    const now = performance.now();
    for (const [socket, { due }] of this.handshaking) {
      if (due > now) {
        this.sweeper = setTimeout(this.sweep, Math.ceil(due - now));
        return;
      }
      this.forget(socket);
      // Destroying the TCP socket ends a TLS socket over it too.
      socket.destroy();
    }
  };
}
