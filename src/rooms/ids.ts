/** @internal 16 random hex digits: a room's epoch, or a client's prefix for its publish ids. */
export function newId(): string {
  const bytes = new Uint8Array(8);
  globalThis.crypto.getRandomValues(bytes);
  let id = '';
  for (const byte of bytes) id += byte.toString(16).padStart(2, '0');
  return id;
}

/**
 * @internal Ids that are new across processes and calls without a random draw each (one cost
 * about a third of an engine's publish): one `newId()` base, then a count in base 36.
 */
export function idMaker(): () => string {
  const base = newId();
  let count = 0;
  return () => `${base}${(count++).toString(36)}`;
}
