import { checkOptionKeys, optionKeys } from '../internal/optionKeys.js';
import { checkOption, isCount, optionsOutOfRange } from '../internal/options.js';

/** @internal Flow-control defaults (DESIGN.md), shared by `backpressure()` and `sendAll()`. */
export const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;
/** @internal */
export const DEFAULT_LOW_WATER_MARK = 256 * 1024;
/** @internal The payload `backpressure()` may hold before its overflow policy applies. */
export const DEFAULT_MAX_HELD_BYTES = 64 * 1024 * 1024;

/** The marks on a peer's outbound buffer that flow control works between. */
export interface WaterMarks {
  /** Stop sending once this many bytes wait in the peer's outbound buffer. Default 1 MiB. */
  highWaterMark?: number;
  /**
   * Start again once the buffer is down to this many bytes. Default a quarter of the high mark:
   * 256 KiB with the default one.
   */
  lowWaterMark?: number;
}

/** @internal The keys of `WaterMarks`, which `backpressure()` and `sendAll()` know. */
export const WATER_MARK_KEYS = optionKeys<WaterMarks>({ highWaterMark: true, lowWaterMark: true });

/**
 * @internal The marks, checked, with defaults filled in; first, that every key of `options` is in
 * `known`, the keys of the function that takes them.
 */
export function resolveMarks(fn: string, options: WaterMarks, known: readonly string[]): { high: number; low: number } {
  // Refuses `null` as well (the callers' default parameter has replaced `undefined` by then).
  checkOptionKeys(fn, options, known);
  const { highWaterMark = DEFAULT_HIGH_WATER_MARK } = options;
  // Each one checked before any arithmetic: a BigInt would make Math.floor() throw.
  checkOption(fn, 'highWaterMark', highWaterMark, isCount, 'an integer >= 0 (bytes)');
  const {
    lowWaterMark = options.highWaterMark === undefined ? DEFAULT_LOW_WATER_MARK : Math.floor(highWaterMark / 4),
  } = options;
  checkOption(fn, 'lowWaterMark', lowWaterMark, isCount, 'an integer >= 0 (bytes)');
  if (highWaterMark === 0 || lowWaterMark > highWaterMark) {
    throw optionsOutOfRange(
      fn,
      `need 0 <= lowWaterMark <= highWaterMark and highWaterMark > 0, got ${lowWaterMark} and ${highWaterMark}`,
    );
  }
  return { high: highWaterMark, low: lowWaterMark };
}
