// Helpers for this package's tests: real nodes on 127.0.0.1:0, raw clients, polling.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { DurableLog, MemoryUpdateStore, NodeIdentity, type Membership } from '@ylog/core'
import { WebSocket } from 'ws'
import { ClientHandshake, decodeAuthMessage, encodeAuthMessage } from './auth.js'
import { decodeMessage, encodeYlogAuth, type Message } from './protocol.js'
import { attachSyncServer, type SyncServerHandle, type SyncServerOptions } from './sync-server.js'

export interface TestNode {
  identity: NodeIdentity
  durable: DurableLog
  http: Server
  port: number
  sync: SyncServerHandle
  refused: string[]
  append(n: number, topic?: string): Promise<void>
  close(): Promise<void>
}

export async function startNode(
  options: Partial<Pick<SyncServerOptions, 'allowReadOnly' | 'maxFrameBytes' | 'cluster' | 'handshakeTimeoutMs' | 'heartbeatMs' | 'logger' | 'maxBufferedBytes' | 'awareness'>> & { membership?: Membership; identity?: NodeIdentity; store?: MemoryUpdateStore; port?: number } = {},
): Promise<TestNode> {
  const identity = options.identity ?? NodeIdentity.generate()
  const durable = await DurableLog.open({ identity, store: options.store ?? new MemoryUpdateStore(), ...(options.membership ? { membership: options.membership } : {}) })
  const http = createServer((_req, res) => res.writeHead(404).end())
  await new Promise<void>((resolve) => http.listen(options.port ?? 0, '127.0.0.1', resolve))
  const refused: string[] = []
  const sync = attachSyncServer({
    server: http,
    durable,
    identity,
    allowReadOnly: options.allowReadOnly ?? true,
    ...(options.maxFrameBytes !== undefined ? { maxFrameBytes: options.maxFrameBytes } : {}),
    ...(options.cluster !== undefined ? { cluster: options.cluster } : {}),
    ...(options.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: options.handshakeTimeoutMs } : {}),
    ...(options.heartbeatMs !== undefined ? { heartbeatMs: options.heartbeatMs } : {}),
    ...(options.logger !== undefined ? { logger: options.logger } : {}),
    ...(options.maxBufferedBytes !== undefined ? { maxBufferedBytes: options.maxBufferedBytes } : {}),
    ...(options.awareness !== undefined ? { awareness: options.awareness } : {}),
    onRefused: (reason) => refused.push(reason),
  })
  return {
    identity,
    durable,
    http,
    port: (http.address() as AddressInfo).port,
    sync,
    refused,
    async append(n, topic = 't') {
      for (let i = 0; i < n; i++) await durable.append({ topic, kind: 'event', data: { i } })
    },
    async close() {
      await sync.close()
      http.closeAllConnections()
      await new Promise<void>((resolve) => http.close(() => resolve()))
      await durable.close()
    },
  }
}

/** Polls until `check` returns true; fails with `what` after the deadline. */
export async function waitFor(check: () => boolean, what = 'condition', timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

export interface RawClient {
  ws: WebSocket
  messages: Message[]
  closed: Promise<{ code: number; reason: string }>
  isClosed(): boolean
  send(frame: Uint8Array): void
}

/** A bare ws client that records what it receives (decoded) and how it was closed. */
export async function rawClient(port: number, path = '/sync/ylog'): Promise<RawClient> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`)
  const messages: Message[] = []
  let closedFlag = false
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => {
      closedFlag = true
      resolve({ code, reason: reason.toString() })
    }),
  )
  ws.on('error', () => undefined)
  ws.on('message', (data) => messages.push(decodeMessage(new Uint8Array(data as Buffer))))
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)))
    ws.once('error', reject)
  })
  return { ws, messages, closed, isClosed: () => closedFlag, send: (frame) => ws.send(frame) }
}

/** Runs the dialer's side of the handshake on a raw client; returns the RESULT and the PROOF frame sent. */
export async function authenticate(client: RawClient, identity: NodeIdentity, cluster = 'ylog'): Promise<{ ok: boolean; hello: Uint8Array; proof: Uint8Array | undefined }> {
  const handshake = new ClientHandshake(identity, cluster, () => true)
  const authMessages = () => client.messages.filter((m) => m.type === 'ylog-auth').map((m) => decodeAuthMessage((m as { payload: Uint8Array }).payload))
  const hello = encodeYlogAuth(encodeAuthMessage(handshake.hello()))
  client.send(hello)
  await waitFor(() => authMessages().length > 0 || client.isClosed(), 'CHALLENGE')
  const challenge = authMessages()[0]
  if (challenge === undefined || challenge.kind !== 'challenge') return { ok: false, hello, proof: undefined }
  const step = handshake.challenge(challenge)
  if (!step.ok) throw new Error(step.reason)
  const proof = encodeYlogAuth(encodeAuthMessage(step.value.proof))
  client.send(proof)
  await waitFor(() => authMessages().length > 1 || client.isClosed(), 'RESULT')
  const result = authMessages()[1]
  return { ok: result?.kind === 'result' && result.ok, hello, proof }
}

export { craftAppend, fingerprint } from '@ylog/core/testing'

/**
 * Per-file test scaffolding: `node()` starts a TestNode that is closed after
 * the test, and `cleanup` takes any other teardown step (run in reverse).
 */
export function trackedNodes(afterEach: (fn: () => Promise<void>) => void): {
  cleanup: Array<() => Promise<void> | void>
  node: (options?: Parameters<typeof startNode>[0]) => Promise<TestNode>
} {
  const cleanup: Array<() => Promise<void> | void> = []
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step()
  })
  return {
    cleanup,
    node: async (options = {}) => {
      const n = await startNode(options)
      cleanup.push(() => n.close())
      return n
    },
  }
}
