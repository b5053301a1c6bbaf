// The server of `npm run bench:rooms` (bench/rooms.mjs): one process, one system.
//
//   impl 'ours'      listen() on 127.0.0.1, piped through serveRooms(memoryRooms()) with the
//                    defaults (history 10,000 messages a room, 4 MiB per peer).
//   impl 'socketio'  socket.io 4 on a plain http server, `connectionStateRecovery: {}` (the
//                    defaults: sessions and packets kept 2 minutes), websocket transport only,
//                    perMessageDeflate off (as ours). A client joins with `emit('join', room, ack)`;
//                    a publish is `emit('pub', room, data, ack)`: the server does
//                    `io.to(room).emit('m', data)` and then acknowledges, as serveRooms() acks
//                    once memoryRooms() has handed the message to every subscriber.
//
// On one Redis (`redisUrl`, which bench/rooms.mjs starts), two or more of these processes serve
// the same rooms:
//   impl 'ours-redis'        the same listen() pipeline through serveRooms(redisRooms(client)),
//                            `client` a node-redis v5 createClient({ url }) of this process.
//   impl 'socketio-redis'    'socketio' with @socket.io/redis-adapter (Redis pub/sub; a pub and a
//                            sub client, `key: 'sio-pubsub'`), connectionStateRecovery as above
//                            (which that adapter keeps in each process's memory).
//   impl 'socketio-streams'  'socketio' with @socket.io/redis-streams-adapter (one Redis stream,
//                            `streamName`/`channelPrefix: 'sio-streams'`, defaults otherwise), whose
//                            connectionStateRecovery is kept in Redis.
//
// Reports { type: 'listening', port }. On { type: 'cpu' } reports { type: 'cpu', us } (its CPU
// time so far, user + system, all threads), which the parent reads before and after each run.
import { createServer } from 'node:http';
import { switchMap } from 'rxjs';
import { Server } from 'socket.io';
import { listen, memoryRooms, redisRooms, serveRooms } from 'rx-websocket-peer';
import { args, fail, reportCrashes, tell } from '../memory/common.mjs';

const { impl, redisUrl } = args();
reportCrashes();
process.on('disconnect', () => process.exit(0));

/** A connected node-redis client of this process (the `redis` package, v5). */
async function redisClient() {
  const { createClient } = await import('redis');
  const client = createClient({ url: redisUrl });
  client.on('error', (error) => void fail(error));
  await client.connect();
  return client;
}

let stop = () => {};
if (impl === 'ours' || impl === 'ours-redis') {
  const engine = impl === 'ours' ? memoryRooms() : redisRooms(await redisClient());
  const port = await new Promise((resolve, reject) => {
    const subscription = listen({ host: '127.0.0.1', port: 0 })
      .pipe(
        switchMap((server) => {
          resolve(server.port);
          return server.peers$;
        }),
        serveRooms(engine),
      )
      .subscribe({ error: (error) => (reject(error), fail(error)) });
    stop = () => subscription.unsubscribe();
  });
  await tell({ type: 'listening', port });
} else if (impl === 'socketio' || impl === 'socketio-redis' || impl === 'socketio-streams') {
  let adapter;
  if (impl === 'socketio-redis') {
    const { createAdapter } = await import('@socket.io/redis-adapter');
    const pub = await redisClient();
    const sub = pub.duplicate();
    sub.on('error', (error) => void fail(error));
    await sub.connect();
    adapter = createAdapter(pub, sub, { key: 'sio-pubsub' });
  } else if (impl === 'socketio-streams') {
    const { createAdapter } = await import('@socket.io/redis-streams-adapter');
    adapter = createAdapter(await redisClient(), { streamName: 'sio-streams', channelPrefix: 'sio-streams' });
  }
  const http = createServer();
  const io = new Server(http, {
    transports: ['websocket'],
    perMessageDeflate: false,
    serveClient: false,
    connectionStateRecovery: {},
    ...(adapter ? { adapter } : {}),
  });
  io.on('connection', (socket) => {
    socket.on('join', (room, ack) => {
      socket.join(room);
      ack?.();
    });
    socket.on('pub', (room, data, ack) => {
      io.to(room).emit('m', data);
      ack?.();
    });
  });
  await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
  stop = () => io.close();
  await tell({ type: 'listening', port: http.address().port });
} else throw new Error(`unknown impl ${impl}`);

process.on('message', (message) => {
  if (message.type === 'cpu') {
    const { user, system } = process.cpuUsage();
    void tell({ type: 'cpu', us: user + system });
  } else if (message.type === 'exit') {
    stop();
    setTimeout(() => process.exit(0), 100);
  }
});
