// The receiving side: a listen() server on 127.0.0.1 that takes one peer and hashes every
// byte it receives, in order (sha256), with consumePackets() so that it takes a packet only
// when it is ready for it.
//
//   mode 'slow':     reads nothing for `delayMs` after the peer opens (the peer's inbound queue
//                    fills to its bound, 2 MiB / 4,096 packets by default, then the peer stops
//                    reading and TCP pushes back on the sender), then hashes as fast as it can.
//   mode 'throttled': reads from the start, but each packet's handler awaits a ~1 ms timer; the
//                    queue stays at its bound and the peer reads whenever it is down to half.
//
// Idle RSS is read when the peer arrives (before any payload is read) and VmHWM is reset there;
// the peak is read once the peer has closed and every packet has been hashed.
import { createHash } from 'node:crypto';
import { EMPTY, switchMap } from 'rxjs';
import { consumePackets, listen } from 'rx-websocket-peer';
import {
  args,
  chunk,
  fail,
  finish,
  reportCrashes,
  resetPeak,
  sampleMemory,
  sleep,
  statusKiB,
  tell,
} from './common.mjs';

const { mode = 'slow', delayMs = 5000, handlerDelayMs = 1, maxQueuedBytes, maxQueuedPackets, gcEvery } = args();
// Diagnostics only (BENCH_READER): peer options other than the defaults, and a forced full GC
// every `gcEvery` packets (needs BENCH_CHILD_FLAGS=--expose-gc).
const peerOptions = {
  ...(maxQueuedBytes !== undefined && { maxQueuedBytes }),
  ...(maxQueuedPackets !== undefined && { maxQueuedPackets }),
};

reportCrashes();

// Warm-up: the code paths of the work, before idle is read.
createHash('sha256').update(chunk(0, 65536)).digest('hex');
await sleep(1);

const hash = createHash('sha256');
let bytes = 0;
let packets = 0;
let binary = true;
const started = { at: 0 };

let seen = false;
// Kept subscribed for the life of the process: unsubscribing listen() would stop the server and
// close its peer (1001).
listen({ host: '127.0.0.1', port: 0, ...peerOptions })
  .pipe(
    switchMap((server) => {
      void tell({ type: 'listening', port: server.port });
      return server.peers$;
    }),
  )
  .subscribe({
    next: (peer) => {
      if (seen) return void peer.close(1008, 'one peer only');
      seen = true;
      const idleKiB = statusKiB('VmRSS');
      const hwmReset = resetPeak();
      const sampler = sampleMemory();
      started.at = performance.now();
      let maxWaiting = 0;
      let lastAt = 0;
      let maxGapMs = 0; // the longest wait between two packets once reading has started
      const onPacket = (packet) => {
        const now = performance.now();
        if (lastAt) maxGapMs = Math.max(maxGapMs, now - lastAt);
        lastAt = now;
        if (packet.isString) binary = false;
        hash.update(packet.data);
        bytes += packet.data.byteLength;
        packets++;
        if (gcEvery && packets % gcEvery === 0) globalThis.gc?.();
      };
      const start = () => {
        const startedReading = performance.now();
        maxWaiting = Math.max(maxWaiting, peer.getAvailablePacketCount());
        consumePackets(peer, (packet) => {
          maxWaiting = Math.max(maxWaiting, peer.getAvailablePacketCount() + 1);
          onPacket(packet);
          return mode === 'throttled' ? sleep(handlerDelayMs) : EMPTY;
        }).subscribe({
          complete: () => {
            const memory = sampler.stop();
            void finish({
              role: 'reader',
              idleKiB,
              hwmReset,
              bytes,
              packets,
              binary,
              digest: hash.digest('hex'),
              ms: Math.round(performance.now() - started.at),
              readMs: Math.round(performance.now() - startedReading),
              maxWaiting,
              maxGapMs: Math.round(maxGapMs),
              memory,
            });
          },
          error: fail,
        });
      };
      if (mode === 'slow') setTimeout(start, delayMs);
      else start();
    },
    error: fail,
  });
