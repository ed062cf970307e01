import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { Duplex } from 'node:stream'
import type { DurableLog, NodeId, NodeIdentity } from '@ylog/core'
import {
  attachSyncServer,
  connectPeer,
  type PeerHandle,
  type PeerState,
  type SyncConnectionInfo,
  type SyncLogger,
  type SyncRefusalReason,
  type SyncServerHandle,
} from '@ylog/sync'
import type { ReadOnlySync } from './config.js'
import { isLoopback } from './loopback.js'

export interface PeerInfo {
  url: string
  state: PeerState
  node: NodeId | null
  lastMessageAt: number | null
  lag: number
}

export interface ClusterHandle {
  connections(): SyncConnectionInfo[]
  peers(): PeerInfo[]
  /** Sync server connections plus peers in state 'open'. */
  openConnections(): number
  /** Closes the peers, then the sync endpoint; the HTTP server stays up. */
  close(): Promise<void>
}

export interface ClusterOptions {
  /** The node's listening HTTP server; /sync/<cluster> shares its port. */
  server: Server
  durable: DurableLog
  identity: NodeIdentity
  cluster: string
  peers: readonly string[]
  readOnlySync: ReadOnlySync
  logger: SyncLogger
  onRefused: (reason: SyncRefusalReason) => void
}

/**
 * The node's part in the cluster: the sync endpoint on its HTTP server and a
 * connection to every configured peer.
 *
 * `readOnlySync` is decided per connection. The sync server takes one
 * allowReadOnly flag, so for 'loopback' two of them run, each on a private
 * (never listening) http.Server: upgrades from loopback addresses go to the
 * one that keeps unauthenticated readers, all others to the one that closes a
 * connection unless it authenticates as a member. Authenticated peers work on
 * both. (Awareness, which nodes ignore, is relayed within each half only.)
 */
export function joinCluster(options: ClusterOptions): ClusterHandle {
  const { server, durable, identity, cluster, logger, onRefused } = options
  const attach = (target: Server, allowReadOnly: boolean): SyncServerHandle =>
    attachSyncServer({ server: target, durable, identity, cluster, allowReadOnly, logger, onRefused })

  const servers: SyncServerHandle[] = []
  let stopRouting = (): void => undefined
  if (options.readOnlySync === 'loopback') {
    const local = createServer()
    const remote = createServer()
    servers.push(attach(local, true), attach(remote, false))
    const route = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
      const address = req.socket.remoteAddress
      const target = address !== undefined && isLoopback(address) ? local : remote
      target.emit('upgrade', req, socket, head)
    }
    server.on('upgrade', route)
    stopRouting = () => server.off('upgrade', route)
  } else {
    servers.push(attach(server, options.readOnlySync === 'any'))
  }

  const peers = options.peers.map((url) => ({
    url,
    handle: connectPeer({ url, durable, identity, cluster, logger, onRefused, readWhenRefused: true }) as PeerHandle,
  }))

  let closing: Promise<void> | undefined
  return {
    connections: () => servers.flatMap((s) => s.connections()),
    peers: () =>
      peers.map(({ url, handle }) => ({
        url,
        state: handle.state,
        node: handle.node,
        lastMessageAt: handle.lastMessageAt,
        lag: handle.lag,
      })),
    openConnections: () => servers.reduce((n, s) => n + s.connections().length, 0) + peers.filter((p) => p.handle.state === 'open').length,
    close() {
      closing ??= (async () => {
        await Promise.all(peers.map((p) => p.handle.close()))
        stopRouting()
        await Promise.all(servers.map((s) => s.close()))
      })()
      return closing
    },
  }
}
