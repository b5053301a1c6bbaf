// Unknown option keys, for every function that takes options: a typo in JavaScript (or through a
// cast) must not silently turn an option off. On the ground floor, next to the errors it makes, so
// that the codecs and the operators import it without a cycle.
import { argumentError } from '../errors/WebSocketPeerError.js';

/** @internal The string keys of `T`, of every member if `T` is a union (`keyof` keeps the common ones). */
export type OptionKey<T> = T extends unknown ? Extract<keyof T, string> : never;

/**
 * @internal The known keys of an options type as a list: `own` must name every key of `T` but the
 * `Inherited` ones, which come from the list of the type it extends, and nothing else (the
 * compiler checks both), so that an option added to an interface cannot be refused as unknown.
 */
export function optionKeys<T, Inherited extends OptionKey<T> = never>(
  own: Record<Exclude<OptionKey<T>, Inherited>, true>,
  inherited: readonly Inherited[] = [],
): readonly OptionKey<T>[] {
  return [...inherited, ...(Object.keys(own) as OptionKey<T>[])];
}

/** The most edits (insertions, deletions, substitutions, swaps of neighbours) a near key may be away. */
const MAX_EDITS = 2;
/** The shortest key that may be found inside another (`protocol` in `protocols`). */
const MIN_AFFIX = 4;

/** The optimal string alignment distance of `a` and `b`, or `MAX_EDITS + 1` when it is larger. */
function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > MAX_EDITS) return MAX_EDITS + 1;
  // Three rows of the usual table: the one before the previous is needed for a swap.
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, (before[j - 2] as number) + 1);
      }
      current.push(d);
    }
    [before, previous] = [previous, current];
  }
  return Math.min(previous[b.length] as number, MAX_EDITS + 1);
}

/**
 * @internal The known keys nearest to `key`, in their order in `known`; none when nothing is near.
 * Near, best first: the same but for case; up to two edits away (case aside), fewer than the
 * shorter key's length; a known key that begins or ends with it, or that it begins or ends with
 * (`protocol` and `protocols`, `timeout` and `handshakeTimeout`).
 */
export function nearestKeys(key: string, known: readonly string[]): string[] {
  const wanted = key.toLowerCase();
  const score = (candidate: string): number => {
    const name = candidate.toLowerCase();
    if (name === wanted) return 0;
    const edits = distance(wanted, name);
    if (edits <= MAX_EDITS && edits < Math.min(wanted.length, name.length)) return edits;
    const [shorter, longer] = wanted.length < name.length ? [wanted, name] : [name, wanted];
    if (shorter.length >= MIN_AFFIX && (longer.startsWith(shorter) || longer.endsWith(shorter))) {
      return MAX_EDITS + 1;
    }
    return Infinity;
  };
  const scores = known.map(score);
  const best = Math.min(...scores);
  return best === Infinity ? [] : known.filter((_, i) => scores[i] === best);
}

/**
 * @internal The message for the first own enumerable key of `options` that is not in `known`
 * (inherited keys and symbols are not looked at), or `undefined` when every key is known.
 */
export function unknownOption(fn: string, options: object, known: readonly string[]): string | undefined {
  const key = Object.keys(options).find((name) => !known.includes(name));
  if (key === undefined) return undefined;
  const near = nearestKeys(key, known).map((name) => `'${name}'`);
  const guess = near.length > 0 ? ` (did you mean ${near.join(' or ')}?)` : '';
  return `${fn}(): unknown option '${key}'${guess}`;
}

/**
 * @internal Throws `ERR_INVALID_OPTION` (a `TypeError`) unless `options` is `undefined` or an
 * object whose own enumerable keys are all in `known`; a known key may hold `undefined`.
 */
export function checkOptionKeys(fn: string, options: unknown, known: readonly string[]): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null) {
    throw argumentError(TypeError, 'ERR_INVALID_OPTION', `${fn}(): options must be an object`);
  }
  const message = unknownOption(fn, options, known);
  if (message !== undefined) throw argumentError(TypeError, 'ERR_INVALID_OPTION', message);
}
