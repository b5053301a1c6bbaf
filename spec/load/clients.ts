// The client side of the load test (spec/load/load.spec.ts), in a process of its own so that the
// server's memory, handles and listeners are measured without the clients'. Run by the spec as
//   node --import tsx spec/load/clients.ts '<ClientArgs as JSON>'   (with an IPC channel)
//
// It opens `connections` WebSockets to `url` (at most `openConcurrency` handshakes at a time),
// reports 'open' and waits for 'go'; then every connection sends its `messages` messages at
// once, pipelined (spec/load/payload.ts: even ones text, odd ones binary), and checks that the
// echoes come back complete, each of its kind, in order, byte for byte. A connection that has all
// its echoes closes with 1000 and waits for the close. Then it reports 'done' with the figures,
// closes the IPC channel and must exit by itself: a handle or timer left behind by the client
// side would keep it alive, and the spec fails it after a grace period.
//
// mode 'peer': the library, as users get it (the built package, imported by its name):
//   connect(), sendAll(peer, generator) (flow control by the outbound buffer), packets$, close().
// mode 'ws': raw `ws`, an independent client: ws.send() in a loop, 'message', ws.close(1000).
import { readFileSync, writeFileSync } from 'node:fs';
import { WebSocket } from 'ws';
import { isBinaryMessage, isTextMessage, message, textMessage } from './payload.js';

export interface ClientArgs {
  url: string;
  connections: number;
  messages: number;
  /** Payload bytes of each message. */
  size: number;
  /** Opening handshakes in flight at once (the server's listen backlog is 511). */
  openConcurrency: number;
  mode: 'peer' | 'ws';
}

/** What the child reports over IPC. */
export type ClientReport =
  | { type: 'open'; connections: number; openMs: number }
  | { type: 'done'; stats: ClientStats }
  | { type: 'failed'; error: string };

export interface ClientStats {
  mode: 'peer' | 'ws';
  connections: number;
  sent: number;
  received: number;
  /** Echoes that were not the next expected message of their connection (order, content, kind). */
  wrong: number;
  /** Connections that did not get all their echoes before their close. */
  incomplete: number;
  /** Close codes as the client saw them, with how many were clean. */
  closeCodes: Record<string, number>;
  clean: number;
  /** The first few problems, described. */
  problems: string[];
  openMs: number;
  /** From 'go' to the last echo. */
  exchangeMs: number;
  /** From 'go' to the last close. */
  totalMs: number;
  /** The client process's peak RSS during the exchange, MiB. */
  peakRssMiB: number;
  /** CPU time (user + system) the client process spent from 'go' to the last close, ms. */
  cpuMs: number;
}

type LibraryModule = typeof import('../../src/index.js');

const MiB = 1024 * 1024;

function send(report: ClientReport): void {
  process.send?.(report);
}

function statusKiB(field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) : 0;
}

/** Resolves once the parent says 'go'. */
const go = (): Promise<void> =>
  new Promise((resolve) => {
    const onMessage = (m: unknown): void => {
      if (m === 'go') {
        process.off('message', onMessage);
        resolve();
      }
    };
    process.on('message', onMessage);
  });

/** Runs `start(i)` for i < count with at most `limit` of them pending at once. */
async function inBatches<T>(count: number, limit: number, start: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      results[i] = await start(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, lane));
  return results;
}

/** One connection's view: what it expects next and how it ended. */
class Tally {
  received = 0;
  /** When the last echo came (performance.now()). */
  doneAt = 0;
  constructor(
    readonly stats: ClientStats,
    readonly i: number,
    readonly args: ClientArgs,
  ) {}

  /** Checks one echo; returns whether the connection now has all of them. */
  check(isString: boolean, data: string | Uint8Array): boolean {
    const { i, args, stats } = this;
    const j = this.received++;
    stats.received++;
    let ok: boolean;
    if (j >= args.messages) ok = false;
    else if (isTextMessage(j)) ok = isString && data === textMessage(i, j, args.size);
    else ok = !isString && typeof data !== 'string' && isBinaryMessage(data, i, j, args.size);
    if (!ok) {
      stats.wrong++;
      if (stats.problems.length < 5) {
        const shown = typeof data === 'string' ? JSON.stringify(data.slice(0, 24)) : `[${data.byteLength} bytes]`;
        stats.problems.push(`connection ${i}: echo #${j} was ${isString ? 'text' : 'binary'} ${shown}`);
      }
    }
    if (this.received !== args.messages) return false;
    this.doneAt = performance.now();
    return true;
  }

  closed(code: number, wasClean: boolean): void {
    const { stats } = this;
    stats.closeCodes[code] = (stats.closeCodes[code] ?? 0) + 1;
    if (wasClean) stats.clean++;
    if (this.received !== this.args.messages) {
      stats.incomplete++;
      if (stats.problems.length < 5) {
        stats.problems.push(`connection ${this.i}: closed (${code}) after ${this.received} echoes`);
      }
    }
  }
}

/** A connection ready to exchange: `run()` resolves once it has closed. */
interface Connection {
  tally: Tally;
  run(): Promise<void>;
}

async function openPeer(lib: LibraryModule, args: ClientArgs, stats: ClientStats, i: number): Promise<Connection> {
  const tally = new Tally(stats, i, args);
  let ended!: () => void;
  const end = new Promise<void>((resolve) => (ended = resolve));
  const peer = await new Promise<import('../../src/index.js').WebSocketPeer>((resolve, reject) => {
    let opened = false;
    lib.connect(args.url).subscribe({
      next: (p) => {
        opened = true;
        resolve(p);
      },
      // connect() completes on a clean close and errors on an abnormal one; closed$ says which.
      error: (error: unknown) => (opened ? ended() : reject(error)),
      complete: () => ended(),
    });
  });
  peer.closed$.subscribe(({ code, wasClean }) => tally.closed(code, wasClean));
  function* outgoing(): Generator<string | Uint8Array> {
    for (let j = 0; j < args.messages; j++) {
      stats.sent++;
      yield message(i, j, args.size);
    }
  }
  return {
    tally,
    run: () => {
      peer.packets$.subscribe({
        next: (packet) => {
          if (tally.check(packet.isString, packet.data)) peer.close(1000);
        },
        error: (error: unknown) => {
          if (stats.problems.length < 5) stats.problems.push(`connection ${i}: packets$ failed: ${String(error)}`);
        },
      });
      lib.sendAll(peer, outgoing()).subscribe({
        error: (error: unknown) => {
          if (stats.problems.length < 5) stats.problems.push(`connection ${i}: sendAll failed: ${String(error)}`);
        },
      });
      return end;
    },
  };
}

async function openWs(args: ClientArgs, stats: ClientStats, i: number): Promise<Connection> {
  const tally = new Tally(stats, i, args);
  const ws = new WebSocket(args.url, { perMessageDeflate: false });
  const end = new Promise<void>((resolve) =>
    ws.once('close', (code) => {
      tally.closed(code, code !== 1006);
      resolve();
    }),
  );
  ws.on('error', (error) => {
    if (stats.problems.length < 5) stats.problems.push(`connection ${i}: ${error.message}`);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('unexpected-response', () => reject(new Error('handshake refused')));
    void end.then(() => reject(new Error(`connection ${i} closed before it opened`)));
  });
  return {
    tally,
    run: () => {
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        const done = isBinary
          ? tally.check(false, new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
          : tally.check(true, data.toString('utf8'));
        if (done) ws.close(1000);
      });
      for (let j = 0; j < args.messages; j++) {
        stats.sent++;
        ws.send(message(i, j, args.size), { binary: !isTextMessage(j) });
      }
      return end;
    },
  };
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as ClientArgs;
  const stats: ClientStats = {
    mode: args.mode,
    connections: 0,
    sent: 0,
    received: 0,
    wrong: 0,
    incomplete: 0,
    closeCodes: {},
    clean: 0,
    problems: [],
    openMs: 0,
    exchangeMs: 0,
    totalMs: 0,
    peakRssMiB: 0,
    cpuMs: 0,
  };
  // By its name: the package resolves itself to its build (dist/), as an app would import it.
  const specifier = 'rx-websocket-peer';
  const lib = args.mode === 'peer' ? ((await import(specifier)) as LibraryModule) : undefined;

  const openedAt = performance.now();
  const connections = await inBatches(args.connections, args.openConcurrency, (i) =>
    lib ? openPeer(lib, args, stats, i) : openWs(args, stats, i),
  );
  stats.connections = connections.length;
  stats.openMs = Math.round(performance.now() - openedAt);
  const goes = go();
  send({ type: 'open', connections: connections.length, openMs: stats.openMs });
  await goes;

  try {
    writeFileSync('/proc/self/clear_refs', '5'); // resets VmHWM, so the peak is the exchange's
  } catch {
    // then VmHWM covers the whole life of the process
  }
  const startedAt = performance.now();
  const cpuAtStart = process.cpuUsage();
  await Promise.all(connections.map((c) => c.run()));
  const endedAt = performance.now();
  const lastEcho = Math.max(...connections.map((c) => c.tally.doneAt || endedAt));
  stats.exchangeMs = Math.round(lastEcho - startedAt);
  stats.totalMs = Math.round(endedAt - startedAt);
  const cpu = process.cpuUsage(cpuAtStart);
  stats.cpuMs = Math.round((cpu.user + cpu.system) / 1000);
  stats.peakRssMiB = Math.round((statusKiB('VmHWM') * 1024) / MiB);
  send({ type: 'done', stats });
  process.disconnect?.();
}

main().catch((error: unknown) => {
  send({ type: 'failed', error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.disconnect?.();
  process.exitCode = 1;
});
