// Load: many concurrent connections, each exchanging many echoed messages with one listen()
// server in this (mocha) process, echoing with the DESIGN.md pipeline. The clients run in a child
// process (spec/load/clients.ts), so what is measured here (RSS, handles, timers, listeners) is the
// server's alone. Each client connection sends all its messages at once (pipelined) and checks the
// echoes: all of them, in order, each of its kind, byte for byte. Then each closes with 1000 and
// the server must be back where it started: every peer closed cleanly and collected, no listener,
// handle or timer left, listen()'s own sets empty, V8 heap back near its start, and RSS back near
// its start once the process has served such a load before (see RSS_NEAR).
//
// Two runs by default: raw ws clients first (an independent client), then the library's own
// (connect(), sendAll(), packets$, from the built package). Each takes 10 to 40 s on 2 cores.
// Sizes: LOAD_CONNECTIONS (1000), LOAD_MESSAGES (1000), LOAD_SIZE (payload bytes, 64) and
// LOAD_CLIENTS (the runs, in order: 'ws' or 'peer', default 'ws,peer') override them, for measuring;
// LOAD_CLIENT_FLAGS passes Node and V8 flags to the client process ('--trace-gc-nvp', say).
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { catchError, EMPTY, mergeMap, type Subscription, switchMap, tap } from 'rxjs';
import { listen } from '../../src/observables/listen.js';
import type { PeerServer } from '../../src/observables/PeerServer.js';
import type { WebSocketPeer } from '../../src/peer/WebSocketPeer.js';
import { internalsOf } from '../helpers.js';
import type { ClientArgs, ClientReport, ClientStats } from './clients.js';
import {
  activeResources,
  collectGarbage,
  EMPTY_PEER_SETS,
  httpServerOn,
  listenerCounts,
  listenInternals,
  mib,
  MiB,
  peakRss,
  peerSets,
  processListenerCounts,
  resetPeakRss,
  resourcesBeyond,
  rss,
  settledResourcesBeyond,
} from './measure.js';

const CONNECTIONS = Number(process.env.LOAD_CONNECTIONS ?? 1000);
const MESSAGES = Number(process.env.LOAD_MESSAGES ?? 1000);
const SIZE = Number(process.env.LOAD_SIZE ?? 64);
const MODES = (process.env.LOAD_CLIENTS ?? 'ws,peer')
  .split(',')
  .map((mode) => mode.trim())
  .filter((mode): mode is 'peer' | 'ws' => mode === 'peer' || mode === 'ws');

/**
 * "RSS back near its start": after all connections closed and a full GC, within this much of the
 * RSS before the server started, from the second run in the process on.
 *
 * The first such load in a process leaves 15 to 50 MiB behind for good, measured: V8 grows its
 * young generation under load (heapTotal +17 MiB) and keeps it, and glibc's malloc keeps the
 * arenas the socket buffers came from (it trims them only at their top). That is paid once: four
 * identical loads in one process ended +40.0, +1.6, +0.6 and +0.2 MiB from their starts, so
 * nothing accumulates, and a leak would. The first run is the warm-up: its figures are printed,
 * and everything else is checked on it, but not its RSS. What is in use in the V8 heap is bounded
 * on every run (HEAP_NEAR), and every peer, ws WebSocket and TCP socket must be collected.
 *
 * 30 MiB: the later runs ended within 2 MiB of their start, while what 1,000 open connections and
 * their traffic cost at the peak is 50 to 150 MiB over it (the peak depends on how far the clients
 * fall behind the echoes); a leak of what the connections held lands far outside it.
 */
const RSS_NEAR = 30 * MiB;
/**
 * The V8 heap in use after a full GC may exceed its start by this much. The first run in a fresh
 * process adds up to 1.5 MiB of its own (bytecode and type feedback of the code paths the load
 * runs for the first time; 0.3 to 0.5 MiB when they ran before). Anything kept per message, even
 * 4 bytes of the 1,000,000, is beyond it; what is kept per connection is caught by the collected
 * peers here and by spec/load/leaks.spec.ts, whose 10,000 cycles make it visible.
 */
const HEAP_NEAR = 4 * MiB;
/** Time limits: the whole exchange, and a child that should have exited by itself. */
const EXCHANGE_LIMIT_MS = 90_000;
const EXIT_LIMIT_MS = 10_000;

const clientScript = fileURLToPath(new URL('./clients.ts', import.meta.url));

function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function until(ms: number, what: string, predicate: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The echo server of DESIGN.md, with counters and weak references to what each peer holds. */
class EchoServer {
  opened = 0;
  closed = 0;
  clean = 0;
  echoed = 0;
  /** Peers checked once closed (listeners, subscribers, socket). */
  checked = 0;
  readonly codes: Record<string, number> = {};
  readonly problems: string[] = [];
  /** Each peer, its ws WebSocket and its TCP socket, weakly: all should be collected at the end. */
  readonly refs: Array<WeakRef<object>> = [];
  server!: PeerServer;
  private subscription: Subscription | undefined;

  start(): Promise<PeerServer> {
    return new Promise((resolve, reject) => {
      this.subscription = listen({ host: '127.0.0.1', port: 0 })
        .pipe(
          tap((server) => resolve((this.server = server))),
          switchMap((server) => server.peers$),
          tap((peer) => this.register(peer)),
          // DESIGN.md's echo server: each packet back as it came; one peer's abnormal end does not stop it.
          mergeMap((peer) =>
            peer.packets$.pipe(
              tap(peer.sink),
              catchError(() => EMPTY),
            ),
          ),
        )
        .subscribe({
          next: () => this.echoed++,
          error: (error: unknown) => {
            this.problem(`the server failed: ${String(error)}`);
            reject(error);
          },
        });
    });
  }

  stop(): void {
    this.subscription?.unsubscribe();
  }

  private problem(text: string): void {
    if (this.problems.length < 10) this.problems.push(text);
  }

  private register(peer: WebSocketPeer): void {
    this.opened++;
    const { ws, socket } = internalsOf(peer);
    this.refs.push(new WeakRef(peer), new WeakRef(ws), new WeakRef(socket));
    peer.closed$.subscribe((info) => {
      this.closed++;
      this.codes[info.code] = (this.codes[info.code] ?? 0) + 1;
      if (info.wasClean) this.clean++;
      // Once the close has run its course: nothing subscribed, listening or queued, socket gone.
      setImmediate(() => {
        const sets = peerSets(peer);
        if (JSON.stringify(sets) !== JSON.stringify(EMPTY_PEER_SETS)) {
          this.problem(`peer ${peer.getConnectedPort()} after close: ${JSON.stringify(sets)}`);
        }
        if (!socket.destroyed) this.problem(`peer ${peer.getConnectedPort()}: socket not destroyed after close`);
        this.checked++;
      });
    });
  }
}

interface Child {
  process: ChildProcess;
  reports: ClientReport[];
  stderr: string;
  next(type: ClientReport['type']): Promise<ClientReport>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startClients(args: ClientArgs): Child {
  const child = fork(clientScript, [JSON.stringify(args)], {
    execArgv: ['--import', 'tsx', ...(process.env.LOAD_CLIENT_FLAGS?.split(' ').filter(Boolean) ?? [])],
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  const state: Child = {
    process: child,
    reports: [],
    stderr: '',
    // 'close': the process has exited and its stdio and IPC channel are closed.
    exited: new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal }))),
    next: (type) =>
      new Promise((resolve, reject) => {
        const found = state.reports.find((r) => r.type === type || r.type === 'failed');
        if (found)
          return found.type === 'failed' ? reject(new Error(`clients failed: ${found.error}`)) : resolve(found);
        const onMessage = (report: ClientReport): void => {
          if (report.type !== type && report.type !== 'failed') return;
          child.off('message', onMessage);
          if (report.type === 'failed') reject(new Error(`clients failed: ${report.error}`));
          else resolve(report);
        };
        child.on('message', onMessage);
        void state.exited.then(({ code, signal }) =>
          reject(
            new Error(`the client process ended (${code ?? signal}) before '${type}': ${state.stderr.slice(-2000)}`),
          ),
        );
      }),
  };
  child.on('message', (report: ClientReport) => state.reports.push(report));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (state.stderr += chunk));
  return state;
}

const children = new Set<ChildProcess>();
const servers = new Set<EchoServer>();

describe(`load: ${CONNECTIONS} connections × ${MESSAGES} echoed messages against one listen() server`, function () {
  this.timeout(EXCHANGE_LIMIT_MS + 60_000);
  this.slow(60_000);

  afterEach(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    children.clear();
    for (const server of servers) server.stop();
    servers.clear();
  });

  for (const [run, mode] of MODES.entries()) {
    const clients = mode === 'peer' ? 'library clients (connect, sendAll, packets$)' : 'raw ws clients';
    it(`echoes every message in order, then leaves nothing behind (${clients})`, async () => {
      // The start: what this process holds before the server exists.
      await collectGarbage();
      const resourcesAtStart = activeResources();
      const processListenersAtStart = processListenerCounts();
      const rssAtStart = rss();
      const memoryAtStart = process.memoryUsage();
      const heapAtStart = memoryAtStart.heapUsed;
      const peakWasReset = resetPeakRss();
      const startedAt = performance.now();

      const echo = new EchoServer();
      servers.add(echo);
      const server = await echo.start();
      const httpServer = httpServerOn(server.port);
      const serverListenersAtStart = listenerCounts(httpServer);
      const resourcesListening = activeResources();

      const child = startClients({
        url: `ws://127.0.0.1:${server.port}`,
        connections: CONNECTIONS,
        messages: MESSAGES,
        size: SIZE,
        openConcurrency: 100,
        mode,
      });
      children.add(child.process);
      const open = await within(EXCHANGE_LIMIT_MS, "the clients' connections to open", child.next('open'));
      await until(5000, 'the server to see every peer', () => echo.opened === CONNECTIONS);
      const rssOpen = rss();
      const resourcesOpen = activeResources();

      const cpuAtGo = process.cpuUsage();
      child.process.send('go');
      const done = await within(EXCHANGE_LIMIT_MS, 'the exchange', child.next('done'));
      const cpu = process.cpuUsage(cpuAtGo);
      const serverCpuMs = (cpu.user + cpu.system) / 1000;
      const stats = (done as { stats: ClientStats }).stats;
      const exit = await within(EXIT_LIMIT_MS, 'the client process to exit by itself', child.exited);
      await until(10_000, 'every server peer to close', () => echo.closed === CONNECTIONS);
      await until(5000, 'every closed peer to be checked', () => echo.checked === CONNECTIONS);
      const rssPeak = peakRss();
      const totalMs = performance.now() - startedAt;

      // The end, with the server still listening: what the connections left behind.
      await collectGarbage();
      let rssEnd = rss();
      // Freed memory goes back to the OS a little later on a busy machine: give it a few tries.
      for (let i = 0; i < 10 && run > 0 && rssEnd - rssAtStart >= RSS_NEAR; i++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        await collectGarbage();
        rssEnd = rss();
      }
      const memoryEnd = process.memoryUsage();
      const heapEnd = memoryEnd.heapUsed;
      const resourcesEndBeyond = await settledResourcesBeyond(resourcesListening);
      const serverListenersEnd = listenerCounts(httpServer);
      const internals = listenInternals(server.port);
      const alive = echo.refs.filter((ref) => ref.deref() !== undefined).length;

      echo.stop();
      await until(
        5000,
        'the server to stop',
        () => !('TCPServerWrap' in resourcesBeyond(resourcesAtStart, activeResources())),
      );
      const resourcesStoppedBeyond = await settledResourcesBeyond(resourcesAtStart);
      const rssJudged = run > 0;

      const round = (n: number): string => Math.round(n).toLocaleString('en-US');
      const exchanged = CONNECTIONS * MESSAGES;
      console.log(
        [
          `      ${CONNECTIONS} connections × ${MESSAGES} messages of ${SIZE} bytes, ${clients}`,
          `      opened in ${round(open.type === 'open' ? open.openMs : 0)} ms; exchange ${round(stats.exchangeMs)} ms: ` +
            `${round((exchanged / stats.exchangeMs) * 1000)} echoed messages/s ` +
            `(${round(((2 * exchanged) / stats.exchangeMs) * 1000)} frames/s through the server); ` +
            `all closed after ${round(stats.totalMs)} ms; whole test ${round(totalMs)} ms`,
          `      client: sent ${round(stats.sent)}, received ${round(stats.received)}, wrong ${stats.wrong}, ` +
            `incomplete ${stats.incomplete}, closes ${JSON.stringify(stats.closeCodes)} (${stats.clean} clean), ` +
            `CPU ${round(stats.cpuMs)} ms, peak RSS ${stats.peakRssMiB} MiB; exit ${exit.code ?? exit.signal}`,
          `      server: ${echo.opened} peers, echoed ${round(echo.echoed)}, closes ${JSON.stringify(echo.codes)} (${echo.clean} clean), ` +
            `CPU ${round(serverCpuMs)} ms during the exchange`,
          `      server RSS: start ${mib(rssAtStart)}, all open ${mib(rssOpen)}, peak ${mib(rssPeak)}${peakWasReset ? '' : ' (VmHWM not reset)'}, ` +
            `end ${mib(rssEnd)} (${rssEnd >= rssAtStart ? '+' : ''}${mib(rssEnd - rssAtStart)}` +
            `${rssJudged ? '' : '; the first load of the process, its one-time growth not judged'})`,
          `      server V8 heap: used ${mib(heapAtStart)} -> ${mib(heapEnd)}, total ${mib(memoryAtStart.heapTotal)} -> ${mib(memoryEnd.heapTotal)}`,
          `      server handles: start ${JSON.stringify(resourcesAtStart)}`,
          `        all open, beyond start ${JSON.stringify(resourcesBeyond(resourcesAtStart, resourcesOpen))}; ` +
            `all closed, beyond listening ${JSON.stringify(resourcesEndBeyond)}; ` +
            `stopped, beyond start ${JSON.stringify(resourcesStoppedBeyond)}`,
          `      listen() internals after: ${JSON.stringify(internals)}; peers/ws/sockets still reachable after GC: ${alive} of ${echo.refs.length}`,
        ].join('\n'),
      );
      if (stats.problems.length) console.log(`      client problems: ${stats.problems.join('; ')}`);
      if (echo.problems.length) console.log(`      server problems: ${echo.problems.join('; ')}`);

      // Every message arrived, in order per connection, each of its kind, byte for byte.
      expect(stats.problems, 'client problems').to.deep.equal([]);
      expect(stats.connections).to.equal(CONNECTIONS);
      expect(stats.sent).to.equal(exchanged);
      expect(stats.received).to.equal(exchanged);
      expect(stats.wrong).to.equal(0);
      expect(stats.incomplete).to.equal(0);
      expect(stats.closeCodes).to.deep.equal({ 1000: CONNECTIONS });
      expect(stats.clean).to.equal(CONNECTIONS);
      expect(exit).to.deep.equal({ code: 0, signal: null });
      expect(echo.echoed).to.equal(exchanged);

      // Nothing leaks: every peer closed, and nothing on it stays subscribed or listening.
      expect(echo.problems, 'server peers after close').to.deep.equal([]);
      expect(echo.codes).to.deep.equal({ 1000: CONNECTIONS });
      expect(echo.clean).to.equal(CONNECTIONS);
      expect(alive, 'server peers, ws sockets and TCP sockets not collected').to.equal(0);
      expect(internals, "listen()'s live peers and waiting peers").to.deep.equal({ live: 0, inbox: 0 });
      expect(serverListenersEnd, 'listeners on the http server').to.deep.equal(serverListenersAtStart);
      expect(processListenerCounts(), 'listeners on process').to.deep.equal(processListenersAtStart);
      expect(resourcesEndBeyond, 'handles and timers left, server listening').to.deep.equal({});
      expect(resourcesStoppedBeyond, 'handles and timers left, server stopped').to.deep.equal({});
      if (rssJudged)
        expect(rssEnd - rssAtStart, `RSS after close vs start (peak ${mib(rssPeak)})`).to.be.below(RSS_NEAR);
      expect(heapEnd - heapAtStart, 'V8 heap used after close vs start').to.be.below(HEAP_NEAR);
    });
  }
});
