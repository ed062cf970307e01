import type { SyncRefusalReason } from './channel.js'

/**
 * Every code a sync connection is closed with, and what it means: the one
 * place they are defined. Refusals use the private range 4400-4499, which
 * y-websocket clients (3.x) read as "reconnecting will not help" and stop
 * redialing; with 1008 a stock client whose write was refused redials,
 * resyncs and writes again, in a loop. Our own dialer backs off to its cap
 * after any of them (peer.ts).
 */
export const SYNC_CLOSE = {
  malformed: { code: 4400, reason: 'a frame or an update that does not decode or breaks the protocol' },
  unauthorized: { code: 4401, reason: 'authentication failed or did not finish in time' },
  readOnly: { code: 4403, reason: 'a write from a connection that may only read' },
  refusedUpdate: { code: 4422, reason: 'an update the guard refused' },
  limit: { code: 4429, reason: 'awareness beyond its bounds; also a reader that does not read (cut without a close frame)' },
  tooBig: { code: 1009, reason: 'a frame over the size limit (closed by ws itself)' },
  internal: { code: 1011, reason: 'the node cannot take updates (its store failed); transient for a dialer' },
} as const satisfies Record<string, { code: number; reason: string }>

export const CLOSE_MALFORMED = SYNC_CLOSE.malformed.code
export const CLOSE_UNAUTHORIZED = SYNC_CLOSE.unauthorized.code
export const CLOSE_READ_ONLY = SYNC_CLOSE.readOnly.code
export const CLOSE_REFUSED_UPDATE = SYNC_CLOSE.refusedUpdate.code
export const CLOSE_LIMIT = SYNC_CLOSE.limit.code
export const CLOSE_TOO_BIG = SYNC_CLOSE.tooBig.code
export const CLOSE_INTERNAL = SYNC_CLOSE.internal.code

/** The code a refusal closes with. */
export function closeCodeFor(reason: SyncRefusalReason): number {
  switch (reason) {
    case 'malformed-frame':
    case 'malformed-update':
      return CLOSE_MALFORMED
    case 'auth-failed':
    case 'auth-timeout':
      return CLOSE_UNAUTHORIZED
    case 'read-only':
      return CLOSE_READ_ONLY
    case 'frame-too-large':
      return CLOSE_TOO_BIG
    case 'awareness-limit':
    case 'backpressure':
      return CLOSE_LIMIT
    default:
      return CLOSE_REFUSED_UPDATE
  }
}

/** Did the other side close because it refused something of ours (so redialing at once would only repeat it)? */
export const isRefusalClose = (code: number): boolean => (code >= 4400 && code < 4500) || code === CLOSE_TOO_BIG
