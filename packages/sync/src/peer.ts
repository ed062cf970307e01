import { YlogError, type DurableLog, type NodeId, type NodeIdentity } from '@ylog/core'
import { WebSocket } from 'ws'
import { ClientHandshake, decodeAuthMessage, encodeAuthMessage, type AuthMessage } from './auth.js'
import { isRefusalClose } from './close-codes.js'
import { silentLogger, SyncChannel, type SyncLogger, type SyncRefusalReason } from './channel.js'
import { KnownClocks, updateEnds } from './known-clocks.js'
import { encodeSyncUpdate, encodeYlogAuth, describeDecodeFailure } from './protocol.js'
import { DEFAULT_CLUSTER, DEFAULT_HEARTBEAT_MS, DEFAULT_MAX_FRAME_BYTES } from './sync-server.js'

export interface PeerOptions {
  /** The peer's sync endpoint without the cluster, e.g. ws://10.0.0.2:4747/sync; `/<cluster>` is appended. */
  url: string
  durable: DurableLog
  identity: NodeIdentity
  /** Default DEFAULT_CLUSTER ('ylog'). */
  cluster?: string
  /** If set, the server must prove it is this node. */
  expectNode?: NodeId
  logger?: SyncLogger
  /** The WebSocket class (ws's, or a subclass for tests). */
  WebSocketImpl?: typeof WebSocket
  /** Largest message taken from the peer (default 16 MiB). */
  maxFrameBytes?: number
  /**
   * Reconnect delays: min(cap, base·2^attempt), half of it jittered. Defaults 100 ms, 10 s, Math.random.
   * After a refusal (either side closed for the other's misbehaviour, or the server did not accept our proof) the next delay is the cap.
   */
  backoff?: { baseMs?: number; capMs?: number; random?: () => number }
  /**
   * When the server does not accept our proof (we are not a member there) but
   * lets us read, keep the connection as a reader (state 'reading'): the log
   * flows to this node, nothing flows back, and there are no redials. Default
   * false: close, and redial after the backoff cap.
   */
  readWhenRefused?: boolean
  /**
   * Ping the server this often and redial when nothing came back within an interval; also bounds the opening handshake at twice
   * that (default 15 s, 0: never).
   */
  heartbeatMs?: number
  /** Called when this side closes the connection for the peer's misbehaviour. */
  onRefused?: (reason: SyncRefusalReason) => void
}

/**
 * 'open': both sides authenticated, entries flow both ways. 'reading': the
 * server does not list this node as a member but lets it read, so the log
 * flows to this node only. 'connecting': dialing, or waiting to redial.
 */
export type PeerState = 'connecting' | 'open' | 'reading' | 'closed'

export interface PeerHandle {
  /** See PeerState. */
  readonly state: PeerState
  /** The node the server proved to be, once open. */
  readonly node: NodeId | null
  /** ms since the epoch of the last message received, or null. */
  readonly lastMessageAt: number | null
  /**
   * Entries the peer is known to hold that this log still lacks: what its
   * last sync step 1 listed, raised by every update it has sent since, less
   * what has been applied here. Writers this node refuses do not count.
   * Nonzero while a catch-up is in flight or updates wait for missing ones.
   */
  readonly lag: number
  /** Connection attempts since the last successful one. */
  readonly attempts: number
  /** Stops redialing and closes the connection. */
  close(): Promise<void>
}

/** The delay before redial number `attempt` (0-based): exponential, capped, the upper half jittered. */
export function backoffDelay(attempt: number, baseMs: number, capMs: number, random: () => number): number {
  const full = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30))
  return Math.round(full / 2 + (full / 2) * random())
}

/** Dials a peer's sync endpoint, authenticates both ways, syncs, and redials until closed. */
export function connectPeer(options: PeerOptions): PeerHandle {
  const { durable, identity } = options
  const cluster = options.cluster ?? DEFAULT_CLUSTER
  const logger = options.logger ?? silentLogger
  const WebSocketImpl = options.WebSocketImpl ?? WebSocket
  const url = `${options.url.replace(/\/+$/, '')}/${encodeURIComponent(cluster)}`
  let parsed: URL | undefined
  try {
    parsed = new URL(url)
  } catch {
    parsed = undefined
  }
  if (parsed === undefined || (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:')) {
    throw new YlogError(
      'BAD_ARGUMENT',
      `peer url ${JSON.stringify(options.url)} is not a ws:// or wss:// url, e.g. ws://127.0.0.1:4747/sync`,
    )
  }
  const baseMs = options.backoff?.baseMs ?? 100
  const capMs = options.backoff?.capMs ?? 10_000
  const random = options.backoff?.random ?? Math.random
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS

  let state: PeerState = 'connecting'
  let channel: SyncChannel | undefined
  let authenticated = false
  let server: NodeId | null = null
  let lastMessageAt: number | null = null
  let attempts = 0
  let timer: NodeJS.Timeout | undefined
  // What the peer holds, from the connection that last told us (kept across redials until a new step 1).
  let known = new KnownClocks()
  let closedSignal: (() => void) | undefined

  const unsubscribe = durable.onCommit((_info, updates) => {
    // Before the server accepted us, an update would only get us closed; the step 2 after auth carries it.
    if (channel === undefined || !authenticated) return
    for (const update of updates) {
      const ends = updateEnds(update)
      // Not back to the server when it sent us this very update.
      if (ends === undefined || !channel.known.holds(ends)) channel.send(encodeSyncUpdate(update))
    }
  })

  function dial(): void {
    if (state === 'closed') return
    attempts++
    const ws = new WebSocketImpl(url, {
      maxPayload: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      ...(heartbeatMs > 0 ? { handshakeTimeout: 2 * heartbeatMs } : {}),
    })
    const handshake = new ClientHandshake(identity, cluster, (node) => durable.membership.isMember(node), options.expectNode)
    authenticated = false
    // Set when this connection ended in a refusal, by either side: redialing soon would only repeat it.
    const outcome = { refused: false }
    const current: SyncChannel = new SyncChannel(
      ws,
      durable,
      logger,
      {
        // Everything from the server goes through the guard; its identity adds nothing to that.
        mayWrite: () => true,
        // The server asks again once we are authenticated; answering earlier (or as a reader) would send writes it refuses.
        onStep1: () => {
          known = current.known
          return authenticated
        },
        onMessage: (message) => {
          if (message.type === 'auth-denied') {
            logger.warn({ url, reason: message.reason }, 'sync peer denied access')
            outcome.refused = true
            current.close(1000, 'permission denied')
          } else if (message.type === 'ylog-auth') onAuth(current, handshake, message.payload, outcome)
          // Awareness is for editors, not for nodes: ignored.
        },
        onRefused: (reason, detail) => {
          logger.warn({ url, reason, detail, node: server }, 'sync peer refused')
          outcome.refused = true
          options.onRefused?.(reason)
        },
        onSkipped: (reason, detail, client) => {
          logger.warn({ url, reason, detail, client, node: server }, 'skipping the entries of a writer this node does not accept')
          options.onRefused?.(reason)
        },
        onClose: (code, reason) => {
          if (channel === current) channel = undefined
          authenticated = false
          if (state === 'closed') {
            closedSignal?.()
            return
          }
          state = 'connecting'
          const refused = outcome.refused || isRefusalClose(code)
          const delay = backoffDelay(refused ? Number.POSITIVE_INFINITY : attempts - 1, baseMs, capMs, random)
          logger.info({ url, code, reason, delay, refused }, 'sync peer connection closed; redialing')
          timer = setTimeout(dial, delay)
        },
      },
      { heartbeatMs },
    )
    channel = current
    ws.on('message', () => {
      lastMessageAt = Date.now()
    })
    ws.on('open', () => current.send(encodeYlogAuth(encodeAuthMessage(handshake.hello()))))
  }

  function onAuth(current: SyncChannel, handshake: ClientHandshake, payload: Uint8Array, outcome: { refused: boolean }): void {
    let message: AuthMessage
    try {
      message = decodeAuthMessage(payload)
    } catch (err) {
      current.refuse('auth-failed', describeDecodeFailure(err))
      return
    }
    if (message.kind === 'challenge') {
      const step = handshake.challenge(message)
      if (!step.ok) {
        current.refuse('auth-failed', step.reason)
        return
      }
      server = step.value.server
      current.send(encodeYlogAuth(encodeAuthMessage(step.value.proof)))
    } else if (message.kind === 'result' && server !== null && !authenticated && state !== 'reading') {
      if (!message.ok && message.readOnly === true && options.readWhenRefused === true) {
        // Not a member there, but allowed to read: take the log, send nothing (no step 2, no updates).
        logger.warn({ url, reason: message.reason, reading: true }, 'sync peer did not accept our proof')
        state = 'reading'
        attempts = 0
        void current.sendStep1()
        return
      }
      if (!message.ok) {
        logger.warn({ url, reason: message.reason }, 'sync peer did not accept our proof')
        outcome.refused = true
        current.close(1000, 'authentication refused')
        return
      }
      authenticated = true
      state = 'open'
      attempts = 0
      logger.info({ url, node: server }, 'sync peer authenticated')
      void current.sendStep1()
    } else current.refuse('auth-failed', `unexpected ${message.kind.toUpperCase()}`)
  }

  dial()

  return {
    get state() {
      return state
    },
    get node() {
      return server
    },
    get lastMessageAt() {
      return lastMessageAt
    },
    get lag() {
      return known.lag((client) => durable.clockOf(client))
    },
    get attempts() {
      return attempts
    },
    close() {
      if (state === 'closed') return Promise.resolve()
      state = 'closed'
      clearTimeout(timer)
      unsubscribe()
      const open = channel
      if (open === undefined || open.ws.readyState === WebSocket.CLOSED) return Promise.resolve()
      return new Promise<void>((resolve) => {
        closedSignal = resolve
        open.close(1000, 'closed')
        // A peer that never answers the closing handshake is cut after a second.
        setTimeout(() => {
          open.ws.terminate()
          resolve()
        }, 1000).unref()
      })
    },
  }
}
