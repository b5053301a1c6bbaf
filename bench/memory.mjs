// npm run bench:memory — peak RSS of each side of a large transfer, each side in its own process.
//
// The parent (this file) runs the cases one after the other. For each case it forks the reader
// (bench/memory/reader.mjs, a listen() server) and, once the reader says which port it listens
// on, the sender (bench/memory/sender.mjs). Each child reads its own idle RSS (VmRSS, once the
// connection is open and just before the work starts; VmHWM is reset there) and its peak (VmHWM
// at the end) from /proc/self/status, and reports them over IPC with the byte count and the
// sha256 digest of the stream. The parent checks both digests against the one it computes
// itself, watches each child's RSS (killing it past a cap), enforces a time limit per case, and
// prints a table with PASS/FAIL for the bounded cases. Exit code 1 if any bounded case fails.
import { execFileSync, fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chunk, KiB, MiB } from './memory/common.mjs';
import { snapshot } from './snapshot.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = dirname(here);
const SIZE = 64 * KiB;
const BOUND_MIB = 64;
// A child whose RSS passes the cap is killed and reported as '>2 GiB'; a case that takes longer
// than its time limit has its children killed. (BENCH_CAP_MIB, BENCH_TIMEOUT_MS: to test those paths.)
const CAP_KIB = Number(process.env.BENCH_CAP_MIB || 2048) * 1024;
const CAP_TEXT = CAP_KIB % (1024 * 1024) === 0 ? `${CAP_KIB / 1024 / 1024} GiB` : `${CAP_KIB / 1024} MiB`;
const OURS_TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS || 60_000);
const CONTRAST_TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS || 60_000);

const cases = [
  {
    id: '1',
    name: 'sendAll(generator) -> slow reader',
    sender: { mode: 'sendAll', count: 8192 },
    reader: { mode: 'slow', delayMs: 5000 },
    measured: 'sender',
    bounded: true,
  },
  {
    id: '2',
    name: 'paced source -> backpressure() -> sink',
    sender: { mode: 'backpressure', count: 8192, window: 4 },
    reader: { mode: 'slow', delayMs: 5000 },
    measured: 'sender',
    bounded: true,
  },
  {
    id: '2b',
    name: 'setImmediate source -> backpressure() (info)',
    sender: { mode: 'backpressure-free', count: 8192 },
    reader: { mode: 'slow', delayMs: 5000 },
    measured: 'sender',
    bounded: false,
  },
  {
    // The default inbound queue (2 MiB, 4,096 packets). The reader holds what waits in the queue
    // (32 packets here) and the garbage of the packets it has handled: each 64 KiB packet comes
    // with two 64 KiB ArrayBuffers (the socket read and the message ws assembles across two
    // reads). V8 frees young ones at its next scavenge, which it runs about every 32 MiB of new
    // ArrayBuffers ('external memory pressure' in --trace-gc; whatever --max-semi-space-size
    // says): that 32 MiB is the floor of this case, however small the queue.
    id: '3',
    name: 'consumePackets(1 ms each) <- sendAll, default queue',
    sender: { mode: 'sendAll', count: 4096 },
    reader: { mode: 'throttled', handlerDelayMs: 1 },
    measured: 'reader',
    bounded: true,
  },
  {
    // The old default, 16 MiB: a packet then waits about as long as V8 takes between two
    // scavenges, survives two, and is promoted to old space, where its buffers wait for a
    // mark-compact; V8 starts one when external memory has grown by about 64 MiB since the last.
    // What `maxQueuedBytes: 16 MiB` costs a receiver; shown, not judged.
    id: '3b',
    name: 'consumePackets(1 ms each) <- sendAll, maxQueuedBytes 16 MiB (info)',
    sender: { mode: 'sendAll', count: 4096 },
    reader: { mode: 'throttled', handlerDelayMs: 1, maxQueuedBytes: 16 * MiB },
    measured: 'reader',
    bounded: false,
  },
  {
    id: '4a',
    name: 'contrast: raw ws.send() loop -> slow reader',
    sender: { mode: 'raw-ws', count: 8192 },
    reader: { mode: 'slow', delayMs: 5000 },
    measured: 'sender',
    bounded: false,
  },
  {
    id: '4b',
    name: 'contrast: rxjs webSocket().next() loop -> slow reader',
    sender: { mode: 'rxjs-webSocket', count: 8192 },
    reader: { mode: 'slow', delayMs: 5000 },
    measured: 'sender',
    bounded: false,
  },
];

// For investigation, not for the verdict: BENCH_CASES=3,4a runs only those cases;
// BENCH_CHILD_FLAGS='--trace-gc' passes V8/Node flags to the children; BENCH_READER='{"maxQueuedBytes":2097152}'
// and BENCH_SENDER='{...}' merge options into every case's reader/sender (see the child scripts).
// BENCH_DIST=/some/dist measures another build of the package (a patched copy, say).
const only = process.env.BENCH_CASES?.split(',').map((id) => id.trim());
const childFlags = process.env.BENCH_CHILD_FLAGS?.split(' ').filter(Boolean) ?? [];
const readerExtra = JSON.parse(process.env.BENCH_READER || '{}');
const senderExtra = JSON.parse(process.env.BENCH_SENDER || '{}');

const mib = (kib) => kib / 1024;
const fmt = (kib) => (kib === undefined ? '?' : mib(kib).toFixed(1));
const bytesMiB = (bytes) => (bytes === undefined ? '?' : (bytes / MiB).toFixed(1));

function rssKiB(pid) {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined; // gone
  }
}

/** The digests of the first 4096 and of all 8192 chunks, made here independently of the children. */
function expectedDigests() {
  const hash = createHash('sha256');
  const digests = {};
  for (let i = 0; i < 8192; i++) {
    hash.update(chunk(i, SIZE));
    if (i + 1 === 4096) digests[4096] = hash.copy().digest('hex');
  }
  digests[8192] = hash.digest('hex');
  return digests;
}

/** Forks one side; resolves its report (result, error, killed) once it has ended. */
function startChild(role, options, state) {
  const child = fork(join(snap.root, 'bench', 'memory', `${role}.mjs`), [JSON.stringify(options)], {
    execPath: process.execPath,
    cwd: snap.root,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: childFlags,
  });
  const side = { child, report: undefined, maxSampledKiB: 0, capped: false, listening: undefined };
  side.listening = new Promise((resolve) => {
    child.on('message', (message) => {
      if (message.type === 'listening') resolve(message.port);
      else side.report = message;
    });
    child.on('exit', () => resolve(undefined));
  });
  side.ended = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      side.exit = { code, signal };
      resolve(side);
    });
  });
  state.sides.push(side);
  return side;
}

function kill(side) {
  if (side && side.exit === undefined && side.child.exitCode === null) {
    try {
      process.kill(side.child.pid, 'SIGKILL');
    } catch {}
  }
}

let current; // the running case's children, for the signal handler below

async function runCase(spec) {
  const state = { sides: [] };
  current = state;
  const timeoutMs = spec.bounded ? OURS_TIMEOUT_MS : CONTRAST_TIMEOUT_MS;
  const started = performance.now();
  let timedOut = false;
  const monitor = setInterval(() => {
    for (const side of state.sides) {
      if (side.exit !== undefined) continue;
      const rss = rssKiB(side.child.pid);
      if (rss === undefined) continue;
      side.maxSampledKiB = Math.max(side.maxSampledKiB, rss);
      if (rss > CAP_KIB) {
        side.capped = true;
        kill(side);
        // Its partner cannot finish without it.
        for (const other of state.sides) if (other !== side) setTimeout(() => kill(other), 200);
      }
    }
  }, 25);
  const timer = setTimeout(() => {
    timedOut = true;
    for (const side of state.sides) kill(side);
  }, timeoutMs);

  try {
    const reader = startChild('reader', { ...spec.reader, ...readerExtra }, state);
    const port = await reader.listening;
    let sender;
    if (port !== undefined) {
      sender = startChild('sender', { ...spec.sender, size: SIZE, port, ...senderExtra }, state);
      // If one side fails, the other may wait forever: end it too.
      for (const [a, b] of [
        [reader, sender],
        [sender, reader],
      ]) {
        a.ended.then(() => {
          if (a.report?.type !== 'result') setTimeout(() => kill(b), 1000);
        });
      }
    }
    await Promise.all(state.sides.map((side) => side.ended));
    return { spec, reader, sender, timedOut, seconds: (performance.now() - started) / 1000 };
  } finally {
    clearInterval(monitor);
    clearTimeout(timer);
    for (const side of state.sides) kill(side);
  }
}

function describeSide(side) {
  if (!side) return { ok: false, text: 'not started' };
  const report = side.report;
  if (side.capped) return { ok: false, text: `killed: RSS passed ${CAP_TEXT}`, over: true };
  if (report?.type === 'result') return { ok: true, report };
  if (report?.type === 'error') return { ok: false, text: `error: ${report.message}`, report };
  return { ok: false, text: `exited ${side.exit?.code ?? side.exit?.signal} without a result` };
}

function evaluate(run, digests) {
  const { spec, reader, sender, timedOut } = run;
  const measuredSide = spec.measured === 'sender' ? sender : reader;
  const m = describeSide(measuredSide);
  const r = describeSide(reader);
  const s = describeSide(sender);
  const expectedBytes = spec.sender.count * SIZE;
  const expected = digests[spec.sender.count];
  const bytesOk =
    r.ok &&
    s.ok &&
    r.report.bytes === expectedBytes &&
    r.report.packets === spec.sender.count &&
    s.report.bytes === expectedBytes;
  const digestOk = r.ok && s.ok && r.report.digest === s.report.digest && s.report.digest === expected;
  const row = {
    case: spec.id,
    side: spec.measured,
    idle: m.ok ? fmt(m.report.idleKiB) : '-',
    peak: m.ok ? fmt(m.report.peakKiB) : m.over ? `>${CAP_KIB / 1024}` : '-',
    delta: m.ok ? fmt(m.report.peakKiB - m.report.idleKiB) : m.over ? `>${CAP_TEXT} (RSS)` : '-',
    bytesOk: bytesOk ? 'yes' : 'NO',
    digestOk: digestOk ? 'yes' : 'NO',
    bound: spec.bounded ? `<= ${BOUND_MIB} MiB` : spec.id.startsWith('4') ? 'none (contrast)' : 'none (info)',
    result: '',
  };
  const problems = [];
  if (timedOut) problems.push('timed out');
  if (!m.ok) problems.push(`${spec.measured}: ${m.text}`);
  if (!r.ok && spec.measured !== 'reader') problems.push(`reader: ${r.text}`);
  if (!s.ok && spec.measured !== 'sender') problems.push(`sender: ${s.text}`);
  if (spec.bounded) {
    const within = m.ok && (m.report.peakKiB - m.report.idleKiB) / 1024 <= BOUND_MIB;
    if (m.ok && !within) problems.push(`peak-idle ${fmt(m.report.peakKiB - m.report.idleKiB)} MiB > ${BOUND_MIB} MiB`);
    if (!bytesOk) problems.push('bytes/packets do not match');
    if (!digestOk) problems.push('digest mismatch');
    if (s.ok && s.report.sendError) problems.push(`send error: ${s.report.sendError}`);
    row.result = within && bytesOk && digestOk && !timedOut && !(s.ok && s.report.sendError) ? 'PASS' : 'FAIL';
  } else {
    const code = s.ok && s.report.sendError ? s.report.sendError.split(':')[0] : '';
    row.result = m.over ? `>${CAP_TEXT}` : !m.ok ? 'failed' : code ? `ended: ${code}` : 'done';
  }
  return { row, problems, r, s };
}

function table(rows) {
  const headers = {
    case: 'case',
    side: 'side measured',
    idle: 'idle MiB',
    peak: 'peak MiB',
    delta: 'peak-idle MiB',
    bytesOk: 'bytes ok',
    digestOk: 'digest ok',
    bound: 'bound',
    result: 'result',
  };
  const keys = Object.keys(headers);
  const width = Object.fromEntries(
    keys.map((k) => [k, Math.max(headers[k].length, ...rows.map((row) => String(row[k]).length))]),
  );
  const line = (row) => keys.map((k) => String(row[k]).padEnd(width[k])).join(' | ');
  return [line(headers), keys.map((k) => '-'.repeat(width[k])).join('-|-'), ...rows.map(line)].join('\n');
}

function details(run, evaluation) {
  const { spec, seconds } = run;
  const { r, s, problems } = evaluation;
  const lines = [`case ${spec.id}: ${spec.name} (${seconds.toFixed(1)} s)`];
  const mem = (report) =>
    report?.memory
      ? `max heapUsed ${bytesMiB(report.memory.heapUsed)} MiB, max arrayBuffers ${bytesMiB(report.memory.arrayBuffers)} MiB (sampled every 20 ms)`
      : '';
  for (const [role, side, d] of [
    ['sender', run.sender, s],
    ['reader', run.reader, r],
  ]) {
    if (!side) continue;
    const sampled = `parent saw RSS up to ${fmt(side.maxSampledKiB)} MiB`;
    if (!d.ok) {
      lines.push(`  ${role}: ${d.text}; ${sampled}`);
      continue;
    }
    const rep = d.report;
    const parts = [
      `idle ${fmt(rep.idleKiB)} MiB, peak ${fmt(rep.peakKiB)} MiB (+${fmt(rep.peakKiB - rep.idleKiB)})${rep.hwmReset ? '' : ' [VmHWM not reset: peak covers startup]'}`,
      `${rep.packets} packets, ${bytesMiB(rep.bytes)} MiB in ${(rep.ms / 1000).toFixed(1)} s`,
    ];
    if (rep.maxBuffered !== undefined) parts.push(`max bufferedAmount ${bytesMiB(rep.maxBuffered)} MiB`);
    if (rep.mode?.startsWith('backpressure'))
      parts.push(`max held by backpressure() ${rep.maxHeld} values (${bytesMiB(rep.maxHeldBytes)} MiB)`);
    if (rep.maxWaiting !== undefined) parts.push(`max packets waiting in the peer ${rep.maxWaiting}`);
    if (rep.maxGapMs !== undefined) parts.push(`longest gap between packets ${rep.maxGapMs} ms`);
    if (rep.readMs !== undefined && spec.reader.mode === 'slow')
      parts.push(`read for ${(rep.readMs / 1000).toFixed(1)} s after the delay`);
    if (rep.close) parts.push(`close ${rep.close.code}${rep.close.wasClean === false ? ' (not clean)' : ''}`);
    if (rep.ctor) parts.push(`WebSocketCtor: ${rep.ctor}`);
    if (rep.sendError) parts.push(`send error: ${rep.sendError}`);
    lines.push(`  ${role}: ${parts.join('; ')}`);
    lines.push(`  ${' '.repeat(role.length)}  ${mem(rep)}; ${sampled}`);
  }
  if (problems.length) lines.push(`  problems: ${problems.join('; ')}`);
  return lines.join('\n');
}

const t0 = performance.now();
const snap = snapshot({
  dist: process.env.BENCH_DIST,
  dependencies: ['rxjs', 'ws'],
  dirs: ['memory'],
  exports: ['sendAll', 'consumePackets'],
});
process.on('exit', () => rmSync(snap.root, { recursive: true, force: true }));
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const side of current?.sides ?? []) kill(side);
    process.exit(1); // runs the 'exit' handler: the copy goes
  });
}
let revision = '';
try {
  const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repo, encoding: 'utf8' }).trim();
  const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: repo, encoding: 'utf8' })
    .trim()
    .split('\n')
    .filter(Boolean).length;
  revision = `; HEAD ${head}${dirty ? ` + ${dirty} uncommitted file(s) in src/` : ''}`;
} catch {}
console.log(`measuring ${snap.dist} as built at ${snap.builtAt.toISOString()}${revision} (copied to ${snap.root})`);
process.stdout.write('computing the expected digests... ');
const digests = expectedDigests();
console.log(`${((performance.now() - t0) / 1000).toFixed(1)} s`);
if (
  only ||
  childFlags.length ||
  ['BENCH_READER', 'BENCH_SENDER', 'BENCH_DIST', 'BENCH_CAP_MIB', 'BENCH_TIMEOUT_MS'].some((name) => process.env[name])
) {
  console.log(
    `NOT THE DEFAULT RUN: cases ${only ?? 'all'}, child flags [${childFlags.join(' ')}], reader ${JSON.stringify(readerExtra)}, sender ${JSON.stringify(senderExtra)}`,
  );
}
console.log(
  `node ${process.version}; 64 KiB binary packets; bound: peak-idle <= ${BOUND_MIB} MiB; children killed past ${CAP_TEXT} RSS; reader of cases 1, 2, 4: our listen() server, idle 5 s then consumePackets()\n`,
);

const rows = [];
const notes = [];
let failed = false;
for (const spec of cases.filter((c) => !only || only.includes(c.id))) {
  process.stdout.write(`case ${spec.id}: ${spec.name} ... `);
  const run = await runCase(spec);
  const evaluation = evaluate(run, digests);
  console.log(`${evaluation.row.result} (${run.seconds.toFixed(1)} s)`);
  rows.push(evaluation.row);
  notes.push(details(run, evaluation));
  if (spec.bounded && evaluation.row.result !== 'PASS') failed = true;
}

console.log(`\n${table(rows)}\n`);
console.log(notes.join('\n\n'));
console.log(
  `\ntotal ${((performance.now() - t0) / 1000).toFixed(1)} s; ${failed ? 'FAIL: a bounded case failed' : 'all bounded cases PASS'}`,
);
process.exitCode = failed ? 1 : 0;
