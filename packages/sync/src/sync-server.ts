import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import type { DurableLog, NodeId, NodeIdentity } from '@ylog/core'
import { WebSocketServer, type WebSocket } from 'ws'
import { encodeAwarenessUpdate } from 'y-protocols/awareness'
import { AwarenessRelay } from './awareness-relay.js'
import { decodeAuthMessage, encodeAuthMessage, ServerHandshake, type AuthMessage } from './auth.js'
import { silentLogger, SyncChannel, type SyncLogger, type SyncRefusalReason } from './channel.js'
import { updateEnds } from './known-clocks.js'
import { DEFAULT_MAX_AWARENESS_CLIENTS, DEFAULT_MAX_AWARENESS_STATE_BYTES, DEFAULT_MAX_BUFFERED_BYTES } from './limits.js'
import { encodeAwareness, encodeSyncUpdate, encodeYlogAuth, describeDecodeFailure } from './protocol.js'

/** The cluster name when none is given: the endpoint is /sync/ylog. */
export const DEFAULT_CLUSTER = 'ylog'

export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5000
export const DEFAULT_HEARTBEAT_MS = 15_000
/** How a RESULT ok=false starts when the server keeps the connection as a reader. */

export interface SyncServerOptions {
  /** The node's HTTP server; the sync endpoint shares its port via 'upgrade'. */
  server: Server
  durable: DurableLog
  identity: NodeIdentity
  /** The endpoint is /sync/<cluster>; peers must name the same cluster in their HELLO. Default DEFAULT_CLUSTER ('ylog'). */
  cluster?: string
  /** Largest WebSocket message accepted; ws refuses bigger ones (close 1009) before buffering them. Default 16 MiB. */
  maxFrameBytes?: number
  /** Keep unauthenticated connections (stock clients) as readers? If false they are closed after the handshake timeout. */
  allowReadOnly: boolean
  /** How long an unauthenticated connection may stay when allowReadOnly is false (default 5 s). */
  handshakeTimeoutMs?: number
  /** Ping every connection this often and drop one that answered nothing within an interval (default 15 s, 0: never). */
  heartbeatMs?: number
  /** Unsent bytes one connection may leave waiting before it is cut as not reading (default 16 MiB). */
  maxBufferedBytes?: number
  /** Awareness bounds per connection: client ids it may speak for (default 8), bytes of one state (default 64 KiB). */
  awareness?: { maxClients?: number; maxStateBytes?: number }
  logger?: SyncLogger
  /** Called once per connection closed for misbehaving, with the reason (for a metric). */
  onRefused?: (reason: SyncRefusalReason) => void
}

export interface SyncConnectionInfo {
  remoteAddress: string | undefined
  /** The member node this connection authenticated as, or null for a read-only one. */
  node: NodeId | null
  /** ms since the epoch of the last message received, or null. */
  lastMessageAt: number | null
  messagesIn: number
  messagesOut: number
}

export interface SyncServerHandle {
  /** Closes every sync connection and stops taking upgrades; the HTTP server itself stays up. */
  close(): Promise<void>
  connections(): SyncConnectionInfo[]
}

interface Connection {
  channel: SyncChannel
  remoteAddress: string | undefined
  node: NodeId | null
  handshake: ServerHandshake
  timer: NodeJS.Timeout | undefined
}

/** Serves y-websocket sync for one cluster on an existing HTTP server. */
export function attachSyncServer(options: SyncServerOptions): SyncServerHandle {
  const { server, durable, identity, allowReadOnly } = options
  const cluster = options.cluster ?? DEFAULT_CLUSTER
  const logger = options.logger ?? silentLogger
  const path = `/sync/${cluster}`
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES })
  const open = new Set<Connection>()
  // Awareness is relayed between clients only; its own doc keeps it away from the log.
  const relay = new AwarenessRelay<Connection>({
    maxClients: options.awareness?.maxClients ?? DEFAULT_MAX_AWARENESS_CLIENTS,
    maxStateBytes: options.awareness?.maxStateBytes ?? DEFAULT_MAX_AWARENESS_STATE_BYTES,
  })
  const channelOptions = {
    heartbeatMs: options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS,
    maxBufferedBytes: options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES,
  }

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (url.pathname !== path) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      socket.destroy()
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, req))
  }
  server.on('upgrade', onUpgrade)

  const unsubscribe = durable.onCommit((_info, updates) => {
    // Only committed updates leave the node; each one to every open connection.
    for (const update of updates) {
      const frame = encodeSyncUpdate(update)
      const ends = updateEnds(update)
      // Not back to a connection that holds it already (typically the one it came from).
      for (const conn of open) if (mayRead(conn) && !(ends !== undefined && conn.channel.known.holds(ends))) conn.channel.send(frame)
    }
  })

  relay.awareness.on('update', ({ added, updated, removed }: { added: number[]; updated: number[]; removed: number[] }) => {
    const frame = encodeAwareness(encodeAwarenessUpdate(relay.awareness, [...added, ...updated, ...removed]))
    for (const conn of open) if (mayRead(conn)) conn.channel.send(frame)
  })

  // Without read-only access, nothing of the log or of awareness goes to a connection before it authenticated.
  const mayRead = (conn: Connection): boolean => allowReadOnly || conn.node !== null

  function accept(ws: WebSocket, req: IncomingMessage): void {
    const conn: Connection = {
      channel: undefined as unknown as SyncChannel,
      remoteAddress: req.socket.remoteAddress,
      node: null,
      handshake: new ServerHandshake(identity, cluster, (node) => durable.membership.isMember(node)),
      timer: undefined,
    }
    conn.channel = new SyncChannel(
      ws,
      durable,
      logger,
      {
        mayWrite: () => conn.node !== null,
        onStep1: () => mayRead(conn),
        onMessage: (message) => {
          if (message.type === 'ylog-auth') onAuth(conn, message.payload)
          else if (message.type === 'auth-denied') conn.channel.refuse('malformed-frame', 'permission-denied is for clients, not servers')
          // Until it may read (no readers here, and not yet authenticated), awareness is neither relayed nor answered.
          else if (!mayRead(conn)) return
          else if (message.type === 'awareness') {
            const verdict = relay.apply(conn, message.update)
            if (!verdict.ok) conn.channel.refuse(verdict.reason, verdict.detail)
          } else if (message.type === 'query-awareness') {
            conn.channel.send(encodeAwareness(relay.encodeAll()))
          }
        },
        onRefused: (reason, detail) => {
          logger.warn({ reason, detail, remoteAddress: conn.remoteAddress, node: conn.node }, 'sync connection refused')
          options.onRefused?.(reason)
        },
        onSkipped: (reason, detail, client) => {
          logger.warn(
            { reason, detail, client, remoteAddress: conn.remoteAddress, node: conn.node },
            'skipping the entries of a writer this node does not accept',
          )
          options.onRefused?.(reason)
        },
        onClose: () => {
          open.delete(conn)
          clearTimeout(conn.timer)
          relay.remove(conn)
        },
      },
      channelOptions,
    )
    open.add(conn)
    if (!allowReadOnly) {
      conn.timer = setTimeout(() => {
        if (conn.node === null)
          conn.channel.refuse(
            'auth-timeout',
            'no authentication within the handshake timeout, and this node takes no read-only connections',
          )
      }, options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS)
    }
    if (allowReadOnly) void conn.channel.sendStep1()
    logger.info({ remoteAddress: conn.remoteAddress }, 'sync connection opened')
  }

  function onAuth(conn: Connection, payload: Uint8Array): void {
    let message: AuthMessage
    try {
      message = decodeAuthMessage(payload)
    } catch (err) {
      conn.channel.refuse('auth-failed', describeDecodeFailure(err))
      return
    }
    const fail = (reason: string): void => {
      conn.channel.send(encodeYlogAuth(encodeAuthMessage({ kind: 'result', ok: false, reason })))
      conn.channel.refuse('auth-failed', reason)
    }
    if (message.kind === 'hello') {
      const step = conn.handshake.hello(message)
      if (step.ok) conn.channel.send(encodeYlogAuth(encodeAuthMessage(step.value)))
      else fail(step.reason)
      return
    }
    const step = conn.handshake.proof(message)
    if (!step.ok && step.notMember === true && allowReadOnly) {
      // A node this one does not list may still read, like any stock client: it gets the log instead of nothing, and stops redialing.
      conn.channel.send(
        encodeYlogAuth(
          encodeAuthMessage({
            kind: 'result',
            ok: false,
            readOnly: true,
            reason: `read-only: ${step.reason}; this connection may read the log`,
          }),
        ),
      )
      logger.warn(
        { reason: 'auth-failed', detail: step.reason, remoteAddress: conn.remoteAddress },
        'sync peer is not a member; kept as a reader',
      )
      options.onRefused?.('auth-failed')
      return
    }
    if (!step.ok) {
      fail(step.reason)
      return
    }
    conn.node = step.value
    clearTimeout(conn.timer)
    conn.channel.send(encodeYlogAuth(encodeAuthMessage({ kind: 'result', ok: true, reason: '' })))
    logger.info({ remoteAddress: conn.remoteAddress, node: conn.node }, 'sync peer authenticated')
    // The dialer holds back its step 2 until now; a fresh step 1 asks for it.
    // (The dialer sends its own step 1 after the RESULT, so it reads either way.)
    void conn.channel.sendStep1()
  }

  return {
    async close() {
      server.off('upgrade', onUpgrade)
      unsubscribe()
      for (const conn of open) {
        clearTimeout(conn.timer)
        conn.channel.close(1001, 'the node is shutting down')
      }
      relay.destroy()
      // Sockets that do not finish the closing handshake within a second are cut (ws alone waits 30 s).
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        new Promise<void>((resolve) => wss.close(() => resolve())),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, 1000))),
      ])
      clearTimeout(timer)
      for (const ws of wss.clients) ws.terminate()
    },
    connections() {
      return [...open].map((conn) => ({
        remoteAddress: conn.remoteAddress,
        node: conn.node,
        lastMessageAt: conn.channel.lastMessageAt ?? null,
        messagesIn: conn.channel.messagesIn,
        messagesOut: conn.channel.messagesOut,
      }))
    },
  }
}
