import { Connection, type ReconnectOptions } from './Connection.js';
import { connect } from '../observables/connect.browser.js';

/** `reconnecting()` in the browser: the same `Connection`, over the browser's `connect()`. */
export function reconnecting(url: string | URL, options: ReconnectOptions = {}): Connection {
  return new Connection(url, options, connect);
}
