import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  kOnAlive,
  kOnClose,
  kOnClosing,
  kOnError,
  kOnMessage,
  kOnWritten,
  type Transport,
  type TransportHandlers,
} from '../../../src/peer/Transport.js';
import type { Packet } from '../../../src/peer/types.js';
import type { HandshakeError } from '../../../src/transport/Handshake.js';
import { type ClientHandshakeOptions, clientHandshake } from '../../../src/transport/node/clientHandshake.js';
import { UpgradeServer, type UpgradeServerOptions } from '../../../src/transport/node/upgradeServer.js';

/** One call a transport made to its handlers. */
export type TransportEvent =
  | ['message', Packet, number]
  | ['closing', number, string]
  | ['close', number, string, boolean]
  | ['error', Error]
  | ['written']
  | ['alive'];

/** Handlers that record every call, in order, as a peer would receive them. */
export function recorder(): { events: TransportEvent[]; handlers: TransportHandlers } {
  const events: TransportEvent[] = [];
  const handlers: TransportHandlers = {
    [kOnMessage]: (packet, bytes) => events.push(['message', packet, bytes]),
    [kOnClosing]: (code, reason) => events.push(['closing', code, reason]),
    [kOnClose]: (code, reason, wasClean) => events.push(['close', code, reason, wasClean]),
    [kOnError]: (error) => events.push(['error', error]),
    [kOnWritten]: () => events.push(['written']),
    [kOnAlive]: () => events.push(['alive']),
  };
  return { events, handlers };
}

/** The kinds of the events, in order: what most assertions compare. */
export const kinds = (events: TransportEvent[]): string[] => events.map((event) => event[0]);

/** Waits on real I/O (setImmediate) until `check()` holds. */
export async function until(check: () => boolean, what: string, ms = 4000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** An `http` server on 127.0.0.1 whose upgrade requests all go to an `UpgradeServer`. */
export interface UpgradeHost {
  http: Server;
  url: string;
  upgrades: UpgradeServer;
  /**
   * The server's transports as they open, with the socket `accepted` was given, and when bound
   * at once (`bind`), the calls to their handlers.
   */
  accepted: Array<{ transport: Transport; socket: Socket; events: TransportEvent[] }>;
  close(): Promise<void>;
}

export async function upgradeHost(
  options: Partial<UpgradeServerOptions> = {},
  { host = '127.0.0.1', bind = false }: { host?: string; bind?: boolean } = {},
): Promise<UpgradeHost> {
  const upgrades = new UpgradeServer({ maxPayload: 100 * 1024 * 1024, maxFragments: 16 * 1024, ...options });
  const accepted: UpgradeHost['accepted'] = [];
  const http = createServer();
  http.on('upgrade', (request, socket, head) =>
    upgrades.upgrade(request, socket, head, (transport, tcp) => {
      const { events, handlers } = recorder();
      // As a peer does: at once, so that no event of ws goes unheard.
      if (bind) transport.bind(handlers, false);
      accepted.push({ transport, socket: tcp, events });
    }),
  );
  http.listen(0, host);
  await once(http, 'listening');
  const { port } = http.address() as AddressInfo;
  return {
    http,
    url: `ws://127.0.0.1:${port}`,
    upgrades,
    accepted,
    close: async () => {
      // Upgraded connections are no longer the http server's to close, and it waits for them.
      for (const { transport } of accepted) transport.terminate();
      upgrades.close();
      http.closeAllConnections();
      http.close();
      await once(http, 'close');
    },
  };
}

export const CLIENT_DEFAULTS: ClientHandshakeOptions = {
  protocols: [],
  headers: {},
  maxPayload: 100 * 1024 * 1024,
  maxFragments: 16 * 1024,
  handshakeTimeout: 5000,
};

/** How a client's handshake ended: the transport, or the failure. */
export function handshakeOutcome(
  url: string,
  options: Partial<ClientHandshakeOptions> = {},
): Promise<{ transport?: Transport; failure?: HandshakeError }> {
  return new Promise((resolve) => {
    clientHandshake(
      url,
      { ...CLIENT_DEFAULTS, ...options },
      {
        opened: (transport) => resolve({ transport }),
        failed: (failure) => resolve({ failure }),
      },
    );
  });
}

/** A client transport and the server transport it reached, both open and not yet bound. */
export async function openPair(
  host: UpgradeHost,
  options: Partial<ClientHandshakeOptions> = {},
): Promise<{ client: Transport; server: Transport; serverSocket: Socket }> {
  const before = host.accepted.length;
  const { transport, failure } = await handshakeOutcome(host.url, options);
  if (!transport) throw new Error(`the handshake failed: ${failure?.message}`);
  await until(() => host.accepted.length > before, 'the server side to open');
  const { transport: server, socket: serverSocket } = host.accepted[before] as UpgradeHost['accepted'][number];
  return { client: transport, server, serverSocket };
}
