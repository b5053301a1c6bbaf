import type { ClientRequest, IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import { CloseCode } from '../../peer/constants.js';

/**
 * @internal What a `PeerSocket` hands its events to, in place of listeners: its transport once
 * open, and on a client, the opening handshake before that.
 */
export interface SocketHandler {
  /** ws's 'message'. */
  message(data: Buffer, isBinary: boolean): void;
  /** ws's 'error'. */
  error(error: Error): void;
  /** ws's 'close', after which ws emits nothing. */
  closed(code: number, reason: Buffer): void;
  /** A closing handshake starts, with the code that starts it (on an open socket only). */
  closing?(code: number, reason: string): void;
  /** A client's handshake: ws's 'upgrade', 'unexpected-response' and 'open'. */
  upgrade?(response: IncomingMessage): void;
  unexpectedResponse?(request: ClientRequest, response: IncomingMessage): void;
  open?(): void;
}

/**
 * @internal A `ws` WebSocket that hands its events to its handler directly, once one is set: no
 * listener closures per connection, and no EventEmitter walk per message. It also reports when a
 * closing handshake starts, which `ws` does not: it calls its own `close()` when a close frame
 * arrives (RFC 6455 §5.5.1: the receiver answers with a close frame) and when it fails the
 * connection for a protocol error. Both pass through here with the code that starts the
 * handshake, as does our own `close()`.
 */
export class PeerSocket extends WebSocket {
  /** @internal Set by `NodeTransport.bind()` (before that, by a client's handshake), cleared on 'close'. Until then, listeners get the events. */
  handler: SocketHandler | undefined;

  override close(code?: number, data?: string | Buffer): void {
    const handler = this.handler;
    if (handler?.closing && this.readyState === WebSocket.OPEN) {
      handler.closing(code ?? CloseCode.NoStatus, data === undefined ? '' : data.toString());
    }
    super.close(code, data);
  }

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    const handler = this.handler;
    if (handler !== undefined) {
      switch (event) {
        case 'message':
          handler.message(args[0] as Buffer, args[1] as boolean);
          return true;
        case 'error':
          handler.error(args[0] as Error);
          return true;
        case 'close':
          handler.closed(args[0] as number, args[1] as Buffer);
          return true;
        case 'upgrade':
          if (!handler.upgrade) break;
          handler.upgrade(args[0] as IncomingMessage);
          return true;
        case 'unexpected-response':
          if (!handler.unexpectedResponse) break;
          handler.unexpectedResponse(args[0] as ClientRequest, args[1] as IncomingMessage);
          return true;
        case 'open':
          if (!handler.open) break;
          handler.open();
          return true;
      }
    }
    return super.emit(event, ...args);
  }
}
