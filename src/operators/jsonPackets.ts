import { map, type OperatorFunction } from 'rxjs';
import { decodeJson, encodeJson, type JsonCodecOptions, type JsonValue, resolveJsonOptions } from '../codec/json.js';
import { JsonCodecError } from '../codec/JsonCodecError.js';
import type { Packet } from '../peer/types.js';

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Parses each packet as JSON: text packets as they are, binary ones as UTF-8. Errors with
 * `JsonCodecError` on text that is not JSON or passes the limits.
 *
 * ```ts
 * import { decodeJsonPackets } from 'rx-websocket-peer';
 * peer.packets$.pipe(decodeJsonPackets()).subscribe((message) => console.log(message));
 * ```
 * @param options `maxSize` (8 MiB), `maxDepth` (256).
 * @throws JsonCodecError (`ERR_JSON_INVALID_ARG`) synchronously, for a bad option.
 */
export function decodeJsonPackets(options?: JsonCodecOptions): OperatorFunction<Packet, JsonValue> {
  resolveJsonOptions('decodeJsonPackets', options);
  return map((packet) => {
    if (packet.isString) return decodeJson(packet.data, options);
    let text: string;
    try {
      text = decoder.decode(packet.data);
    } catch (cause) {
      throw new JsonCodecError('ERR_JSON_SYNTAX', 'decodeJsonPackets(): a binary packet that is not UTF-8', { cause });
    }
    return decodeJson(text, options);
  });
}

/**
 * Serializes each value as JSON in a text packet for `sink`. Errors with `JsonCodecError` on a
 * value JSON cannot hold (a cycle, a function, `undefined`, a `bigint`) or past the limits.
 *
 * ```ts
 * import { encodeJsonPackets } from 'rx-websocket-peer';
 * messages$.pipe(encodeJsonPackets()).subscribe(peer.sink);
 * ```
 * @param options `maxSize` (8 MiB), `maxDepth` (256).
 * @throws JsonCodecError (`ERR_JSON_INVALID_ARG`) synchronously, for a bad option.
 */
export function encodeJsonPackets(options?: JsonCodecOptions): OperatorFunction<unknown, Packet> {
  resolveJsonOptions('encodeJsonPackets', options);
  return map((value): Packet => ({ isString: true, data: encodeJson(value, options) }));
}
