import type { IncomingMessage } from 'node:http';
import { normalizeOrigin } from './options.js';

/** The HTTP statuses `listen()` answers an upgrade request it refuses with. */
export const HttpStatus = {
  BadRequest: 400,
  Forbidden: 403,
  NotFound: 404,
  UpgradeRequired: 426,
  ServiceUnavailable: 503,
} as const;

/** @internal What `listen()` accepts: its options, checked. */
export interface UpgradePolicyOptions {
  /** The one path it serves; a query never matches. Default: every path. */
  readonly path?: string | undefined;
  /** The origins it accepts (`'https://example.com'`). Default: any, and none. */
  readonly origins?: readonly string[] | undefined;
  /** Refuse requests that carry no origin. */
  readonly requireOrigin: boolean;
  /** The subprotocols it speaks. */
  readonly protocols?: readonly string[] | undefined;
  /** Refuse requests that offer none of `protocols`. */
  readonly requireProtocol: boolean;
  /** Live connections at once. */
  readonly maxConnections: number;
}

/** @internal What an upgrade request asks, as the policy reads it. */
export type UpgradeRequest = Pick<IncomingMessage, 'url' | 'headers'>;

/**
 * @internal Which upgrade requests `listen()` accepts, decided from the request alone, before
 * the WebSocket handshake: a refusal is an HTTP status, so a client learns why it was refused
 * and nothing of WebSocket has started.
 */
export class UpgradePolicy {
  private readonly allowedOrigins: ReadonlySet<string> | undefined;

  constructor(private readonly options: UpgradePolicyOptions) {
    this.allowedOrigins = options.origins && new Set(options.origins.map(normalizeOrigin));
  }

  /**
   * Whether the request is for this server's path. One that is not may be for another handler
   * of a shared server: whoever knows whether there is one answers it (404) or leaves it.
   */
  isOnPath(request: UpgradeRequest): boolean {
    const { path } = this.options;
    return path === undefined || pathOf(request.url) === path;
  }

  /**
   * The status to refuse a request on the path with, or `undefined` to accept it, given the
   * connections now live and whether the server is stopping.
   */
  refusalOf(request: UpgradeRequest, liveConnections: number, stopping: boolean): number | undefined {
    const { requireOrigin, requireProtocol, protocols, maxConnections } = this.options;
    const allowedOrigins = this.allowedOrigins;
    // Browsers send Origin (RFC 6454 §7); clients of protocol version 8 sent Sec-WebSocket-Origin.
    const origin = request.headers.origin ?? request.headers['sec-websocket-origin'];
    if (origin === undefined) {
      if (requireOrigin) return HttpStatus.Forbidden;
    } else if (allowedOrigins && (typeof origin !== 'string' || !allowedOrigins.has(normalizeOrigin(origin)))) {
      return HttpStatus.Forbidden;
    }
    if (requireProtocol && !offersOneOf(request.headers['sec-websocket-protocol'], protocols ?? [])) {
      return HttpStatus.BadRequest;
    }
    // Last: a client refused for good above must not be told to come back later.
    if (liveConnections >= maxConnections || stopping) return HttpStatus.ServiceUnavailable;
    return undefined;
  }
}

function pathOf(url: string | undefined): string {
  const path = url ?? '/';
  const query = path.indexOf('?');
  return query === -1 ? path : path.slice(0, query);
}

/** Whether an upgrade request offers one of `protocols` (RFC 6455 §4.1: a comma-separated list). */
function offersOneOf(header: string | undefined, protocols: readonly string[]): boolean {
  return header !== undefined && header.split(',').some((offered) => protocols.includes(offered.trim()));
}
