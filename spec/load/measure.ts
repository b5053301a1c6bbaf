// Measuring tools of the load and leak specs: a forced GC, memory figures, the process's active
// handles and timers, listener counts, and peeks into the internals of peers and of listen().
import { readFileSync, writeFileSync } from 'node:fs';
import type { EventEmitter } from 'node:events';
import { Server } from 'node:http';
import { Session } from 'node:inspector';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { WebSocketPeer } from '../../src/peer/WebSocketPeer.js';
import { internalsOf } from '../helpers.js';

export const MiB = 1024 * 1024;

/**
 * V8's full, synchronous GC. Mocha runs without --expose-gc (.mocharc.json stays as it is):
 * the flag can be turned on at run time, and a new context then has `gc` as a global.
 */
export const gc: () => void =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  })();

/** A turn of the event loop: I/O callbacks and closes that were due have run. */
export const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Collects everything unreachable: finalizers and weak references are cleared after a GC and
 * the turn that follows, so a few rounds catch what one round's clearing made unreachable.
 */
export async function collectGarbage(rounds = 3): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    await turn();
    gc();
  }
  await turn();
}

/** One field of /proc/self/status, in bytes (Linux reports kB there). */
function status(field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) * 1024 : Number.NaN;
}

/**
 * Resets the peak RSS (VmHWM) to the current RSS (Linux >= 4.0), so that a later `peakRss()`
 * is the peak of what came after. Returns whether it worked.
 */
export function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

export const rss = (): number => status('VmRSS');
export const peakRss = (): number => status('VmHWM');
export const mib = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;

/** The process's active handles and timers (`process.getActiveResourcesInfo()`), counted by type. */
export function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

/** Resources in `after` beyond `before`, by type (empty when none). */
export function resourcesBeyond(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const extra: Record<string, number> = {};
  for (const [type, count] of Object.entries(after)) {
    if (count > (before[type] ?? 0)) extra[type] = count - (before[type] ?? 0);
  }
  return extra;
}

/**
 * Handles and timers beyond `base`, waiting up to `ms` for transient ones (a file read of the
 * test runner in flight, a socket the kernel is still closing) to end; what stays is returned.
 */
export async function settledResourcesBeyond(base: Record<string, number>, ms = 1000): Promise<Record<string, number>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const extra = resourcesBeyond(base, activeResources());
    if (Object.keys(extra).length === 0 || Date.now() > deadline) return extra;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Listener counts of an emitter, by event name (events with none left out). */
export function listenerCounts(emitter: EventEmitter): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of emitter.eventNames()) {
    const count = emitter.listenerCount(name);
    if (count > 0) counts[String(name)] = count;
  }
  return counts;
}

/** The `process` events a library could leak listeners on. */
export function processListenerCounts(): Record<string, number> {
  return listenerCounts(process);
}

/** The `http.Server` of this process that listens on `port` (found among the active handles). */
export function httpServerOn(port: number): Server {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  const server = handles.find((h): h is Server => {
    if (!(h instanceof Server)) return false;
    const address = h.address();
    return typeof address === 'object' && address !== null && address.port === port;
  });
  if (!server) throw new Error(`no http.Server of this process listens on port ${port}`);
  return server;
}

/** The sets inside a peer where subscribers and listeners live: each should be empty at rest. */
export interface PeerSets {
  /** `LiveValue.subscribers` of state$, bufferedAmount$ and closed$ (closeInfo). */
  state: number;
  buffered: number;
  closeInfo: number;
  /** `Inbox.takers` (packets$ subscribers) and `Inbox.watchers` (consumePackets()). */
  takers: number;
  watchers: number;
  /** Packets waiting in the inbox. */
  queued: number;
  /** Listeners on the peer's `ws` WebSocket, all events together. */
  wsListeners: number;
}

interface PeerInternals {
  stateLive: { subscribers: readonly unknown[] } | undefined;
  bufferedLive: { subscribers: readonly unknown[] } | undefined;
  closeWatchers: readonly unknown[] | object | undefined;
  inbox: { takers: ReadonlySet<unknown>; watchers: ReadonlySet<unknown> | undefined; size: number };
}

export function peerSets(peer: WebSocketPeer): PeerSets {
  const p = peer as unknown as PeerInternals;
  const { ws } = internalsOf(peer);
  return {
    state: p.stateLive?.subscribers.length ?? 0,
    buffered: p.bufferedLive?.subscribers.length ?? 0,
    closeInfo: p.closeWatchers === undefined ? 0 : Array.isArray(p.closeWatchers) ? p.closeWatchers.length : 1,
    takers: p.inbox.takers.size,
    watchers: p.inbox.watchers?.size ?? 0,
    queued: p.inbox.size,
    wsListeners: ws.eventNames().reduce((sum, name) => sum + ws.listenerCount(name), 0),
  };
}

/** A closed peer: nothing left in any set. */
export const EMPTY_PEER_SETS: PeerSets = {
  state: 0,
  buffered: 0,
  closeInfo: 0,
  takers: 0,
  watchers: 0,
  queued: 0,
  wsListeners: 0,
};

/**
 * An open peer that nobody else uses: the close watcher of whoever made it (connect() to end its
 * observable, listen() to forget the peer once closed). Its transport takes the ws WebSocket's
 * events without listeners.
 */
export const OPEN_PEER_SETS: PeerSets = { ...EMPTY_PEER_SETS, closeInfo: 1 };

/**
 * Reads variables of a function's closure through the inspector (in this process, synchronous):
 * for each of `names` found in one of `fn`'s scopes, the value `read` (a function declaration
 * called with the variable as `this`) returns. Names not found are left out, so a caller can tell
 * a renamed internal from a wrong value.
 */
export function peekClosure(fn: (...args: never[]) => unknown, names: string[], read: string): Record<string, unknown> {
  const session = new Session();
  session.connect();
  const post = <T>(method: string, params: object): T => {
    let out: { error: Error | null; result?: T } | undefined;
    session.post(method, params, (error: Error | null, result?: object) => (out = { error, result: result as T }));
    if (!out) throw new Error(`inspector ${method} did not answer synchronously`);
    if (out.error) throw out.error;
    return out.result as T;
  };
  type Remote = { objectId?: string; description?: string };
  type Properties = {
    result: Array<{ name: string; value?: Remote }>;
    internalProperties?: Array<{ name: string; value?: Remote }>;
  };
  const key = `__peekClosure${process.pid}`;
  const holder = globalThis as Record<string, unknown>;
  holder[key] = fn;
  try {
    const target = post<{ result: Remote }>('Runtime.evaluate', { expression: `globalThis.${key}` }).result;
    const own = post<Properties>('Runtime.getProperties', { objectId: target.objectId, ownProperties: true });
    const scopes = own.internalProperties?.find((p) => p.name === '[[Scopes]]')?.value;
    const found: Record<string, unknown> = {};
    if (!scopes?.objectId) return found;
    const chain = post<Properties>('Runtime.getProperties', { objectId: scopes.objectId, ownProperties: true });
    for (const scope of chain.result) {
      if (!scope.value?.objectId || scope.value.description === 'Global') continue;
      const variables = post<Properties>('Runtime.getProperties', {
        objectId: scope.value.objectId,
        ownProperties: true,
      });
      for (const variable of variables.result) {
        if (!names.includes(variable.name) || variable.name in found || !variable.value?.objectId) continue;
        const value = post<{ result: { value?: unknown } }>('Runtime.callFunctionOn', {
          objectId: variable.value.objectId,
          functionDeclaration: read,
          returnByValue: true,
        });
        found[variable.name] = value.result.value;
      }
    }
    return found;
  } finally {
    delete holder[key];
    session.disconnect();
  }
}

/**
 * The sizes of the sets inside a running listen() server on `port`, read from the closure of its
 * 'upgrade' listener: `live` (the peers it will close when stopped) and `inbox` (the peers waiting
 * for a `peers$` subscriber). A name missing from the answer was not found (renamed).
 */
export function listenInternals(port: number): { live?: number; inbox?: number } {
  const server = httpServerOn(port);
  const [onUpgrade] = server.listeners('upgrade') as Array<(...args: never[]) => unknown>;
  if (!onUpgrade) throw new Error(`the server on port ${port} has no 'upgrade' listener`);
  return peekClosure(onUpgrade, ['live', 'inbox'], 'function () { return this.size; }') as {
    live?: number;
    inbox?: number;
  };
}
