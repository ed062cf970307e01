/**
 * Helpers for tests of the sync endpoint from outside this package (the
 * repository's test/ suites): raw WebSocket clients, the dialer's side of
 * the handshake, in-process nodes, and the wire encoders to craft frames.
 */
export { authenticate, awarenessFrame, entryStruct, rawClient, skipFloodFrame } from './test-support.js'
export { startNode, trackedNodes, untilReceived, waitFor } from './test-support.js'
export type { RawClient, TestNode } from './test-support.js'
export { decodeMessage, encodeAwareness, encodeSyncStep1, encodeSyncStep2, encodeSyncUpdate } from './protocol.js'
export { encodeYlogAuth, messageQueryAwareness } from './protocol.js'
export type { Message } from './protocol.js'
export { encodeAuthMessage } from './auth.js'
export { STEP2_CHUNK_BYTES, type SyncRefusalReason } from './channel.js'
export { closeCodeFor, SYNC_CLOSE } from './close-codes.js'
