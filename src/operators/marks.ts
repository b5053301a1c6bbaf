import { checkOptionKeys, optionKeys } from '../internal/optionKeys.js';
import { argumentError } from '../errors/WebSocketPeerError.js';

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

const isByteCount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/**
 * @internal The marks, checked, with defaults filled in; first, that every key of `options` is in
 * `known`, the keys of the function that takes them.
 */
export function resolveMarks(fn: string, options: WaterMarks, known: readonly string[]): { high: number; low: number } {
  if (typeof options !== 'object' || options === null) {
    throw argumentError(TypeError, 'ERR_INVALID_OPTION', `${fn}(): options must be an object`);
  }
  checkOptionKeys(fn, options, known);
  const { highWaterMark = DEFAULT_HIGH_WATER_MARK } = options;
  // Each one checked before any arithmetic: a BigInt would make Math.floor() throw.
  const check = (name: string, value: unknown): void => {
    if (!isByteCount(value)) {
      throw argumentError(TypeError, 'ERR_INVALID_OPTION', `${fn}(): option '${name}' must be an integer >= 0 (bytes)`);
    }
  };
  check('highWaterMark', highWaterMark);
  const {
    lowWaterMark = options.highWaterMark === undefined ? DEFAULT_LOW_WATER_MARK : Math.floor(highWaterMark / 4),
  } = options;
  check('lowWaterMark', lowWaterMark);
  if (highWaterMark === 0 || lowWaterMark > highWaterMark) {
    throw argumentError(
      RangeError,
      'ERR_INVALID_OPTION',
      `${fn}(): need 0 <= lowWaterMark <= highWaterMark and highWaterMark > 0, got ${lowWaterMark} and ${highWaterMark}`,
    );
  }
  return { high: highWaterMark, low: lowWaterMark };
}
