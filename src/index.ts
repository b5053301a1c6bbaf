export { connect, type ConnectOptions } from './observables/connect.js';
export { listen, type ListenOptions } from './observables/listen.js';
export { PeerServer } from './observables/PeerServer.js';
export { CloseCode, WriteMode } from './peer/constants.js';
export type { CloseInfo, HandshakeInfo, OutboundData, Packet, PeerState } from './peer/types.js';
export { WebSocketCloseError } from './peer/WebSocketCloseError.js';
export { WebSocketPeer, type PeerOptions } from './peer/WebSocketPeer.js';
export { type ArgumentError, type ErrorCode, WebSocketPeerError } from './peer/WebSocketPeerError.js';
