// Helpers for this package's tests: real nodes on 127.0.0.1:0, raw clients, polling.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { DurableLog, MemoryUpdateStore, NodeIdentity, type Membership } from '@ylog/core'
import { entryClock } from '@ylog/core/internal'
import { WebSocket } from 'ws'
import { ClientHandshake, decodeAuthMessage, encodeAuthMessage } from './auth.js'
import * as encoding from 'lib0/encoding'
import * as Y from 'yjs'
import { decodeMessage, encodeAwareness, encodeSyncUpdate, encodeYlogAuth, type Message } from './protocol.js'
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

type ServerKnob = 'allowReadOnly' | 'maxFrameBytes' | 'cluster' | 'handshakeTimeoutMs' | 'heartbeatMs' | 'logger' | 'maxBufferedBytes'
type NodeOptions = Partial<Pick<SyncServerOptions, ServerKnob | 'awareness'>> & { membership?: Membership; identity?: NodeIdentity }

export async function startNode(options: NodeOptions & { store?: MemoryUpdateStore; port?: number } = {}): Promise<TestNode> {
  const identity = options.identity ?? NodeIdentity.generate()
  const durable = await DurableLog.open({
    identity,
    store: options.store ?? new MemoryUpdateStore(),
    ...(options.membership ? { membership: options.membership } : {}),
  })
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

/** Resolves once `check` holds, checked at every message the client receives and at its close; fails after the deadline. */
export function untilReceived(client: RawClient, check: () => boolean, what = 'a message', timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error): void => {
      clearTimeout(timer)
      client.ws.off('message', test)
      client.ws.off('close', test)
      if (error === undefined) resolve()
      else reject(error)
    }
    const test = (): void => {
      if (check()) done()
    }
    const timer = setTimeout(() => done(new Error(`timed out waiting for ${what}`)), timeoutMs)
    client.ws.on('message', test)
    client.ws.on('close', test)
    test()
  })
}

/** Runs the dialer's side of the handshake on a raw client; returns the RESULT and the PROOF frame sent. */
export async function authenticate(
  client: RawClient,
  identity: NodeIdentity,
  cluster = 'ylog',
): Promise<{ ok: boolean; hello: Uint8Array; proof: Uint8Array | undefined }> {
  const handshake = new ClientHandshake(identity, cluster, () => true)
  const authMessages = () =>
    client.messages.filter((m) => m.type === 'ylog-auth').map((m) => decodeAuthMessage((m as { payload: Uint8Array }).payload))
  const hello = encodeYlogAuth(encodeAuthMessage(handshake.hello()))
  client.send(hello)
  await untilReceived(client, () => authMessages().length > 0 || client.isClosed(), 'CHALLENGE')
  const challenge = authMessages()[0]
  if (challenge === undefined || challenge.kind !== 'challenge') return { ok: false, hello, proof: undefined }
  const step = handshake.challenge(challenge)
  if (!step.ok) throw new Error(step.reason)
  const proof = encodeYlogAuth(encodeAuthMessage(step.value.proof))
  client.send(proof)
  await untilReceived(client, () => authMessages().length > 1 || client.isClosed(), 'RESULT')
  const result = authMessages()[1]
  return { ok: result?.kind === 'result' && result.ok, hello, proof }
}

export { craftAppend, fingerprint, waitFor } from '@ylog/core/testing'

/** An awareness message of `ids` client ids from `first` on, each with `state` as its JSON. */
export function awarenessFrame(first: number, ids: number, state: string): Uint8Array {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, ids)
  for (let i = 0; i < ids; i++) {
    encoding.writeVarUint(e, first + i)
    encoding.writeVarUint(e, 1)
    encoding.writeVarString(e, state)
  }
  return encodeAwareness(encoding.toUint8Array(e))
}

/**
 * The struct of an entry at `seq` in `client`'s part, appended after the
 * struct before it: an update of it alone is held when that one is missing.
 * (A segment's first entry, seq % 512 = 0, names its segment instead.)
 */
export function entryStruct(client: number, seq: number, bytes: Uint8Array): Y.Item {
  const clock = entryClock(seq)
  return new Y.Item(Y.createID(client, clock), null, Y.createID(client, clock - 1), null, null, null, null, new Y.ContentBinary(bytes))
}

/** A sync update message of 8 MiB: 4.2M one-byte skip structs, for which Y.decodeUpdate builds an object each. */
export function skipFloodFrame(): Uint8Array {
  const e = encoding.createEncoder()
  const count = 4_200_000
  for (const n of [1, count, 12345, 0]) encoding.writeVarUint(e, n)
  for (let i = 0; i < count; i++) encoding.writeUint16(e, 0x010a) // info 10 (skip), then its length 1
  encoding.writeVarUint(e, 0)
  return encodeSyncUpdate(encoding.toUint8Array(e))
}

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
