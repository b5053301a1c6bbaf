// The browser entry (the `browser` condition of the exports map): the same names as index.ts,
// with connect(), listen() and reconnecting() over the browser's own WebSocket. No Node module.
export {
  AABB,
  Basis,
  Color,
  GodotFloat,
  NodePath,
  PackedColorArray,
  PackedStringArray,
  PackedVector2Array,
  PackedVector3Array,
  PackedVector4Array,
  Plane,
  PoolColorArray,
  PoolStringArray,
  PoolVector2Array,
  PoolVector3Array,
  Projection,
  Quat,
  Quaternion,
  Rect2,
  Rect2i,
  StringName,
  Transform,
  Transform2D,
  Transform3D,
  type Variant,
  Vector2,
  Vector2i,
  Vector3,
  Vector3i,
  Vector4,
  Vector4i,
} from './codec/godotTypes.js';
export { decodeJson, encodeJson, type JsonCodecOptions, type JsonValue } from './codec/json.js';
export { JsonCodecError, type JsonCodecErrorCode } from './codec/JsonCodecError.js';
export { decodeVariant, enableVariants, encodeVariant, type VariantOptions } from './codec/variant.js';
export { VariantError, type VariantErrorCode } from './codec/VariantError.js';
export { connect } from './observables/connect.browser.js';
export type { PemInput } from './observables/common.js';
export type { ConnectOptions } from './observables/connectOptions.js';
export { listen } from './observables/listen.browser.js';
export type { ListenOptions } from './observables/listenOptions.js';
export { PeerServer, type ServerLimits } from './observables/PeerServer.js';
export {
  backoff,
  Connection,
  type ConnectionStatus,
  type DropReason,
  type ReconnectOptions,
  type ReconnectTarget,
} from './reconnect/Connection.js';
export { reconnecting } from './reconnect/reconnecting.browser.js';
export { memoryRooms, type MemoryRoomsOptions } from './rooms/memoryRooms.js';
export { ROOMS_PROTOCOL } from './rooms/protocol.js';
export {
  type RedisClientLike,
  type RedisRoomEngine,
  redisRooms,
  type RedisRoomsOptions,
  type RedisSubscriberLike,
} from './rooms/redisRooms.js';
export { RoomGapError } from './rooms/RoomGapError.js';
export { type RoomClient, roomClient, type RoomClientOptions } from './rooms/roomClient.js';
export { type RoomAction, serveRooms, type ServeRoomsOptions, SLOW_SUBSCRIBER_CODE } from './rooms/serveRooms.js';
export type { EngineState, Position, RoomEngine, RoomMessage } from './rooms/types.js';
export {
  backpressure,
  type BackpressureOptions,
  type FlowControlled,
  type OverflowPolicy,
} from './operators/backpressure.js';
export { consumePackets, type ConsumePacketsOptions } from './operators/consumePackets.js';
export { decodeJsonPackets, encodeJsonPackets } from './operators/jsonPackets.js';
export type { WaterMarks } from './operators/marks.js';
export { decodeVariants, encodeVariants } from './operators/variants.js';
export { sendAll, type SendAllOptions, type SendProgress, type SendSource } from './operators/sendAll.js';
export { broadcast, type BroadcastFailure, type BroadcastResult } from './peer/broadcast.js';
export { CloseCode, WriteMode } from './peer/constants.js';
export type { CloseInfo, HandshakeInfo, OutboundData, Packet, PeerState } from './peer/types.js';
export { WebSocketCloseError } from './errors/WebSocketCloseError.js';
export { WebSocketPeer, type PeerOptions } from './peer/WebSocketPeer.js';
export { type ArgumentError, type ErrorCode, WebSocketPeerError } from './errors/WebSocketPeerError.js';
