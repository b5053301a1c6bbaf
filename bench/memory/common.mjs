// Shared by the bench's child processes: memory readings from /proc/self/status, the
// deterministic payload, and the IPC report to the parent (bench/memory.mjs).
import { readFileSync, writeFileSync } from 'node:fs';

export const KiB = 1024;
export const MiB = 1024 * 1024;

/** One field of /proc/<pid>/status, in kB (Linux reports kibibytes there). */
export function statusKiB(field, pid = 'self') {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

/**
 * Resets VmHWM (peak RSS) to the current RSS (`echo 5 > /proc/self/clear_refs`, Linux >= 4.0),
 * so that the peak read at the end belongs to the work, not to module loading before it.
 * Returns whether it worked; if not, VmHWM still covers the whole life of the process.
 */
export function resetPeak() {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * Chunk `index` of the stream: `size` bytes made from the index and the position alone, so
 * any process can make it again and a reordered, lost or repeated chunk changes the digest.
 * A fresh buffer each time: the producer never holds more than the chunk it hands out.
 */
export function chunk(index, size) {
  const bytes = new Uint8Array(size);
  const words = new Uint32Array(bytes.buffer, 0, size >>> 2);
  let x = (Math.imul(index + 1, 0x9e3779b1) ^ 0x5bd1e995) >>> 0;
  for (let w = 0; w < words.length; w++) {
    // xorshift32: cheap, and no two chunks share a prefix.
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[w] = x >>> 0;
  }
  return bytes;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Samples process.memoryUsage() while the event loop turns, keeping the maxima: evidence of
 * where memory went (V8 heap vs ArrayBuffer backing stores) when a peak is high. A loop that
 * blocks the event loop (the contrast senders) is not sampled meanwhile.
 */
export function sampleMemory(periodMs = 20) {
  const max = { rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
  const take = () => {
    const usage = process.memoryUsage();
    for (const key of Object.keys(max)) max[key] = Math.max(max[key], usage[key]);
  };
  take();
  const timer = setInterval(take, periodMs);
  return {
    max,
    stop() {
      take();
      clearInterval(timer);
      return max;
    },
  };
}

/** The parent's arguments, passed as one JSON argv entry. */
export function args() {
  return JSON.parse(process.argv[2] ?? '{}');
}

/** Sends one message to the parent; resolves once it is on its way. */
export function tell(message) {
  return new Promise((resolve) => {
    if (!process.send) {
      console.log(JSON.stringify(message));
      resolve();
    } else process.send(message, () => resolve());
  });
}

/** Tells the parent the result (with the memory readings) and exits. */
export async function finish(result) {
  await tell({ type: 'result', ...result, peakKiB: statusKiB('VmHWM'), endKiB: statusKiB('VmRSS') });
  process.exit(0);
}

/** Tells the parent about a failure and exits nonzero. */
export async function fail(error) {
  await tell({
    type: 'error',
    message: error?.code ? `${error.code}: ${error.message}` : String(error?.message ?? error),
    peakKiB: statusKiB('VmHWM'),
  });
  process.exit(1);
}

/** In a child: report a crash to the parent instead of dying silently. */
export function reportCrashes() {
  process.on('uncaughtException', (error) => void fail(error));
  process.on('unhandledRejection', (error) => void fail(error));
}
