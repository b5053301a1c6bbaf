import { execFileSync } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { expect } from 'chai';
import { firstValueFrom, type Observable, type Subscription, take, toArray } from 'rxjs';
import { connect, type ConnectOptions } from '../src/observables/connect.js';
import { listen, type ListenOptions } from '../src/observables/listen.js';
import type { PeerServer } from '../src/observables/PeerServer.js';
import type { WebSocketPeer } from '../src/peer/WebSocketPeer.js';
import { checkTool } from '../scripts/testTools.mjs';

/** A `listen()` server on 127.0.0.1 and an ephemeral port, and a way to stop it. */
export interface TestServer {
  server: PeerServer;
  url: string;
  subscription: Subscription;
  /** The next peer that opens (peers wait for a subscriber, so none is missed). */
  nextPeer(): Promise<WebSocketPeer>;
  stop(): void;
}

const running = new Set<Subscription>();

/** Stops whatever a test left running; call from `afterEach`. */
export function stopAll(): void {
  for (const subscription of running) subscription.unsubscribe();
  running.clear();
}

function track(subscription: Subscription): Subscription {
  running.add(subscription);
  subscription.add(() => running.delete(subscription));
  return subscription;
}

export function startServer(options: ListenOptions = {}): Promise<TestServer> {
  return new Promise((resolve, reject) => {
    const subscription = track(
      listen({ host: '127.0.0.1', port: 0, ...options }).subscribe({
        next: (server) =>
          resolve({
            server,
            url: `ws://127.0.0.1:${server.port}`,
            subscription,
            nextPeer: () => firstValueFrom(server.peers$),
            stop: () => subscription.unsubscribe(),
          }),
        error: reject,
      }),
    );
  });
}

/** A client from `connect()`, kept subscribed, with how its observable ended. */
export interface TestClient {
  peer: WebSocketPeer;
  subscription: Subscription;
  /** Resolves with `'complete'` or the error `connect()` ended with. */
  ended: Promise<'complete' | unknown>;
}

export function openClient(url: string, options: ConnectOptions = {}): Promise<TestClient> {
  return new Promise((resolve, reject) => {
    let settle: (how: unknown) => void = () => {};
    const ended = new Promise<unknown>((r) => (settle = r));
    let opened = false;
    const subscription = track(
      connect(url, options).subscribe({
        next: (peer) => {
          opened = true;
          resolve({ peer, subscription, ended });
        },
        error: (error: unknown) => (opened ? settle(error) : reject(error)),
        complete: () => settle('complete'),
      }),
    );
  });
}

/** A connected pair: a client peer and the server peer it reached. */
export async function openPair(
  listenOptions: ListenOptions = {},
  connectOptions: ConnectOptions = {},
): Promise<{ server: TestServer; client: TestClient; remote: WebSocketPeer }> {
  const server = await startServer(listenOptions);
  const remoteOpened = server.nextPeer();
  const client = await openClient(server.url, connectOptions);
  return { server, client, remote: await remoteOpened };
}

/** The first `count` values of `source`, as an array. */
export function takeValues<T>(source: Observable<T>, count: number): Promise<T[]> {
  return firstValueFrom(source.pipe(take(count), toArray()));
}

/** Every value of `source` until it ends, and how it ended. */
export function collect<T>(source: Observable<T>): { values: T[]; done: Promise<{ error?: unknown }> } {
  const values: T[] = [];
  const done = new Promise<{ error?: unknown }>((resolve) => {
    source.subscribe({
      next: (v) => values.push(v),
      error: (error: unknown) => resolve({ error }),
      complete: () => resolve({}),
    });
  });
  return { values, done };
}

/**
 * Asserts that `fn` throws, synchronously, a `TypeError` with code `ERR_INVALID_OPTION` and
 * exactly `message` (the message is what names the unknown key and the guess, or its absence).
 */
export function expectInvalidOption(fn: () => unknown, message: string): void {
  let error: unknown;
  try {
    fn();
  } catch (caught) {
    error = caught;
  }
  expect(error, 'what it threw').to.be.instanceOf(TypeError);
  expect(error).to.have.property('code', 'ERR_INVALID_OPTION');
  expect(error).to.have.property('message', message);
}

export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A small seeded PRNG (mulberry32), so the random cases are the same on every run. */
export { seededRandom as prng } from '../demo/cuttingProxy.mjs';

/** Runs `fn`, which must throw synchronously, and returns what it threw. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a synchronous throw, got none');
}

/** Waits until `check()` holds, polling every 5 ms; throws after `ms`. */
export async function until(check: () => boolean, ms = 4000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error('timed out waiting');
    await delay(5);
  }
}

/** The internals a few tests must see: the `ws` socket and TCP socket under a peer. */
export function internalsOf(peer: WebSocketPeer): {
  ws: EventEmitter & { isPaused: boolean; handler: unknown };
  socket: Socket;
} {
  return (
    peer as unknown as { transport: { ws: EventEmitter & { isPaused: boolean; handler: unknown }; socket: Socket } }
  ).transport;
}

/**
 * Reads TCP_NODELAY off a socket of this process, from the kernel: Debian's python3 takes a
 * duplicate of the descriptor with pidfd_getfd(2) and asks getsockopt(2).
 */
export function readNoDelay(socket: Socket): number {
  const fd = (socket as unknown as { _handle: { fd: number } })._handle.fd;
  const script = [
    'import ctypes, os, socket, sys',
    'libc = ctypes.CDLL(None, use_errno=True)',
    'pidfd = os.pidfd_open(int(sys.argv[1]))',
    'fd = libc.syscall(438, pidfd, int(sys.argv[2]), 0)',
    'if fd < 0: raise OSError(ctypes.get_errno(), "pidfd_getfd")',
    's = socket.socket(fileno=fd)',
    'print(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))',
  ].join('\n');
  return Number(
    execFileSync('/usr/bin/python3', ['-c', script, String(process.pid), String(fd)])
      .toString()
      .trim(),
  );
}

/** The listeners on a peer's inbound queue (consumers that pull, like `consumePackets()`). */
export function inboxWatcherCount(peer: WebSocketPeer): number {
  return (peer as unknown as { inbox: { watchers: readonly (() => void)[] } }).inbox.watchers.length;
}

/**
 * For a spec that runs a Debian package (scripts/testTools.mjs): fails with an error naming the
 * package when it is missing. Never a skip.
 */
export function needsTool(name: string): void {
  checkTool(name);
}

/** What `socket.write()` is given on `peer`'s TCP socket, from now on. */
export function spyWrites(peer: WebSocketPeer): unknown[] {
  const socket = internalsOf(peer).socket as unknown as { write: (...args: unknown[]) => boolean };
  const original = socket.write;
  const chunks: unknown[] = [];
  socket.write = function (this: unknown, ...args: unknown[]) {
    chunks.push(args[0]);
    return original.apply(this, args);
  };
  return chunks;
}
