// A client that sends small messages as fast as it can, on many connections at once, must not
// carry what it sends into V8's old generation. Each message's frame dies in the turn it was sent
// in, so a scavenge should find almost none of them alive; but when the first message of a turn
// went out with a write callback and the rest of the turn followed in one corked writev, V8
// pretenured Node's per-write notes and each of them then held its turn's frames through the next
// scavenges: about 140 bytes promoted per message, against about 18 without that pattern, and the
// client of the load suite peaked at 1.5-2x the RSS of a raw `ws` client (docs/performance.md,
// "Memory under load").
//
// The sender runs in a child (spec/load/burst.ts) with --trace-gc-nvp, which prints what each
// scavenge promoted; the child marks the burst, and this sums the scavenges inside it. Sizes:
// BURST_CONNECTIONS (1000) and BURST_MESSAGES (1000) override them; the pretenuring needs a few
// hundred turns between two scavenges to set in, so fewer than ~500 connections do not show it.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { BurstArgs } from './burst.js';

const CONNECTIONS = Number(process.env.BURST_CONNECTIONS ?? 1000);
const MESSAGES = Number(process.env.BURST_MESSAGES ?? 1000);
/**
 * Bytes V8 may promote per message sent during the burst. Measured on 1,000 connections x 1,000
 * messages: 17-19 (what is really alive at a scavenge: the turn under way, the peers' state),
 * and 119-145 with the pattern above (600-1,000 connections).
 */
const PROMOTED_PER_MESSAGE = 50;

const script = fileURLToPath(new URL('./burst.ts', import.meta.url));

interface Burst {
  scavenges: number;
  promoted: number;
  received: number;
  exit: number | null;
  output: string;
}

function runBurst(args: BurstArgs): Promise<Burst> {
  const child = fork(script, [JSON.stringify(args)], {
    execArgv: ['--import', 'tsx', '--trace-gc-nvp'],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  return new Promise((resolve) => {
    child.once('close', (exit) => {
      let inside = false;
      let scavenges = 0;
      let promoted = 0;
      let received = 0;
      for (const line of output.split('\n')) {
        if (line === 'BEGIN') inside = true;
        else if (line === 'END') inside = false;
        else if (line.startsWith('RECEIVED ')) received = Number(line.slice('RECEIVED '.length));
        else if (inside && / gc=s /.test(line)) {
          scavenges++;
          promoted += Number(/ promoted=(\d+)/.exec(line)?.[1] ?? Number.NaN);
        }
      }
      resolve({ scavenges, promoted, received, exit, output });
    });
  });
}

describe(`a burst of small messages on ${CONNECTIONS} client connections`, function () {
  this.timeout(60_000);
  this.slow(10_000);

  it("does not carry the turn's frames into V8's old generation", async () => {
    const sent = CONNECTIONS * MESSAGES;
    let perMessage = Number.POSITIVE_INFINITY;
    // A second burst only if the first promoted too much: one run in about twenty measured over
    // 100 B per message with the fix (V8's GC timing on a busy machine), while every run without
    // it did; two such runs in a row would be a regression, not chance.
    for (let attempt = 1; attempt <= 2 && perMessage >= PROMOTED_PER_MESSAGE; attempt++) {
      const burst = await runBurst({ connections: CONNECTIONS, messages: MESSAGES });
      perMessage = burst.promoted / sent;
      console.log(
        `      ${sent.toLocaleString('en-US')} messages of 64 B, 64 per turn per connection: ` +
          `${burst.scavenges} scavenges promoted ${(burst.promoted / 2 ** 20).toFixed(1)} MiB, ${perMessage.toFixed(1)} B per message`,
      );
      expect(burst.exit, burst.output.slice(-2000)).to.equal(0);
      expect(burst.received, 'messages the server received').to.equal(sent);
      // Enough scavenges in the burst for the figure to mean something.
      expect(burst.scavenges).to.be.at.least(10);
    }
    expect(perMessage, 'bytes promoted per message sent').to.be.below(PROMOTED_PER_MESSAGE);
  });
});
