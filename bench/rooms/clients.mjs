// The clients of `npm run bench:rooms` (bench/rooms.mjs): every subscriber and the publisher of one
// system, in one process.
//
//   impl 'ours'      each subscriber is roomClient(reconnecting(url, { protocols: ROOMS_PROTOCOL }))
//                    with join(room); the publisher is one more such client, publish(room, data).
//   impl 'socketio'  each subscriber is a socket.io-client socket (websocket transport only) that
//                    emits 'join' on every connect (a no-op for a session recovered in its room);
//                    the publisher is one more socket, emit('pub', room, data, ack).
//   Both reconnect after 50 ms (jitter 0.5), at most 200 ms, so that a cut subscriber comes back
//   at the same pace on both.
//
// With `ports` (servers on one Redis, impl 'ours-redis', 'socketio-redis' or 'socketio-streams',
// whose clients are those of 'ours' and 'socketio'), subscriber i of each room connects to
// ports[i % ports.length], and there is one publisher per server: room r's messages go through
// the publisher of ports[r % ports.length] (one publisher per room, so that its order is the
// room's).
//
// `rooms` rooms of `subs` subscribers each (named `${prefix}room-${i}`: each client process of a
// server has rooms of its own), one connection each. With `cut`, the first subscriber
// of the first room goes through demo/cuttingProxy.mjs, which cuts its connection after
// `cut.cutAfterMs` ms, again and again.
//
// Every message is 64 characters: 'D', the run (2 hex digits), the message's sequence number in its
// room (8 hex digits), the publisher's performance.now() (16 characters), then 'x's. Each
// subscriber checks that the sequence numbers of a run come in order, each once (and, ours, that
// room positions follow each other without a gap); what it saw otherwise is counted and reported.
//
// Messages from the parent:
//   { type: 'sync' }  publishes markers ('S...') into every room until each subscriber got one
//                     (all joined), reports 'synced'.
//   { type: 'run', id, n, window | rate }  publishes n messages, message i into room i % rooms:
//                     with `window`, as fast as acknowledgements allow with at most `window`
//                     publishes not acknowledged; with `rate`, at that many publishes a second, by
//                     the clock. Reports { type: 'result', ... } once every publish is
//                     acknowledged and every subscriber but the cut one has all n / rooms of its
//                     room, and the cut one has all too (or, for any of them, after 5 s without
//                     progress: what it got).
import { performance } from 'node:perf_hooks';
import { io as ioClient } from 'socket.io-client';
import { reconnecting, roomClient, ROOMS_PROTOCOL } from 'rx-websocket-peer';
import { args, fail, reportCrashes, tell } from '../memory/common.mjs';
import { startCuttingProxy } from '../../demo/cuttingProxy.mjs';

const { impl: system, port, ports = [port], rooms, subs, cut, prefix = '' } = args();
const impl = system.startsWith('ours') ? 'ours' : system.startsWith('socketio') ? 'socketio' : system;
reportCrashes();
process.on('disconnect', () => process.exit(0));

const SIZE = 64;
const STALL_MS = 5_000;
const roomName = (r) => `${prefix}room-${r}`;
// The publisher's window (up to 1,280 unacknowledged) must fit the connection's queue of
// unacknowledged publishes and roomClient()'s in-flight window, as socket.io's has no bound.
const RECONNECT_OURS = {
  protocols: ROOMS_PROTOCOL,
  initialDelay: 50,
  maxDelay: 200,
  jitter: 0.5,
  maxQueuedWrites: 4_096,
};
const ROOM_CLIENT_OURS = { maxInFlight: 4_096 };
const RECONNECT_SOCKETIO = {
  transports: ['websocket'],
  forceNew: true,
  reconnectionDelay: 50,
  reconnectionDelayMax: 200,
  randomizationFactor: 0.5,
};

const proxy = cut ? await startCuttingProxy(ports[0], { cutAfterMs: cut.cutAfterMs, seed: cut.seed ?? 1 }) : undefined;
const direct = (server) => `127.0.0.1:${ports[server]}`;

/** The run under way. */
let run;
const subscribers = [];
const closers = [];

function newSubscriber(room, index) {
  return {
    room,
    server: index % ports.length,
    cut: proxy !== undefined && room === 0 && index === 0,
    synced: false,
    lastOffset: undefined,
    connects: 0,
    recovered: 0,
    // Per run:
    expect: 0,
    got: 0,
    dups: 0,
    missing: 0,
    stale: 0,
    offsetGaps: 0,
    done: false,
  };
}

let syncedCount = 0;
const now = () => performance.now();

function receive(sub, data, offset) {
  if (offset !== undefined) {
    if (sub.lastOffset !== undefined && offset !== sub.lastOffset + 1) sub.offsetGaps++;
    sub.lastOffset = offset;
  }
  if (data.charCodeAt(0) === 83 /* 'S', a marker */) {
    if (!sub.synced) {
      sub.synced = true;
      syncedCount++;
    }
    return;
  }
  const r = run;
  if (r === undefined || Number.parseInt(data.slice(1, 3), 16) !== r.id % 256) {
    sub.stale++;
    return;
  }
  const seq = Number.parseInt(data.slice(3, 11), 16);
  if (seq < sub.expect) {
    sub.dups++;
    return;
  }
  if (seq > sub.expect) sub.missing += seq - sub.expect;
  sub.expect = seq + 1;
  sub.got++;
  const t = now();
  r.progressAt = t;
  const latency = t - Number(data.slice(11, 27));
  if (sub.cut) r.cutLatency.push(latency);
  else r.latency[r.samples++] = latency;
  if (sub.expect === r.perRoom) {
    sub.done = true;
    if (sub.cut) r.cutDoneAt = t;
    else if (--r.othersLeft === 0) r.othersDoneAt = t;
    maybeFinish(r);
  }
}

/** A run ends once every publish is acknowledged and every subscriber has all its room's messages. */
function maybeFinish(r) {
  if (r.acked === r.n && r.othersLeft === 0 && (r.cutSub === undefined || r.cutSub.done)) finish();
}

// ---------------------------------------------------------------------------------------------
// The connections.

/** publish(r, data, onAck): into room r, through the publisher of r's server. */
let publish;

if (impl === 'ours') {
  const open = (sub, server) => {
    const url = `ws://${sub?.cut ? `127.0.0.1:${proxy.port}` : direct(sub?.server ?? server)}`;
    const connection = reconnecting(url, RECONNECT_OURS);
    closers.push(() => connection.close());
    const client = roomClient(connection, ROOM_CLIENT_OURS);
    if (sub) {
      connection.peer$.subscribe(() => sub.connects++);
      client.join(roomName(sub.room)).subscribe({
        next: (m) => receive(sub, m.data, m.position.offset),
        error: (error) => fail(error),
      });
    }
    return client;
  };
  for (let r = 0; r < rooms; r++) {
    for (let i = 0; i < subs; i++) {
      const sub = newSubscriber(r, i);
      subscribers.push(sub);
      open(sub);
      if (subscribers.length % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  const publishers = ports.map((_, server) => open(undefined, server));
  publish = (r, data, onAck) =>
    publishers[r % ports.length]
      .publish(roomName(r), data)
      .subscribe({ next: onAck ?? (() => {}), error: (error) => fail(error) });
} else if (impl === 'socketio') {
  const opening = [];
  const open = (sub, server) =>
    new Promise((resolve, reject) => {
      const socket = ioClient(
        `http://${sub?.cut ? `127.0.0.1:${proxy.port}` : direct(sub?.server ?? server)}`,
        RECONNECT_SOCKETIO,
      );
      closers.push(() => socket.disconnect());
      if (sub) {
        const room = roomName(sub.room);
        socket.on('m', (data) => receive(sub, data, undefined));
        // Connections counted as the manager opens them: 'connect' comes after a recovered
        // session's missed packets, too late for a run that ends with the last of them.
        socket.io.on('open', () => sub.connects++);
        socket.on('connect', () => {
          // A recovered session is in its rooms again, with the packets it missed on their way:
          // joining again is a no-op then. But a session saved by a cut that came before its join
          // went through recovers into no room: so every connect joins.
          if (socket.recovered) sub.recovered++;
          socket.emit('join', room, () => {});
        });
      }
      socket.once('connect', () => resolve(socket));
      socket.once('connect_error', reject);
    });
  for (let r = 0; r < rooms; r++) {
    for (let i = 0; i < subs; i++) {
      const sub = newSubscriber(r, i);
      subscribers.push(sub);
      opening.push(open(sub));
      // Not all at once: a burst of handshakes overflows the listen backlog.
      if (opening.length % 50 === 0) await Promise.all(opening);
    }
  }
  await Promise.all(opening);
  const publishers = await Promise.all(ports.map((_, server) => open(undefined, server)));
  publish = (r, data, onAck) => publishers[r % ports.length].emit('pub', roomName(r), data, onAck ?? (() => {}));
} else throw new Error(`unknown impl ${impl}`);

const marker = 'S'.padEnd(SIZE, 'x');
function message(id, seq) {
  const head = `D${(id % 256).toString(16).padStart(2, '0')}${seq.toString(16).padStart(8, '0')}${now().toFixed(3).padStart(16, '0')}`;
  return head.padEnd(SIZE, 'x');
}

// ---------------------------------------------------------------------------------------------
// Runs.

function sync() {
  const tick = () => {
    if (syncedCount === subscribers.length) return void tell({ type: 'synced' });
    const waiting = new Set(subscribers.filter((s) => !s.synced).map((s) => s.room));
    for (const r of waiting) publish(r, marker);
    setTimeout(tick, 50);
  };
  tick();
}

function start({ id, n, window, rate }) {
  for (const sub of subscribers) {
    Object.assign(sub, { expect: 0, got: 0, dups: 0, missing: 0, stale: 0, offsetGaps: 0, done: false });
    sub.connectsBefore = sub.connects;
    sub.recoveredBefore = sub.recovered;
  }
  const cutSub = subscribers.find((s) => s.cut);
  const others = subscribers.length - (cutSub ? 1 : 0);
  globalThis.gc?.();
  const r = {
    id,
    n,
    perRoom: n / rooms,
    sent: 0,
    acked: 0,
    ackedAt: undefined,
    othersLeft: others,
    othersDoneAt: undefined,
    cutSub,
    cutDoneAt: undefined,
    latency: new Float64Array((n / rooms) * others),
    samples: 0,
    cutLatency: [],
    finished: false,
    cpu: process.cpuUsage(),
    proxyCuts: proxy?.stats.cuts,
  };
  run = r;
  const publishOne = () => {
    const i = r.sent++;
    publish(i % rooms, message(id, Math.floor(i / rooms)), onAck);
  };
  const onAck = () => {
    if (++r.acked === n) {
      r.ackedAt = now();
      maybeFinish(r);
    } else if (window !== undefined) pump();
  };
  const pump = () => {
    while (r.sent < n && r.sent - r.acked < window) publishOne();
  };
  r.t0 = r.progressAt = now();
  if (process.env.BENCH_ROOMS_DEBUG) {
    const debug = setInterval(() => {
      if (r.finished) return void clearInterval(debug);
      console.error(
        `run ${id}: sent ${r.sent} acked ${r.acked} othersLeft ${r.othersLeft} cut ${r.cutSub ? `${r.cutSub.expect}/${r.perRoom} connects ${r.cutSub.connects}` : '-'} proxy cuts ${proxy?.stats.cuts}`,
      );
    }, 1000);
  }
  if (window !== undefined) pump();
  else {
    const tick = () => {
      const due = Math.min(n, Math.floor(((now() - r.t0) * rate) / 1000));
      while (r.sent < due) publishOne();
      if (r.sent < n && !r.finished) setTimeout(tick, 1);
    };
    tick();
  }
  // A run that stalls (the cut subscriber that lost messages for good, or a broken run) ends
  // after STALL_MS without progress, with what it got.
  const watch = () => {
    if (r.finished) return;
    const quiet = now() - r.progressAt;
    if ((quiet > STALL_MS && r.sent === n) || quiet > 4 * STALL_MS) finish();
    else setTimeout(watch, 100);
  };
  setTimeout(watch, 100);
}

function percentile(sorted, p) {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))];
}

function finish() {
  const r = run;
  if (r.finished) return;
  r.finished = true;
  run = undefined;
  const cpu = process.cpuUsage(r.cpu);
  // The report waits for the rest of this turn: socket.io emits 'connect' (and `recovered`) after
  // the missed packets it replays, which may have been the run's last.
  setImmediate(report, r, cpu);
}

function report(r, cpu) {
  const latency = r.latency.subarray(0, r.samples).sort();
  const sum = (list, key) => list.reduce((total, s) => total + s[key], 0);
  const others = subscribers.filter((s) => !s.cut);
  const perSub = (s) => ({
    got: s.got,
    dups: s.dups,
    missing: s.missing + (r.perRoom - s.expect),
    stale: s.stale,
    offsetGaps: s.offsetGaps,
    reconnects: s.connects - s.connectsBefore,
    recovered: s.recovered - s.recoveredBefore,
  });
  const cutLatency = Float64Array.from(r.cutLatency).sort();
  void tell({
    type: 'result',
    id: r.id,
    // From the first publish to the last delivery to a subscriber that is not cut.
    ms: (r.othersDoneAt ?? r.progressAt) - r.t0,
    ackedMs: (r.ackedAt ?? NaN) - r.t0,
    deliveries: r.samples,
    expected: r.perRoom * others.length,
    p50: percentile(latency, 0.5),
    p99: percentile(latency, 0.99),
    max: latency.length ? latency[latency.length - 1] : NaN,
    cpuUs: cpu.user + cpu.system,
    others: {
      dups: sum(others, 'dups'),
      missing: others.reduce((total, s) => total + s.missing + (r.perRoom - s.expect), 0),
      stale: sum(others, 'stale'),
      offsetGaps: sum(others, 'offsetGaps'),
      reconnects: others.reduce((total, s) => total + s.connects - s.connectsBefore, 0),
    },
    cut: r.cutSub && {
      ...perSub(r.cutSub),
      expected: r.perRoom,
      ms: (r.cutDoneAt ?? NaN) - r.t0,
      p50: percentile(cutLatency, 0.5),
      p99: percentile(cutLatency, 0.99),
      proxyCuts: proxy.stats.cuts - r.proxyCuts,
    },
  });
}

process.on('message', (m) => {
  try {
    if (m.type === 'sync') sync();
    else if (m.type === 'run') start(m);
    else if (m.type === 'exit') {
      for (const close of closers) close();
      void proxy?.close();
      setTimeout(() => process.exit(0), 100);
    }
  } catch (error) {
    void fail(error);
  }
});
await tell({ type: 'ready', subscribers: subscribers.length });
