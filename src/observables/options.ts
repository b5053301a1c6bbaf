import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { createSecureContext } from 'node:tls';
import { invalidOption } from './common.js';

export {
  checkOption,
  isPositiveInteger,
  isBoolean,
  isString,
  isHeaderRecord,
  isProtocolList,
  resolvePeerOptions,
  invalidOption,
  isTimeout,
} from './common.js';

/** PEM text as Node's TLS options take it: a string, a `Buffer`, or an array of them. */
export type PemInput = string | Buffer | Array<string | Buffer>;

const isPemPart = (value: unknown): value is string | Uint8Array =>
  typeof value === 'string' || value instanceof Uint8Array;

/** @internal */
export const isPemInput = (value: unknown): value is PemInput =>
  isPemPart(value) || (Array.isArray(value) && value.length > 0 && value.every(isPemPart));

/** @internal The same PEM, as strings and `Buffer`s (a plain `Uint8Array` becomes a `Buffer`). */
export function toPem(value: PemInput): string | Buffer | Array<string | Buffer> {
  const one = (part: string | Uint8Array): string | Buffer =>
    typeof part === 'string' || Buffer.isBuffer(part)
      ? part
      : Buffer.from(part.buffer, part.byteOffset, part.byteLength);
  return Array.isArray(value) ? value.map(one) : one(value);
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/**
 * @internal Throws `ERR_INVALID_OPTION` unless each part holds PEM certificates that parse. Node
 * itself skips what is not a certificate without a word, so that a file name given for its
 * content would quietly trust nothing.
 */
export function checkCertificates(fn: string, name: string, value: PemInput): void {
  for (const part of Array.isArray(value) ? value : [value]) {
    const text = typeof part === 'string' ? part : Buffer.from(part).toString('latin1');
    const blocks = text.match(PEM_CERTIFICATE);
    if (!blocks) {
      throw invalidOption(
        fn,
        `option '${name}' must hold PEM certificates ('-----BEGIN CERTIFICATE-----'), not a file name`,
      );
    }
    for (const block of blocks) {
      try {
        new X509Certificate(block);
      } catch (cause) {
        throw invalidOption(fn, `option '${name}' holds a certificate that does not parse`, cause);
      }
    }
  }
}

/** @internal A DNS host name, in ASCII (IDNs in their punycode form). */
const HOST_NAME = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?$/;

/** @internal RFC 6066 §3: SNI carries a DNS host name, never an IP address. */
export const isServerName = (value: unknown): value is string =>
  typeof value === 'string' && value.length <= 253 && HOST_NAME.test(value) && isIP(value) === 0;

/** @internal What an `https` server takes to serve TLS. */
export interface ServerTlsOptions {
  key: string | Buffer | Array<string | Buffer>;
  cert: string | Buffer | Array<string | Buffer>;
  passphrase?: string;
}

/**
 * @internal Checks a server's TLS material by making a context of it once, so that a key that
 * does not fit its certificate, or a wrong passphrase, throws at the call rather than at each
 * subscription; returns it as `https.createServer()` takes it.
 */
export function serverTlsOptions(
  fn: string,
  options: { key: PemInput; cert: PemInput; passphrase: string | undefined },
): ServerTlsOptions {
  const tls: ServerTlsOptions = {
    key: toPem(options.key),
    cert: toPem(options.cert),
    ...(options.passphrase !== undefined && { passphrase: options.passphrase }),
  };
  try {
    createSecureContext(tls);
  } catch (cause) {
    const detail = cause instanceof Error ? `: ${cause.message}` : '';
    throw invalidOption(fn, `options 'key'/'cert'/'passphrase' make no TLS context${detail}`, cause);
  }
  return tls;
}

/** @internal `scheme://host[:port]`, as RFC 6454 §6.2 serializes an origin: no path, no user. */
const ORIGIN = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#@\s]+$/;

/** @internal */
export const isOriginList = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((origin) => typeof origin === 'string' && ORIGIN.test(origin));

/**
 * @internal An origin as browsers send it: scheme and host in lower case, no default port
 * (RFC 6454 §6.2), so that `'https://Example.com:443'` matches `'https://example.com'`.
 */
export function normalizeOrigin(origin: string): string {
  try {
    const { origin: serialized } = new URL(origin);
    if (serialized !== 'null') return serialized;
  } catch {
    // not a URL ('null', say): compared as it is
  }
  return origin.toLowerCase();
}
