// The engine alone, for `npm run bench:rooms` (bench/rooms.mjs): redisRooms() of this process
// publishing straight into Redis, no WebSocket and no subscriber, in the shape redis-benchmark
// gives its ceiling (`-c 50 -P 16`: 800 commands in flight), so the two compare.
//
// On { type: 'run', n, rooms, window, size } it publishes `n` messages of `size` bytes round-robin
// over `rooms` rooms, `window` in flight (a new one as each is stored), each under an id of its
// own as serveRooms() passes a client's, and reports { type: 'done', ms, cpuUs } (its wall time
// and CPU time, user + system). Reports { type: 'ready' } once connected.
import { createClient } from 'redis';
import { redisRooms } from 'rx-websocket-peer';
import { args, fail, reportCrashes, tell } from '../memory/common.mjs';

const { redisUrl } = args();
reportCrashes();
process.on('disconnect', () => process.exit(0));

const client = createClient({ url: redisUrl });
client.on('error', (error) => void fail(error));
await client.connect();
const engine = redisRooms(client, { prefix: 'engine' });
let runs = 0;

function run({ n, rooms, window, size }) {
  const data = 'x'.repeat(size);
  const prefix = `run${runs++}-`;
  let sent = 0;
  let stored = 0;
  return new Promise((resolve, reject) => {
    const next = () => {
      const i = sent++;
      engine.publish(`room-${i % rooms}`, data, `${prefix}${i}`).subscribe({
        complete: () => {
          stored++;
          if (stored === n) resolve();
          else if (sent < n) next();
        },
        error: reject,
      });
    };
    for (let k = 0; k < window && sent < n; k++) next();
  });
}

process.on('message', (message) => {
  if (message.type === 'run') {
    const cpu = process.cpuUsage();
    const start = performance.now();
    run(message).then(
      () => {
        const { user, system } = process.cpuUsage(cpu);
        void tell({ type: 'done', ms: performance.now() - start, cpuUs: user + system });
      },
      (error) => void fail(error),
    );
  } else if (message.type === 'exit') {
    void client.quit().finally(() => process.exit(0));
  }
});
await tell({ type: 'ready' });
