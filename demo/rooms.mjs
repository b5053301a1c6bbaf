// The rooms demo: a serveRooms(memoryRooms()) server and three roomClient() clients in one
// process, over 127.0.0.1. Each client publishes numbered messages into one room while all three
// read it; carol goes through a proxy that cuts her connection every 200 to 600 ms. At the end,
// each client must have received every message of the room exactly once, in order. Run it with
// `npm run demo:rooms`; it exits 0 when the check holds, 1 when it does not.
import { lastValueFrom, switchMap } from 'rxjs';
import { listen, memoryRooms, reconnecting, roomClient, ROOMS_PROTOCOL, serveRooms } from 'rx-websocket-peer';
import { startCuttingProxy } from './cuttingProxy.mjs';

const ROOM = 'demo';
const PER_CLIENT = 100;
const EVERY_MS = 20;
const DEADLINE_MS = 9000;

const started = Date.now();
const log = (who, text) => console.log(`${String(Date.now() - started).padStart(5)} ms  ${who.padEnd(6)}  ${text}`);
// Whatever happens, the demo ends within 10 s.
setTimeout(() => {
  log('result', 'FAILED: the demo did not finish within 10 s');
  process.exit(1);
}, 10_000).unref();

// The server: one engine, the rooms protocol on every peer that offers it.
const engine = memoryRooms();
let serverStopped;
const stopped = new Promise((resolve) => (serverStopped = resolve));
let server;
const port = await new Promise((resolve, reject) => {
  listen({ host: '127.0.0.1', port: 0, protocols: [ROOMS_PROTOCOL], requireProtocol: true })
    .pipe(
      switchMap((s) => {
        server = s;
        resolve(s.port);
        return s.peers$;
      }),
      serveRooms(engine),
    )
    .subscribe({ error: reject, complete: () => serverStopped() });
});
log('server', `rooms on ws://127.0.0.1:${port}, subprotocol ${ROOMS_PROTOCOL}`);

// carol's way in: a TCP proxy that cuts each of her connections after 200 to 600 ms.
const proxy = await startCuttingProxy(port, { cutAfterMs: [200, 600], seed: 7 });
log('proxy', `ws://127.0.0.1:${proxy.port} -> ${port}, cuts each connection after 200-600 ms`);

// Where the room stands now: each client reads from there, so each must get every message.
const from = await lastValueFrom(engine.head(ROOM));
log('server', `room '${ROOM}' is at offset ${from.offset} (epoch ${from.epoch}); the clients join from there`);

function client(name, url, { verbose }) {
  const connection = reconnecting(url, {
    protocols: ROOMS_PROTOCOL,
    initialDelay: 20,
    maxDelay: 100,
    resetAfter: 150,
  });
  const rooms = roomClient(connection);
  const me = { name, connection, got: [], acked: 0, published: 0, errors: [], opens: 0, cuts: 0 };
  connection.status$.subscribe((status) => {
    if (status.state === 'open') {
      me.opens++;
      if (!verbose) return;
      const last = me.got.at(-1)?.position.offset ?? from.offset;
      log(
        name,
        me.opens === 1
          ? `connected (through the proxy)`
          : `reconnected (connection ${me.opens}): resumes '${ROOM}' after offset ${last}, ${me.published - me.acked} publish(es) not yet acknowledged go again`,
      );
    } else if (status.state === 'reconnecting') {
      me.cuts++;
      if (verbose) {
        const { reason } = status;
        const how = typeof reason.code === 'number' ? `closed ${reason.code}` : reason.code;
        log(name, `cut (${how}), ${me.got.length} messages so far; retry in ${status.delay} ms`);
      }
    }
  });
  rooms.join(ROOM, { from }).subscribe({
    next: (message) => me.got.push(message),
    error: (error) => me.errors.push(`join: ${error.code ?? error}`),
  });
  me.publishAll = () =>
    new Promise((resolve) => {
      let n = 0;
      const timer = setInterval(() => {
        const text = `${name} #${++n}`;
        me.published++;
        rooms.publish(ROOM, text).subscribe({
          next: () => me.acked++,
          error: (error) => me.errors.push(`publish ${text}: ${error.code ?? error}`),
        });
        if (n === PER_CLIENT) {
          clearInterval(timer);
          resolve();
        }
      }, EVERY_MS);
    });
  return me;
}

const clients = [
  client('alice', `ws://127.0.0.1:${port}`, { verbose: false }),
  client('bob', `ws://127.0.0.1:${port}`, { verbose: false }),
  client('carol', proxy.url, { verbose: true }),
];
const total = clients.length * PER_CLIENT;

// The room's one order, as the engine stored it: what every client must have received.
const stored = [];
engine.room$(ROOM, from).subscribe((message) => stored.push(message));

log('demo', `alice, bob and carol each publish ${PER_CLIENT} messages, one every ${EVERY_MS} ms, and read the room`);
await Promise.all(clients.map((c) => c.publishAll()));
log('demo', `all ${total} published; waiting for the acknowledgements and the last messages`);

const done = () =>
  clients.every((c) => c.acked === PER_CLIENT && c.got.length >= total) || clients.some((c) => c.errors.length > 0);
const deadline = Date.now() + (DEADLINE_MS - (Date.now() - started));
while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
// Anything that would come twice comes now.
await new Promise((resolve) => setTimeout(resolve, 100));

// The check: for each client, exactly the room's messages, each once, in the room's order.
let ok = stored.length === total;
log(
  'server',
  `room '${ROOM}' holds ${stored.length} messages (offsets ${from.offset + 1}..${from.offset + stored.length}), ${total} expected`,
);
for (const c of clients) {
  const same =
    c.got.length === stored.length &&
    c.got.every(
      (m, i) =>
        m.position.offset === stored[i].position.offset &&
        m.position.epoch === stored[i].position.epoch &&
        m.data === stored[i].data,
    );
  const offsets = c.got.map((m) => m.position.offset);
  const unique = new Set(offsets).size;
  const inOrder = offsets.every((offset, i) => i === 0 || offset > offsets[i - 1]);
  // And what the client published: each stored once, in the order it published them.
  const mine = stored.filter((m) => m.data.startsWith(`${c.name} #`)).map((m) => m.data);
  const ownOrder = mine.length === PER_CLIENT && mine.every((text, i) => text === `${c.name} #${i + 1}`);
  const good = same && ownOrder && c.acked === PER_CLIENT && c.errors.length === 0;
  ok &&= good;
  const cuts = c.cuts > 0 ? `, ${c.cuts} cuts, ${c.opens} connections` : `, ${c.opens} connection`;
  log(
    'check',
    `${c.name.padEnd(5)}  received ${c.got.length} of ${stored.length} (${unique} distinct offsets, ${inOrder ? 'in order' : 'OUT OF ORDER'}), ` +
      `${c.acked} of ${PER_CLIENT} publishes acknowledged${cuts}: ${good ? 'ok' : 'FAILED'}`,
  );
  for (const error of c.errors) log('check', `${c.name.padEnd(5)}  error: ${error}`);
}

for (const c of clients) c.connection.close();
await proxy.close();
server.stop();
await Promise.race([stopped, new Promise((resolve) => setTimeout(resolve, 1000))]);
log(
  'result',
  ok
    ? 'ok: every client received every message exactly once, in order'
    : 'FAILED: a client missed a message, got one twice, or out of order',
);
process.exit(ok ? 0 : 1);
