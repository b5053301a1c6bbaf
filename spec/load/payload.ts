// The messages of the load test, shared by the client child (spec/load/clients.ts) and the spec.
// Message `j` of connection `i` is made from `i`, `j` and the size alone, so the side that checks
// an echo makes it again instead of keeping what it sent: a lost, repeated, reordered, corrupted
// or misrouted (another connection's) message never compares equal. Even `j` go as text frames,
// odd `j` as binary frames, so the echo must also keep each message's kind.

/** Whether message `j` is a text frame (else binary). */
export const isTextMessage = (j: number): boolean => j % 2 === 0;

/** Message `j` of connection `i` as text: `size` ASCII characters (so `size` UTF-8 bytes). */
export function textMessage(i: number, j: number, size: number): string {
  const head = `c${i} m${j} `;
  const fill = String.fromCharCode(97 + ((i * 31 + j * 7) % 26));
  return head.length >= size ? head : head + fill.repeat(size - head.length);
}

/** Message `j` of connection `i` as bytes: `i` and `j` (uint32 LE), then a pattern of both. */
export function binaryMessage(i: number, j: number, size: number): Uint8Array {
  const bytes = new Uint8Array(Math.max(size, 8));
  const view = new DataView(bytes.buffer);
  view.setUint32(0, i, true);
  view.setUint32(4, j, true);
  for (let k = 8; k < bytes.length; k++) bytes[k] = (i * 7 + j * 13 + k) & 0xff;
  return bytes;
}

/** Message `j` of connection `i`, of its kind. */
export function message(i: number, j: number, size: number): string | Uint8Array {
  return isTextMessage(j) ? textMessage(i, j, size) : binaryMessage(i, j, size);
}

/** Whether `bytes` is binary message `j` of connection `i`, without allocating. */
export function isBinaryMessage(bytes: Uint8Array, i: number, j: number, size: number): boolean {
  if (bytes.length !== Math.max(size, 8)) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== i || view.getUint32(4, true) !== j) return false;
  for (let k = 8; k < bytes.length; k++) if (bytes[k] !== ((i * 7 + j * 13 + k) & 0xff)) return false;
  return true;
}
