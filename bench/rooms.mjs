// npm run bench:rooms — rooms (docs/rooms.md) against socket.io 4 with connectionStateRecovery,
// measured in the same run: delivered messages per second and publish-to-receive latency, for
// 1 room x 100 subscribers and 100 rooms x 10 subscribers, 64 B messages, then the same with one
// subscriber behind demo/cuttingProxy.mjs. Then many processes on Redis (issue 18): two servers on
// one redis-server that this starts, serveRooms(redisRooms(client)) beside socket.io 4 with
// @socket.io/redis-adapter and with @socket.io/redis-streams-adapter, and redis-benchmark's
// PUBLISH and XADD as the ceiling. See bench/README.md ("npm run bench:rooms").
//
// The parent (this file) forks, per scenario, a server process and a client process per system
// (bench/rooms/server.mjs, bench/rooms/clients.mjs), talks to them over IPC and prints one table.
// The exit code is 1 if the harness broke or one of our subscribers got a message twice, out of
// order or not at all; the targets are informative.
import { execFileSync, fork, spawn } from 'node:child_process';
import { once as onceEvent } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, num, ratio, stats, table } from './report.mjs';
import { snapshot } from './snapshot.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = dirname(here);
const requireFromRepo = createRequire(join(repo, 'package.json'));

// Knobs, for investigation (the default run uses none): BENCH_RUNS (5),
// BENCH_ONLY=1x100,100x10,redis (scenarios) and/or closed,paced,cut (parts), BENCH_SCALE=0.2 (fewer
// messages), BENCH_RECEIVER_FLAGS='--cpu-prof --cpu-prof-dir=/tmp/p' (the server processes),
// BENCH_CHILD_FLAGS (the client processes), BENCH_SYSTEMS=ours (one system only; on Redis also
// socketio-redis, socketio-streams), BENCH_DIST.
const RUNS = Number(process.env.BENCH_RUNS || 5);
const SCALE = Number(process.env.BENCH_SCALE || 1);
const ONLY = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
const CHILD_FLAGS = process.env.BENCH_CHILD_FLAGS?.split(' ').filter(Boolean) ?? [];
const RECEIVER_FLAGS = process.env.BENCH_RECEIVER_FLAGS?.split(' ').filter(Boolean) ?? [];
const CHOSEN_SYSTEMS = process.env.BENCH_SYSTEMS?.split(',').map((s) => s.trim());
const SYSTEMS = ['ours', 'socketio'].filter((s) => !CHOSEN_SYSTEMS || CHOSEN_SYSTEMS.includes(s));
const RUN_TIMEOUT_MS = 120_000;

// `n` publishes a run (n x subs deliveries: 200,000 and 100,000); at most `window` publishes
// not yet acknowledged, the same number of deliveries in flight in both scenarios (12,800): enough
// to keep both systems busy (4x more raised neither's rate; a quarter of it cost both more CPU per delivery).
const SCENARIOS = [
  { id: '1x100', name: '1 room x 100 subscribers', rooms: 1, subs: 100, n: 2_000, window: 128 },
  { id: '100x10', name: '100 rooms x 10 subscribers', rooms: 100, subs: 10, n: 10_000, window: 1_280 },
];
const PARTS = ['closed', 'paced', 'cut'];
// The paced runs offer this share of socket.io's closed-loop publish rate in the same run, for
// about PACED_MS.
const PACED_SHARE = 0.5;
const PACED_MS = 2_000;
// The cut subscriber's connection is cut 250-750 ms after it is made, each time (shorter, and under load
// a reconnect's handshake was cut before it completed, again and again).
const CUT = { cutAfterMs: [250, 750], seed: 17 };
const TARGET = 2;
const LABEL = {
  ours: 'ours serveRooms(memoryRooms())',
  socketio: 'socket.io 4 + connectionStateRecovery',
  'ours-redis': 'ours serveRooms(redisRooms(client))',
  'socketio-redis': 'socket.io 4 + @socket.io/redis-adapter',
  'socketio-streams': 'socket.io 4 + @socket.io/redis-streams-adapter',
};
const isOurs = (system) => system.startsWith('ours');

/**
 * The columns every row of the main table has: `c`, a system's summary of runs, and its ratios
 * over each of `bases` (summaries of the same mode and run; none: '-').
 */
function measuredRow(spec, mode, system, c, bases, note) {
  const vs = (pick) => (bases.length ? bases.map((b) => ratio(pick(c) / pick(b))).join(' / ') : '-');
  return {
    scenario: spec.name,
    mode,
    system: LABEL[system],
    rate: num(c.rate.median),
    range: `${num(c.rate.min)}-${num(c.rate.max)}`,
    vs: vs((s) => s.rate.median),
    p50: num(c.p50, 2),
    p99: num(c.p99, 2),
    p99vs: vs((s) => s.p99),
    note,
  };
}

// ---------------------------------------------------------------------------------------------
// Children: forked with one JSON argument; their messages queue until awaited.

const children = new Set();

function start(script, options, execArgv = []) {
  const child = fork(join(snap.root, 'bench', 'rooms', script), [JSON.stringify(options)], {
    cwd: snap.root,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv,
  });
  const inbox = [];
  const waiters = [];
  const name = `${script} ${options.impl}${options.index === undefined ? '' : ` #${options.index + 1}`}`;
  const handle = {
    exited: false,
    send: (message) => child.send(message),
    next(type, timeoutMs = RUN_TIMEOUT_MS) {
      const i = inbox.findIndex((m) => m.type === type || m.type === 'error');
      if (i >= 0) {
        const [m] = inbox.splice(i, 1);
        return m.type === 'error' ? Promise.reject(new Error(`${name}: ${m.message}`)) : Promise.resolve(m);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name}: no '${type}' within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({ type, resolve, reject, timer });
      });
    },
    kill() {
      if (!handle.exited) child.kill('SIGKILL');
    },
    /** Asks it to exit (so that --cpu-prof writes its profile); kills it after a while. */
    async stop() {
      if (handle.exited) return;
      try {
        child.send({ type: 'exit' });
      } catch {}
      await Promise.race([new Promise((r) => child.once('exit', r)), new Promise((r) => setTimeout(r, 3000))]);
      handle.kill();
    },
  };
  child.on('message', (m) => {
    const i = waiters.findIndex((w) => w.type === m.type || m.type === 'error');
    if (i < 0) return void inbox.push(m);
    const [w] = waiters.splice(i, 1);
    clearTimeout(w.timer);
    if (m.type === 'error') w.reject(new Error(`${name}: ${m.message}`));
    else w.resolve(m);
  });
  child.on('exit', (code, signal) => {
    handle.exited = true;
    children.delete(handle);
    for (const w of waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new Error(`${name} exited (${code ?? signal}) while we waited for '${w.type}'`));
    }
  });
  children.add(handle);
  return handle;
}

// ---------------------------------------------------------------------------------------------
// Statistics and formatting.

const rows = [];
const problems = [];
const summary = []; // PASS/FAIL of each target and check
let wrongDelivery = false;

function verdict(pass, what) {
  summary.push({ pass, what });
  return pass ? 'PASS' : 'FAIL';
}

// ---------------------------------------------------------------------------------------------
// One scenario: a server and a client process per system; the closed-loop runs, the paced runs,
// then the cut runs (a second client process per system, with one subscriber behind the proxy).

let runId = 0;

/** The CPU time (us) of the server processes together, and of `redis` (a redis-server) if given. */
async function cpuOf(servers, redis) {
  const list = Array.isArray(servers) ? servers : [servers];
  for (const server of list) server.send({ type: 'cpu' });
  let us = 0;
  for (const server of list) us += (await server.next('cpu')).us;
  return { us, redisUs: redis?.cpuUs() ?? NaN };
}

/** One run: the servers' (and Redis's) CPU around it, the clients' result. */
async function once(servers, clients, spec, how, redis) {
  const before = await cpuOf(servers, redis);
  const id = ++runId;
  clients.send({ type: 'run', id, ...how });
  const result = await clients.next('result');
  const after = await cpuOf(servers, redis);
  const deliveries = how.n * spec.subs;
  return {
    ...result,
    rate: result.deliveries / (result.ms / 1000),
    // (NaN travels over IPC as null: a run that ended without every acknowledgement.)
    publishRate: how.n / ((result.ackedMs ?? NaN) / 1000),
    serverUsPerDelivery: (after.us - before.us) / deliveries,
    clientUsPerDelivery: result.cpuUs / deliveries,
    redisUsPerDelivery: (after.redisUs - before.redisUs) / deliveries,
  };
}

/** Our subscribers must get everything, once, in order; socket.io's are reported. */
function check(system, where, result) {
  const o = result.others;
  const wrong = result.deliveries !== result.expected || o.dups || o.missing || o.stale || o.offsetGaps;
  if (wrong) {
    const what = `${where}, ${LABEL[system]}: subscribers got ${num(result.deliveries)} of ${num(result.expected)} (${o.dups} twice, ${o.missing} missing, ${o.stale} of another run, ${o.offsetGaps} position gaps)`;
    problems.push(what);
    if (isOurs(system)) wrongDelivery = true;
  }
  if (o.reconnects) problems.push(`${where}, ${LABEL[system]}: ${o.reconnects} reconnects of subscribers not cut`);
  return result;
}

const summarize = (list) => ({
  rate: stats(list.map((r) => r.rate)),
  p50: median(list.map((r) => r.p50)),
  p99: median(list.map((r) => r.p99)),
  p99s: stats(list.map((r) => r.p99)),
  publishRate: median(list.map((r) => r.publishRate)),
  server: median(list.map((r) => r.serverUsPerDelivery)),
  client: median(list.map((r) => r.clientUsPerDelivery)),
  redis: median(list.map((r) => r.redisUsPerDelivery)),
});

async function scenario(spec) {
  const n = Math.max(spec.rooms, Math.round((spec.n * SCALE) / spec.rooms) * spec.rooms);
  const parts = PARTS.filter((p) => !ONLY?.some((o) => PARTS.includes(o)) || ONLY.includes(p));
  const cutting = parts.includes('cut');
  const both = SYSTEMS.length === 2;
  const opened = [];
  const servers = {};
  const ports = {};
  // A client process: `prefix` names its rooms, so that the plain and the cut process of a system
  // each have rooms of their own on the same server (the idle one receives nothing).
  const open = async (system, prefix, cut) => {
    const options = { impl: system, port: ports[system], rooms: spec.rooms, subs: spec.subs, prefix, cut };
    const clients = start('clients.mjs', options, ['--expose-gc', ...CHILD_FLAGS]);
    opened.push(clients);
    await clients.next('ready');
    clients.send({ type: 'sync' });
    await clients.next('synced');
    return clients;
  };
  try {
    for (const system of SYSTEMS) {
      servers[system] = start('server.mjs', { impl: system }, ['--expose-gc', ...RECEIVER_FLAGS]);
      opened.push(servers[system]);
      ports[system] = (await servers[system].next('listening')).port;
    }
    const plain = {};
    const cut = {};
    for (const system of SYSTEMS) {
      plain[system] = await open(system, 'p-');
      if (cutting) cut[system] = await open(system, 'c-', CUT);
    }
    const closedHow = { n, window: spec.window };
    const results = Object.fromEntries(SYSTEMS.map((s) => [s, []]));
    const cutResults = Object.fromEntries(SYSTEMS.map((s) => [s, []]));
    // A warm-up run of each client process, then the systems take turns (which goes first
    // alternating); with cuts, each run without cuts is paired with one with cuts, back to back
    // (which goes first alternating), so that the busy machine disturbs both alike.
    for (const system of SYSTEMS) {
      check(system, `${spec.name} warm-up`, await once(servers[system], plain[system], spec, closedHow));
      if (cutting) await once(servers[system], cut[system], spec, closedHow);
    }
    for (let run = 0; run < RUNS; run++) {
      for (const system of run % 2 ? [...SYSTEMS].reverse() : SYSTEMS) {
        const pair = cutting ? ['plain', 'cut'] : ['plain'];
        for (const kind of (run >> 1) % 2 ? pair.reverse() : pair) {
          const where = `${spec.name}${kind === 'cut' ? ' with cuts' : ''}, run ${run + 1}`;
          const result = check(
            system,
            where,
            await once(servers[system], (kind === 'cut' ? cut : plain)[system], spec, closedHow),
          );
          (kind === 'cut' ? cutResults : results)[system].push(result);
        }
      }
    }
    const closed = Object.fromEntries(SYSTEMS.map((s) => [s, summarize(results[s])]));
    const base = closed.socketio;
    for (const system of SYSTEMS) {
      const c = closed[system];
      const row = measuredRow(
        spec,
        `closed loop, window ${spec.window}, ${num(n)} msgs x ${RUNS}`,
        system,
        c,
        both ? [base] : [],
        `p99 ${num(c.p99s.min, 2)}-${num(c.p99s.max, 2)} ms; ${num(c.publishRate)} publishes/s acked; CPU per delivery: server ${num(c.server, 2)} us, clients ${num(c.client, 2)} us`,
      );
      if (system === 'ours' && both) {
        const rateRatio = c.rate.median / base.rate.median;
        const p99Ratio = c.p99 / base.p99;
        row.target = `>= ${TARGET}x, p99 <= 1x`;
        row.result = verdict(
          rateRatio >= TARGET && p99Ratio <= 1,
          `${spec.name}: ours at least ${TARGET}x socket.io's delivered msgs/s (${ratio(rateRatio)}) at an equal or lower p99 (${ratio(p99Ratio)}: ${num(c.p99, 2)} against ${num(base.p99, 2)} ms)`,
        );
      }
      if (parts.includes('closed')) rows.push(row);
    }

    // Cut: the same closed-loop runs with one subscriber behind the cutting proxy.
    if (cutting) {
      const cutStats = Object.fromEntries(SYSTEMS.map((s) => [s, summarize(cutResults[s])]));
      for (const system of SYSTEMS) {
        const c = cutStats[system];
        const list = cutResults[system];
        const total = (key) => list.reduce((sum, r) => sum + r.cut[key], 0);
        const expected = total('expected');
        const got = total('got');
        const dups = total('dups');
        const missing = total('missing');
        const stale = total('stale');
        const gaps = total('offsetGaps');
        const reconnects = total('reconnects');
        const recovered = total('recovered');
        const cuts = total('proxyCuts');
        // The others' rate with cuts over the rate of the run without cuts next to it.
        const keep = stats(list.map((r, i) => r.rate / results[system][i].rate));
        const exact = got === expected && dups === 0 && missing === 0 && stale === 0 && gaps === 0;
        const cutNote =
          `cut subscriber: ${num(got)} of ${num(expected)} in order, ${num(dups)} twice, ${num(missing)} missing` +
          (stale ? `, ${num(stale)} of an earlier run` : '') +
          (system === 'ours' ? `, ${gaps} position gaps` : '') +
          `; ${cuts} cuts, ${reconnects} reconnects` +
          (system === 'socketio' ? ` (${recovered} recovered their session)` : '') +
          `; its last message ${num(median(list.map((r) => r.cut.ms)))} ms after the first publish (the others' ${num(median(list.map((r) => r.ms)))} ms)`;
        const row = measuredRow(
          spec,
          `1 subscriber cut every ${CUT.cutAfterMs.join('-')} ms (others), ${num(n)} msgs x ${RUNS}`,
          system,
          c,
          both ? [cutStats.socketio] : [],
          `others: ${ratio(keep.median)} of their rate without cuts (median of ${keep.all.length} pairs, ${ratio(keep.min)}-${ratio(keep.max)}); ${cutNote}`,
        );
        if (system === 'ours') {
          if (!exact) wrongDelivery = true;
          row.target = 'exactly once; others >= 0.9x';
          row.result = verdict(
            exact && keep.median >= 0.9,
            `${spec.name} with cuts: ours' cut subscriber got every message exactly once in order (${num(got)} of ${num(expected)}, ${dups} twice, ${missing} missing, ${gaps} position gaps, over ${cuts} cuts), and the others kept their rate (${ratio(keep.median)} of the runs without cuts)`,
          );
        }
        rows.push(row);
      }
    }

    // Paced: both systems offered the same rate, half of what socket.io acknowledged closed-loop.
    if (parts.includes('paced')) {
      const reference = (base ?? closed.ours).publishRate;
      const rate = Math.max(spec.rooms, Math.round(reference * PACED_SHARE));
      const pacedN = Math.max(spec.rooms, Math.round((rate * PACED_MS) / 1000 / spec.rooms) * spec.rooms);
      const paced = Object.fromEntries(SYSTEMS.map((s) => [s, []]));
      for (let run = 0; run < 2; run++) {
        for (const system of run % 2 ? [...SYSTEMS].reverse() : SYSTEMS) {
          const result = await once(servers[system], plain[system], spec, { n: pacedN, rate });
          paced[system].push(check(system, `${spec.name} paced run ${run + 1}`, result));
        }
      }
      const p = Object.fromEntries(SYSTEMS.map((s) => [s, summarize(paced[s])]));
      for (const system of SYSTEMS) {
        const c = p[system];
        rows.push(
          measuredRow(
            spec,
            `paced, ${num(rate)} publishes/s (${PACED_SHARE}x socket.io's), ${num(pacedN)} msgs x 2`,
            system,
            c,
            both ? [p.socketio] : [],
            `CPU per delivery: server ${num(c.server, 2)} us, clients ${num(c.client, 2)} us`,
          ),
        );
      }
    }
  } finally {
    await Promise.all(opened.map((c) => c.stop()));
  }
}

// ---------------------------------------------------------------------------------------------
// Many processes on Redis (issue 18): two server processes per system on one redis-server that
// this starts (no persistence), each system's subscribers spread over both, one publisher per
// server; then redis-benchmark against the same Redis as the engine's ceiling.

const REDIS = {
  id: 'redis',
  name: '100 rooms x 10 subscribers, 2 servers on 1 Redis',
  rooms: 100,
  subs: 10,
  n: 10_000,
  window: 1_280,
  servers: 2,
};
const REDIS_SYSTEMS = ['ours-redis', 'socketio-redis', 'socketio-streams'].filter(
  (s) => !CHOSEN_SYSTEMS || CHOSEN_SYSTEMS.includes(s) || CHOSEN_SYSTEMS.includes(s.split('-')[0]),
);
// redis-benchmark: 50 connections, 16 commands pipelined on each (800 in flight; our window is
// 1,280 publishes over two servers), 64 B payloads like the messages.
const CEILING_CLIENTS = 50;
const CEILING_PIPELINE = 16;
/**
 * The engine's stored publishes/s at least this share of its ceiling: redis-benchmark's XADD and
 * PUBLISH, one of each per message (a publish of the issue's design is both), 1 / (1/XADD + 1/PUBLISH).
 */
const CEILING_TARGET = 0.5;
const PUBLISH_ONLY_N = 20_000;
const PUBLISH_ONLY_RUNS = 3;
/** The engine alone (bench/rooms/engine.mjs): as redis-benchmark, 800 in flight over 100 rooms. */
const ENGINE_N = 100_000;
const ENGINE_RUNS = 5;
let aloneNote = '';
let engineNote = '';

async function freePort() {
  const server = createNetServer();
  server.listen(0, '127.0.0.1');
  await onceEvent(server, 'listening');
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * A redis-server of the bench's own, as spec/fixtures/redisServer.ts starts one: a free port of
 * 127.0.0.1, settings on the command line (no config file), no persistence, a data directory of
 * its own; stopped by its PID.
 */
async function startRedis() {
  if (!existsSync('/usr/bin/redis-server')) throw new Error('/usr/bin/redis-server not found (Debian: redis-server)');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bench-rooms-redis-'));
  const child = spawn(
    '/usr/bin/redis-server',
    [
      ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
      ...['--daemonize', 'no', '--protected-mode', 'yes'],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', stop);
  let output = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${output}`)), 10_000);
    child.stdout.on('data', (chunk) => {
      output += String(chunk);
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}: ${output}`));
    });
    child.once('error', reject);
  }).catch((error) => {
    stop();
    throw error;
  });
  child.stdout.resume();
  child.stderr.resume();
  const version =
    /version=([\d.]+)/.exec(output)?.[1] ?? execFileSync('/usr/bin/redis-server', ['--version'], { encoding: 'utf8' });
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid,
    version,
    /** Its CPU time so far, user + system, from /proc (in clock ticks: 10 ms steps). */
    cpuUs() {
      try {
        const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS;
      } catch {
        return NaN;
      }
    },
    cli: (...args) =>
      execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8' }).trim(),
    stop() {
      process.off('exit', stop);
      stop();
    },
  };
}

/** requests per second of one redis-benchmark command against `redis` (the best of `tries`). */
function redisBenchmark(redis, n, command, { random, tries = 2 } = {}) {
  let best = NaN;
  for (let i = 0; i < tries; i++) {
    const output = execFileSync(
      'redis-benchmark',
      [
        ...['-h', '127.0.0.1', '-p', String(redis.port), '-c', String(CEILING_CLIENTS), '-n', String(n)],
        ...['-P', String(CEILING_PIPELINE), '-q', ...(random ? ['-r', String(random)] : []), ...command],
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    const rates = [...output.matchAll(/([\d.]+) requests per second/g)].map((m) => Number(m[1]));
    if (rates.length === 0) throw new Error(`redis-benchmark ${command[0]}: no rate in ${JSON.stringify(output)}`);
    best = Number.isNaN(best) ? rates.at(-1) : Math.max(best, rates.at(-1));
  }
  return best;
}

/** redis-benchmark's XADD: 64 B into one of 100 streams (`-r 100`), as our engine stores a message. */
const XADD_COMMAND = ['XADD', 'bench:{__rand_int__}:log', 'MAXLEN', '10000', '*', 'k', 't', 'd', 'x'.repeat(64)];
/** redis-benchmark's PUBLISH: 64 B, no subscriber (the cheapest a nudge can be). */
const PUBLISH_COMMAND = ['PUBLISH', 'bench:ch', 'x'.repeat(64)];
/** Requests/s of one XADD and one PUBLISH per message, on one Redis thread: their times add. */
const pairRate = (xadd, publish) => 1 / (1 / xadd + 1 / publish);

/**
 * The ceilings: PUBLISH and XADD, one 64 B command each as redis-benchmark sends them, and the
 * publish script of redisRooms() as the engine runs it (EVALSHA, one room, a new id each time),
 * read from the build measured; the keys are flushed after.
 */
function ceilings(redis) {
  const payload = 'x'.repeat(64);
  const result = [];
  const add = (command, what, rps) => result.push({ command, what, rps });
  try {
    execFileSync('redis-benchmark', ['--version'], { stdio: 'ignore' });
  } catch {
    problems.push('no redis-benchmark (Debian: redis-tools): no ceiling');
    return result;
  }
  const publish = redisBenchmark(redis, 200_000, PUBLISH_COMMAND);
  const xadd = redisBenchmark(redis, 200_000, XADD_COMMAND, { random: 100 });
  add('PUBLISH', 'PUBLISH bench:ch <64 B> (no subscriber)', publish);
  add('XADD', 'XADD bench:{room}:log MAXLEN 10000 * k t d <64 B> (100 streams)', xadd);
  add('PAIR', 'XADD + PUBLISH, one of each per message: 1 / (1/XADD + 1/PUBLISH)', pairRate(xadd, publish));
  try {
    const source = readFileSync(
      join(snap.root, 'node_modules', 'rx-websocket-peer', 'dist', 'esm', 'rooms', 'redisRooms.js'),
      'utf8',
    );
    const script = /const PUBLISH_SCRIPT = `([\s\S]*?)`;/.exec(source)?.[1];
    if (script === undefined) throw new Error('no PUBLISH_SCRIPT in dist/esm/rooms/redisRooms.js');
    const sha = redis.cli('SCRIPT', 'LOAD', script);
    // KEYS log, ids, ids before; ARGV epoch, history size, age, channel, ids kept, the packed
    // messages (`t<length>:<data>` each), then the id of each (one publish here: the engine
    // stores a room's waiting publishes in one call).
    const base = 'bench:{script-room}';
    const command = (id) => [
      ...['EVALSHA', sha, '3', `${base}:log`, `${base}:ids`, `${base}:ids-before`],
      ...['e1', '10000', '300000', `${base}:ch`, '10000', `t${payload.length}:${payload}`, id],
    ];
    // The script's arguments as this bench knows them: a first publish must be stored at offset 1.
    const first = redis.cli(...command('probe')).split('\n');
    if (first.length !== 2 || first[0] !== 'e1' || first[1] !== '1') {
      throw new Error(
        `the publish script answered ${JSON.stringify(first)} to the arguments this bench gives it (update ceilings() in bench/rooms.mjs)`,
      );
    }
    add(
      'EVALSHA',
      "EVALSHA <redisRooms()'s publish script> (1 room, a new id each)",
      redisBenchmark(redis, 100_000, command('id-__rand_int__'), { random: 1_000_000_000 }),
    );
  } catch (error) {
    problems.push(`redis-benchmark of the publish script: ${error.message}`);
  }
  redis.cli('FLUSHALL');
  return result;
}

const ceilingRows = [];

async function redisScenario(spec) {
  const n = Math.max(spec.rooms, Math.round((spec.n * SCALE) / spec.rooms) * spec.rooms);
  const systems = REDIS_SYSTEMS;
  const opened = [];
  let redis;
  try {
    redis = await startRedis();
    redisInfo = `redis-server ${redis.version}, started by the bench on 127.0.0.1:${redis.port} (no persistence)`;
    const ceiling = ceilings(redis);
    const servers = {};
    const clients = {};
    for (const system of systems) {
      servers[system] = [];
      for (let index = 0; index < spec.servers; index++) {
        const server = start('server.mjs', { impl: system, index, redisUrl: redis.url }, [
          '--expose-gc',
          ...RECEIVER_FLAGS,
        ]);
        opened.push(server);
        servers[system].push(server);
      }
    }
    const ports = {};
    for (const system of systems) {
      ports[system] = [];
      for (const server of servers[system]) ports[system].push((await server.next('listening')).port);
    }
    for (const system of systems) {
      const options = { impl: system, ports: ports[system], rooms: spec.rooms, subs: spec.subs, prefix: 'r-' };
      clients[system] = start('clients.mjs', options, ['--expose-gc', ...CHILD_FLAGS]);
      opened.push(clients[system]);
      await clients[system].next('ready');
      clients[system].send({ type: 'sync' });
      await clients[system].next('synced');
    }
    const how = { n, window: spec.window };
    const results = Object.fromEntries(systems.map((s) => [s, []]));
    for (const system of systems) {
      check(system, `${spec.name} warm-up`, await once(servers[system], clients[system], spec, how, redis));
    }
    // The systems take turns, the first one rotating.
    for (let run = 0; run < RUNS; run++) {
      const order = systems.map((_, i) => systems[(i + run) % systems.length]);
      for (const system of order) {
        const result = await once(servers[system], clients[system], spec, how, redis);
        results[system].push(check(system, `${spec.name}, run ${run + 1}`, result));
      }
    }
    const closed = Object.fromEntries(systems.map((s) => [s, summarize(results[s])]));
    const bases = systems.filter((s) => !isOurs(s));
    for (const system of systems) {
      const c = closed[system];
      const row = measuredRow(
        spec,
        `closed loop, window ${spec.window}, ${num(n)} msgs x ${RUNS}`,
        system,
        c,
        isOurs(system) ? bases.map((b) => closed[b]) : [],
        `p99 ${num(c.p99s.min, 2)}-${num(c.p99s.max, 2)} ms; ${num(c.publishRate)} publishes/s acked; CPU per delivery: servers ${num(c.server, 2)} us (both), clients ${num(c.client, 2)} us, redis-server ${num(c.redis, 2)} us`,
      );
      if (isOurs(system) && bases.length) {
        row.target = `>= ${TARGET}x, p99 <= 1x`;
        row.result = bases
          .map((base) => {
            const rateRatio = c.rate.median / closed[base].rate.median;
            const p99Ratio = c.p99 / closed[base].p99;
            return verdict(
              rateRatio >= TARGET && p99Ratio <= 1,
              `${spec.name}: ours at least ${TARGET}x ${LABEL[base]}'s delivered msgs/s (${ratio(rateRatio)}) at an equal or lower p99 (${ratio(p99Ratio)}: ${num(c.p99, 2)} against ${num(closed[base].p99, 2)} ms)`,
            );
          })
          .join(' / ');
      }
      rows.push(row);
    }
    const ours = closed['ours-redis'];
    // Publish only: the same servers, a client process with the two publishers and no subscriber
    // (no room read: what the engine stores, without the fan-out on the same cores).
    let alone;
    if (ours) {
      const publishers = start(
        'clients.mjs',
        { impl: 'ours-redis', ports: ports['ours-redis'], rooms: spec.rooms, subs: 0, prefix: 'p-' },
        ['--expose-gc', ...CHILD_FLAGS],
      );
      opened.push(publishers);
      await publishers.next('ready');
      publishers.send({ type: 'sync' });
      await publishers.next('synced');
      // (subs 1: the CPU "per delivery" of these runs is per publish.)
      const perPublish = { ...spec, subs: 1 };
      const aloneHow = { n: PUBLISH_ONLY_N, window: spec.window };
      await once(servers['ours-redis'], publishers, perPublish, aloneHow, redis);
      const list = [];
      for (let run = 0; run < PUBLISH_ONLY_RUNS; run++) {
        list.push(await once(servers['ours-redis'], publishers, perPublish, aloneHow, redis));
      }
      alone = summarize(list);
      aloneNote = `publish only: ${PUBLISH_ONLY_RUNS} runs of ${num(PUBLISH_ONLY_N)} publishes (window ${spec.window}) through the two servers with no subscriber, after the others; CPU per publish: servers ${num(alone.server, 2)} us (both), publishers ${num(alone.client, 2)} us, redis-server ${num(alone.redis, 2)} us`;
    }
    // The engine alone: redisRooms() publishing straight into Redis from one process, in
    // redis-benchmark's shape (800 in flight, 64 B, 100 rooms): the engine against its ceiling.
    let engine;
    if (ours) {
      const publisher = start('engine.mjs', { impl: 'ours-redis', redisUrl: redis.url }, [
        '--expose-gc',
        ...CHILD_FLAGS,
      ]);
      opened.push(publisher);
      await publisher.next('ready');
      const shape = {
        type: 'run',
        n: ENGINE_N,
        rooms: spec.rooms,
        window: CEILING_CLIENTS * CEILING_PIPELINE,
        size: 64,
      };
      publisher.send({ ...shape, n: ENGINE_N / 5 });
      await publisher.next('done');
      // Each run right after ceilings of its own: on a shared machine the rates swing by a third
      // within minutes, so only a ceiling measured next to the run compares with it.
      const measured = ceiling.some((c) => c.command === 'PAIR');
      const list = [];
      for (let run = 0; run < ENGINE_RUNS; run++) {
        const xadd = measured ? redisBenchmark(redis, 100_000, XADD_COMMAND, { random: 100, tries: 1 }) : NaN;
        const publish = measured ? redisBenchmark(redis, 100_000, PUBLISH_COMMAND, { tries: 1 }) : NaN;
        redis.cli('FLUSHALL');
        const redisBefore = redis.cpuUs();
        publisher.send(shape);
        const { ms, cpuUs } = await publisher.next('done');
        const rate = (ENGINE_N * 1000) / ms;
        const pair = pairRate(xadd, publish);
        list.push({
          rate,
          XADD: xadd,
          PUBLISH: publish,
          PAIR: pair,
          share: { XADD: rate / xadd, PUBLISH: rate / publish, PAIR: rate / pair },
          node: cpuUs / ENGINE_N,
          redis: (redis.cpuUs() - redisBefore) / ENGINE_N,
        });
      }
      const of = (get) => median(list.map(get));
      engine = {
        rate: of((r) => r.rate),
        /** Per ceiling: the median of its rates next to the runs, and of the runs' shares of it. */
        next: Object.fromEntries(
          ['XADD', 'PUBLISH', 'PAIR'].map((c) => [c, { rps: of((r) => r[c]), share: of((r) => r.share[c]) }]),
        ),
      };
      engineNote = `engine alone: redisRooms() in one process (bench/rooms/engine.mjs), ${ENGINE_RUNS} runs of ${num(ENGINE_N)} publishes of 64 B under ids of their own, ${shape.window} in flight over ${spec.rooms} rooms (redis-benchmark's shape), no subscriber, each run right after a redis-benchmark XADD and PUBLISH of its own: ${list.map((r) => `${num(r.rate)} against ${num(r.PAIR)} (${ratio(r.share.PAIR)}; XADD ${num(r.XADD)}, ${ratio(r.share.XADD)})`).join(', ')}; CPU per publish: the process ${num(
        of((r) => r.node),
        2,
      )} us, redis-server ${num(
        of((r) => r.redis),
        2,
      )} us`;
    }
    for (const { command, what, rps } of ceiling) {
      // XADD, PUBLISH and their pair: the ceilings measured next to each engine run, and the
      // median of the runs' shares.
      const next = engine?.next[command];
      const paired = next !== undefined && !Number.isNaN(next.share);
      const share = paired ? next.share : engine ? engine.rate / rps : NaN;
      const row = {
        command: paired ? `${what}, next to each engine run` : what,
        rps: num(paired ? next.rps : rps),
        engine: engine ? num(engine.rate) : '-',
        share: ratio(share),
        alone: alone ? num(alone.publishRate) : '-',
        shareAlone: ratio(alone ? alone.publishRate / rps : NaN),
        ours: ours ? num(ours.publishRate) : '-',
        share10: ratio(ours ? ours.publishRate / rps : NaN),
      };
      if (command === 'PAIR' && engine) {
        row.target = `>= ${CEILING_TARGET}x`;
        row.result = verdict(
          share >= CEILING_TARGET,
          `${spec.name}: the engine's stored publishes/s within ${1 / CEILING_TARGET}x of its ceiling, redis-benchmark's XADD and PUBLISH (one of each per message) measured next to each run (median share ${ratio(share)}; ${num(engine.rate)} of ${num(next.rps)}; of XADD alone ${ratio(engine.next.XADD.share)})`,
        );
      }
      ceilingRows.push(row);
    }
  } finally {
    await Promise.all(opened.map((c) => c.stop()));
    redis?.stop();
  }
}

let redisInfo = '';

// ---------------------------------------------------------------------------------------------

const known = [...SCENARIOS.map((s) => s.id), REDIS.id, ...PARTS];
const unknown = ONLY?.filter((key) => !known.includes(key));
if (unknown?.length) {
  console.error(`BENCH_ONLY: no case ${unknown.join(', ')}; the cases are ${known.join(', ')}`);
  process.exit(2);
}
const named = ONLY?.some((o) => o === REDIS.id || SCENARIOS.some((s) => s.id === o));
const chosen = [...SCENARIOS, REDIS].filter((s) => !named || ONLY.includes(s.id));

const t0 = performance.now();
const snap = snapshot({
  dist: process.env.BENCH_DIST,
  dependencies: ['rxjs', 'ws', 'bufferutil', 'socket.io', 'socket.io-client', 'redis', '@socket.io'],
  dirs: ['memory', 'rooms'],
  exports: ['serveRooms', 'roomClient'],
  files: ['demo/cuttingProxy.mjs'],
});
process.on('exit', () => {
  for (const c of children) c.kill();
  rmSync(snap.root, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));

let revision = '';
try {
  const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repo, encoding: 'utf8' }).trim();
  const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: repo, encoding: 'utf8' })
    .trim()
    .split('\n')
    .filter(Boolean).length;
  revision = `; HEAD ${head}${dirty ? ` + ${dirty} uncommitted file(s) in src/` : ''}`;
} catch {}
console.log(`measuring ${snap.dist} as built at ${snap.builtAt.toISOString()}${revision}`);
console.log(
  `node ${process.version}; ws ${requireFromRepo('ws/package.json').version}; socket.io ${requireFromRepo('socket.io/package.json').version}, socket.io-client ${requireFromRepo('socket.io-client/package.json').version}; ` +
    `per scenario and system a server process and client processes on 127.0.0.1; 64 B messages; warm-up + ${RUNS} closed-loop runs per system, each beside one with cuts, taking turns; median (min-max)`,
);
const custom = [
  'BENCH_RUNS',
  'BENCH_SCALE',
  'BENCH_ONLY',
  'BENCH_CHILD_FLAGS',
  'BENCH_RECEIVER_FLAGS',
  'BENCH_SYSTEMS',
  'BENCH_DIST',
].filter((k) => process.env[k]);
if (custom.length) console.log(`NOT THE DEFAULT RUN: ${custom.map((k) => `${k}=${process.env[k]}`).join(' ')}`);
if (chosen.includes(REDIS)) {
  const version = (name) => {
    try {
      return requireFromRepo(`${name}/package.json`).version;
    } catch {
      return 'missing';
    }
  };
  console.log(
    `on Redis: redis ${version('redis')}, @socket.io/redis-adapter ${version('@socket.io/redis-adapter')}, @socket.io/redis-streams-adapter ${version('@socket.io/redis-streams-adapter')}; ${REDIS.servers} server processes per system on one redis-server (started by the bench), each system's subscribers spread over them`,
  );
}
console.log('');

let harnessFailed = false;
for (const spec of chosen) {
  const started = performance.now();
  process.stdout.write(`${spec.name} ... `);
  try {
    if (spec === REDIS && !existsSync('/usr/bin/redis-server')) {
      console.log('skipped: no /usr/bin/redis-server (Debian: apt-get install redis-server)');
      problems.push(`${spec.name}: skipped, no /usr/bin/redis-server`);
      continue;
    }
    if (spec === REDIS) await redisScenario(spec);
    else await scenario(spec);
    console.log(`${((performance.now() - started) / 1000).toFixed(1)} s`);
  } catch (error) {
    harnessFailed = true;
    console.log(`failed: ${error.message}`);
    problems.push(`${spec.name}: ${error.message}`);
    for (const c of children) c.kill();
  }
}

console.log(
  `\n${table(rows, {
    scenario: 'scenario',
    mode: 'mode',
    system: 'system',
    rate: 'delivered msgs/s',
    range: 'min-max',
    vs: 'vs socket.io',
    p50: 'p50 ms',
    p99: 'p99 ms',
    p99vs: 'p99 vs socket.io',
    target: 'target',
    result: 'result',
    note: 'note',
  })}\n`,
);
if (ceilingRows.length) {
  console.log(
    `Redis's ceiling: redis-benchmark -c ${CEILING_CLIENTS} -P ${CEILING_PIPELINE}, 64 B payloads, on the same redis-server (${redisInfo}) before the runs; ours: publishes stored (acknowledged) per second (medians): the engine alone, through the two servers with no subscriber, and in the closed loop above\n`,
  );
  if (engineNote) console.log(`${engineNote}\n`);
  if (aloneNote) console.log(`${aloneNote}\n`);
  console.log(
    `${table(ceilingRows, {
      command: 'redis-benchmark',
      rps: 'requests/s',
      engine: 'engine alone, publishes/s',
      share: 'engine / it',
      alone: 'through 2 servers, publish only',
      shareAlone: 'that / it',
      ours: 'ours publishes/s, 10 deliveries each',
      share10: 'that / it',
      target: 'target',
      result: 'result',
    })}\n`,
  );
}
const passed = summary.filter((s) => s.pass).length;
for (const s of summary) console.log(`${s.pass ? 'PASS' : 'FAIL'}  ${s.what}`);
if (problems.length) console.log(`\nproblems:\n  ${problems.join('\n  ')}`);
console.log(
  `\ntotal ${((performance.now() - t0) / 1000).toFixed(1)} s; targets: ${passed}/${summary.length} met (informative)` +
    (wrongDelivery ? '; OURS DELIVERED WRONGLY (exit code 1)' : ''),
);
process.exitCode = harnessFailed || wrongDelivery ? 1 : 0;
