export {
  attachSyncServer,
  DEFAULT_CLUSTER,
  DEFAULT_MAX_FRAME_BYTES,
  type SyncServerOptions,
  type SyncServerHandle,
  type SyncConnectionInfo,
} from './sync-server.js'
export { connectPeer, type PeerOptions, type PeerHandle, type PeerState } from './peer.js'
export type { SyncLogger, SyncRefusalReason } from './channel.js'
export { SYNC_CLOSE, isRefusalClose } from './close-codes.js'
