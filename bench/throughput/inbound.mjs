// The inbound case of `npm run bench`: how fast a receiving process takes messages in. Two roles,
// one process each for the whole case.
//
//   role 'receiver': one server on 127.0.0.1 per entry of `servers` ({ id, consumer, queue }),
//     all in this process, so that their rows differ by the server alone (not by the process,
//     whose memory layout and compiled code differ from one process to the next). Each counts
//     the messages and payload bytes that arrive on its connections, as its consumer takes them:
//       consumer 'ws'         a raw `ws` WebSocketServer (perMessageDeflate off, as ours): counts in
//                             its 'message' handler.
//       consumer 'packets$'   our listen(); each peer of peers$: peer.packets$.subscribe(count).
//       consumer 'getPacket'  our listen(); polling, as a game loop polls each frame: while armed,
//                             a callback on setImmediate (once per turn of the event loop, after
//                             the socket reads of that turn) drains each peer with
//                             `while (peer.getAvailablePacketCount() > 0) count(peer.getPacket())`,
//                             then schedules itself again. It does not run between runs.
//       consumer 'consume'    our listen(); consumePackets(peer, count) with a synchronous handler
//                             (it returns undefined: the next packet is taken at once).
//     `queue` ({ maxQueuedBytes, maxQueuedPackets }) goes to listen() when given (the old bounds,
//     say); without it the peers have the build's defaults.
//     Reports { type: 'listening', ports: { [id]: port } }, then { type: 'connected', id } each
//     time `connections` more connections have come to a server. The parent arms one server with
//     { type: 'arm', id, n } before each run; when its count reaches n it reports { type:
//     'reached', messages, bytes, text, cpuMs, maxWaiting } (cpuMs: this process's CPU time, user
//     + system, since the arm; maxWaiting: the most packets seen waiting in one peer, getPacket
//     only).
//
//   role 'sender': our connect() (writeMode Binary). On { type: 'open', id } it closes the
//     connections of the last run and opens `connections` new ones to that server (`ports[id]`):
//     fresh for each run, since the kernel sizes a connection's buffers by its history, and an
//     old connection to one server with larger buffers than another's made their rows differ by
//     up to 2x. On { type: 'send', n } it sends n payloads of `size` bytes as fast as sink.next()
//     takes them, round robin over the connections, and reports { type: 'sent', loopMs }; what
//     the kernel did not take waits in this process and goes out as the receiver reads.
//
// Both run with --expose-gc, and collect their garbage before each run (the sender when it has
// opened its connections, the receiver when it is armed).
//
// The parent stops the receiver (SIGSTOP) before a run and lets the sender send everything, then
// starts its clock and continues the receiver (SIGCONT), and stops the clock when the receiver
// reports the last message: so the time is the receiver's, with the data there to read from the
// start, whatever the speed of the sender's loop (our client's for 64 B messages is about as
// fast as a `ws` receiver).
import { firstValueFrom, switchMap } from 'rxjs';
import { WebSocketServer } from 'ws';
import { connect, consumePackets, listen, WriteMode } from 'rx-websocket-peer';
import { args, fail, reportCrashes, tell } from '../memory/common.mjs';

const { role, servers = [], ports = {}, connections = 1, size = 64 } = args();
reportCrashes();
process.on('disconnect', () => process.exit(0));

if (role === 'receiver') await receive();
else if (role === 'sender') await send();
else throw new Error(`unknown role ${role}`);

async function receive() {
  const counters = new Map();
  const listening = await Promise.all(servers.map((spec) => serve(spec)));
  await tell({ type: 'listening', ports: Object.fromEntries(listening) });

  /** Starts one server; resolves [id, port] once it listens. */
  function serve({ id, consumer, queue }) {
    // This server's counts for the run under way, and its getPacket() poller.
    const c = { consumer, target: Infinity, messages: 0, bytes: 0, text: 0, maxWaiting: 0, cpu: undefined };
    c.peers = [];
    c.polling = false;
    counters.set(id, c);
    const count = (length, isText) => {
      c.messages++;
      c.bytes += length;
      if (isText) c.text++;
      if (c.messages === c.target) {
        c.target = Infinity;
        c.polling = false;
        const cpu = process.cpuUsage(c.cpu);
        const { messages, bytes, text, maxWaiting } = c;
        void tell({ type: 'reached', messages, bytes, text, maxWaiting, cpuMs: (cpu.user + cpu.system) / 1000 });
      }
    };
    const countPacket = (packet) => count(packet.data.length, packet.isString);
    let arrivals = 0;
    const arrived = () => {
      if (++arrivals % connections === 0) void tell({ type: 'connected', id });
    };
    // getPacket: one poll per turn of the event loop while armed.
    c.poll = () => {
      if (!c.polling) return;
      for (const peer of c.peers) {
        const waiting = peer.getAvailablePacketCount();
        if (waiting > c.maxWaiting) c.maxWaiting = waiting;
        while (peer.getAvailablePacketCount() > 0) countPacket(peer.getPacket());
      }
      if (c.polling) setImmediate(c.poll);
    };

    return new Promise((resolve) => {
      if (consumer === 'ws') {
        const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
        server.on('listening', () => resolve([id, server.address().port]));
        server.on('connection', (ws) => {
          ws.on('message', (data, isBinary) => count(data.length, !isBinary));
          arrived();
        });
        return;
      }
      listen({ host: '127.0.0.1', port: 0, ...queue })
        .pipe(
          switchMap((server) => {
            resolve([id, server.port]);
            return server.peers$;
          }),
        )
        .subscribe({
          next: (peer) => {
            if (consumer === 'packets$') peer.packets$.subscribe({ next: countPacket, error: fail });
            else if (consumer === 'consume') consumePackets(peer, countPacket).subscribe({ error: fail });
            else if (consumer === 'getPacket') {
              c.peers.push(peer);
              peer.closed$.subscribe(() => (c.peers = c.peers.filter((p) => p !== peer)));
            } else throw new Error(`unknown consumer ${consumer}`);
            arrived();
          },
          error: fail,
        });
    });
  }

  process.on('message', (message) => {
    if (message.type === 'arm') {
      const c = counters.get(message.id);
      c.messages = 0;
      c.bytes = 0;
      c.text = 0;
      c.maxWaiting = 0;
      c.target = message.n;
      if (c.consumer === 'getPacket' && !c.polling) {
        c.polling = true;
        setImmediate(c.poll);
      }
      // Each run starts from a collected heap: the garbage of the last run (256 MiB of buffers in
      // the 64 KiB case) is not this run's to collect, and GC pauses land on every run alike.
      globalThis.gc?.();
      c.cpu = process.cpuUsage();
      void tell({ type: 'armed' });
    } else if (message.type === 'exit') process.exit(0);
  });
}

async function send() {
  // One payload, sent again and again: a client masks (so copies) what it sends.
  const payload = new Uint8Array(size).fill(0x61);
  const open = (port) =>
    new Promise((resolve, reject) => {
      connect(`ws://127.0.0.1:${port}`, { writeMode: WriteMode.Binary }).subscribe({
        next: resolve,
        error: reject,
      });
    });
  let peers = [];
  process.on('message', async (message) => {
    try {
      if (message.type === 'open') {
        // Fresh connections for each run: the kernel sizes a connection's buffers by its history.
        const closing = peers.map((peer) => firstValueFrom(peer.closed$));
        for (const peer of peers) peer.close();
        await Promise.all(closing);
        peers = await Promise.all(Array.from({ length: connections }, () => open(ports[message.id])));
        globalThis.gc?.();
        void tell({ type: 'opened' });
      } else if (message.type === 'send') {
        const sinks = peers.map((peer) => peer.sink);
        const n = message.n;
        const t0 = performance.now();
        if (sinks.length === 1) {
          const sink = sinks[0];
          for (let i = 0; i < n; i++) sink.next(payload);
        } else {
          for (let i = 0; i < n; i++) sinks[i % sinks.length].next(payload);
        }
        void tell({ type: 'sent', loopMs: performance.now() - t0 });
      } else if (message.type === 'exit') {
        for (const peer of peers) peer.close();
        setTimeout(() => process.exit(0), 100);
      }
    } catch (error) {
      fail(error);
    }
  });
  await tell({ type: 'ready' });
}
