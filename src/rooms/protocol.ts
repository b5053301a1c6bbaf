/**
 * The subprotocol of the rooms protocol (docs/rooms.md, "The wire protocol"): a client offers it,
 * and a server that speaks it selects it. `listen()` selects the first subprotocol a client
 * offers by default; `listen({ protocols: [ROOMS_PROTOCOL], requireProtocol: true })` refuses
 * clients that do not offer it.
 */
export const ROOMS_PROTOCOL = 'rx-websocket-peer.rooms.v1';
