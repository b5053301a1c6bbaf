// A TCP proxy of ours that cuts connections: it forwards bytes between a client and a server on
// 127.0.0.1, and destroys a connection (both sides at once, as a dropped network does) at a moment
// chosen at random for it: after a number of bytes in one direction, which may fall inside the
// HTTP handshake or inside a frame, or after a time. Used by the rooms demo, the rooms fault
// specs and the rooms benchmark.
import { once } from 'node:events';
import { createConnection, createServer } from 'node:net';

/** A seeded generator (mulberry32), so a failing run can be replayed from its seed. */
export function seededRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Starts a proxy to `targetPort` on 127.0.0.1. Options:
 * - `cutAfterBytes: [min, max]`: each connection is cut once this many bytes (drawn per
 *   connection and direction at random) have gone through in either direction; the chunk that
 *   crosses the count is forwarded up to it only, so the cut falls mid-frame.
 * - `cutAfterMs: [min, max]`: each connection is cut after this long, at the latest.
 * - `random`: a function returning [0, 1); default a `seededRandom(seed)` (`seed` default 1).
 * Without either cut option it only forwards, until `cutAll()`.
 */
export async function startCuttingProxy(targetPort, options = {}) {
  const random = options.random ?? seededRandom(options.seed ?? 1);
  const draw = ([min, max]) => min + Math.floor(random() * (max - min + 1));
  const pairs = new Set();
  const stats = { connections: 0, cuts: 0 };
  let cutting = true;

  const server = createServer((inbound) => {
    stats.connections++;
    const outbound = createConnection(targetPort, '127.0.0.1');
    const pair = { inbound, outbound, timer: undefined, cut: false, dying: false, cutNow: undefined };
    pairs.add(pair);
    /** `counted`: the proxy cut it, rather than one of the ends closing it. */
    const drop = (counted) => {
      if (pair.cut) return;
      pair.cut = true;
      if (counted) stats.cuts++;
      clearTimeout(pair.timer);
      inbound.destroy();
      outbound.destroy();
      pairs.delete(pair);
    };
    const cut = () => drop(true);
    pair.cutNow = cut;
    const forward = (from, to, limit) => {
      let left = limit;
      from.on('data', (chunk) => {
        if (pair.cut || pair.dying) return;
        if (left === undefined || !cutting || chunk.length < left) {
          if (left !== undefined) left -= chunk.length;
          if (!to.write(chunk)) {
            from.pause();
            to.once('drain', () => from.resume());
          }
          return;
        }
        // Forward up to the cut, then drop both sides: the last bytes leave before the reset.
        pair.dying = true;
        to.write(chunk.subarray(0, left));
        setImmediate(cut);
      });
      from.on('end', () => to.end());
    };
    const bytes = options.cutAfterBytes;
    forward(inbound, outbound, bytes && cutting ? draw(bytes) : undefined);
    forward(outbound, inbound, bytes && cutting ? draw(bytes) : undefined);
    for (const socket of [inbound, outbound]) {
      socket.on('error', () => {});
      socket.on('close', () => drop(false));
    }
    if (options.cutAfterMs && cutting) pair.timer = setTimeout(cut, draw(options.cutAfterMs));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    stats,
    /** Cuts every open connection now. */
    cutAll() {
      for (const pair of [...pairs]) pair.cutNow();
    },
    /** Stops cutting by itself (connections made after this are only forwarded). */
    stopCutting() {
      cutting = false;
      for (const pair of pairs) clearTimeout(pair.timer);
    },
    async close() {
      cutting = false;
      for (const pair of [...pairs]) pair.cutNow();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
