import { Connection, type ReconnectOptions, type ReconnectTarget } from './Connection.js';
import { connect } from '../observables/connect.browser.js';

/** `reconnecting()` in the browser: the same `Connection`, over the browser's `connect()`. */
export function reconnecting(url: ReconnectTarget, options: ReconnectOptions = {}): Connection {
  return new Connection(url, options, connect);
}
