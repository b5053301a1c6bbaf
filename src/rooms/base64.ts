// Base64 for the rooms protocol's bytes, in Node (Buffer) and in a browser (btoa/atob).

const nodeBuffer = (
  globalThis as {
    Buffer?: {
      from(data: Uint8Array | string, encoding?: 'base64'): Uint8Array & { toString(encoding: 'base64'): string };
    };
  }
).Buffer;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** @internal `bytes` as standard base64 (RFC 4648 §4, with padding). */
export function toBase64(bytes: Uint8Array): string {
  if (nodeBuffer !== undefined) return nodeBuffer.from(bytes).toString('base64');
  let binary = '';
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i] as number);
  return btoa(binary);
}

/** @internal The bytes of standard base64 `text`, or `undefined` when it is not that. */
export function fromBase64(text: string): Uint8Array | undefined {
  if (!BASE64.test(text)) return undefined;
  if (nodeBuffer !== undefined) {
    const decoded = nodeBuffer.from(text, 'base64');
    return new Uint8Array(decoded.buffer, decoded.byteOffset, decoded.byteLength);
  }
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
