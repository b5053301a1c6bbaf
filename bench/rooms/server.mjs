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
// Reports { type: 'listening', port }. On { type: 'cpu' } reports { type: 'cpu', us } (its CPU
// time so far, user + system, all threads), which the parent reads before and after each run.
import { createServer } from 'node:http';
import { switchMap } from 'rxjs';
import { Server } from 'socket.io';
import { listen, memoryRooms, serveRooms } from 'rx-websocket-peer';
import { args, fail, reportCrashes, tell } from '../memory/common.mjs';

const { impl } = args();
reportCrashes();
process.on('disconnect', () => process.exit(0));

let stop = () => {};
if (impl === 'ours') {
  const engine = memoryRooms();
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
} else if (impl === 'socketio') {
  const http = createServer();
  const io = new Server(http, {
    transports: ['websocket'],
    perMessageDeflate: false,
    serveClient: false,
    connectionStateRecovery: {},
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
