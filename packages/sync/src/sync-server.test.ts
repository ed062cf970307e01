import { afterEach, describe, expect, it } from 'vitest'
import { LogDoc } from '@ylog/core'
import { WebSocket } from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { STEP2_CHUNK_BYTES } from './channel.js'
import { CLOSE_READ_ONLY, CLOSE_UNAUTHORIZED } from './close-codes.js'
import { authenticate, fingerprint, rawClient, trackedNodes, waitFor } from './test-support.js'
import { logDocOf } from '../../core/src/durable/committed-log.js'

const { cleanup, node } = trackedNodes(afterEach)

function stockClient(port: number, cluster = 'ylog'): { doc: Y.Doc; provider: WebsocketProvider; closes: number[] } {
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(`ws://127.0.0.1:${port}/sync`, cluster, doc, {
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    disableBc: true,
  })
  const closes: number[] = []
  provider.on('connection-close', (event) => closes.push((event as { code: number } | null)?.code ?? -1))
  cleanup.push(() => {
    provider.destroy()
    doc.destroy()
  })
  return { doc, provider, closes }
}

/** What a read-only replica built from a client's doc holds for `writer`. */
function lengthSeenBy(doc: Y.Doc, writer: string): number {
  const replica = new LogDoc()
  replica.applyRemote(Y.encodeStateAsUpdate(doc))
  return replica.length(writer)
}

describe('a stock y-websocket client', () => {
  it('receives the whole log and stays live', async () => {
    const n = await node()
    await n.append(700) // more than one segment
    const { doc, provider } = stockClient(n.port)
    await waitFor(() => lengthSeenBy(doc, n.identity.id) === 700, 'the whole log at the client')
    expect(provider.synced).toBe(true)
    await n.append(3)
    await waitFor(() => lengthSeenBy(doc, n.identity.id) === 703, 'a later append at the client')
    const replica = new LogDoc()
    expect(replica.applyRemote(Y.encodeStateAsUpdate(doc))).toMatchObject({ status: 'accepted', added: 703 })
    expect([...replica.heads().values()]).toEqual([...n.durable.heads().values()])
    expect(n.refused).toEqual([])
    const [info] = n.sync.connections()
    expect(info).toMatchObject({ node: null, remoteAddress: '127.0.0.1' })
    expect(info?.messagesOut).toBeGreaterThan(1)
  })

  it('is told synced only once it holds the whole log, after a catch-up of several chunks', async () => {
    const n = await node()
    const pad = 'x'.repeat(300)
    await Promise.all(Array.from({ length: 3000 }, (_, i) => n.durable.append({ topic: 't', kind: 'event', data: { i, pad } })))
    const chunks = n.durable.committedDiffChunks(undefined, STEP2_CHUNK_BYTES).length
    expect(chunks).toBeGreaterThan(2)
    const { doc, provider } = stockClient(n.port)
    const seenAtSynced: number[] = []
    provider.on('sync', (synced: boolean) => {
      if (synced) seenAtSynced.push(lengthSeenBy(doc, n.identity.id))
    })
    await waitFor(() => seenAtSynced.length > 0, 'synced')
    expect(seenAtSynced).toEqual([3000])
  })

  it('that deletes everything changes nothing and is closed', async () => {
    const n = await node()
    await n.append(20)
    const { doc, closes } = stockClient(n.port)
    await waitFor(() => lengthSeenBy(doc, n.identity.id) === 20, 'the log at the client')
    const before = fingerprint(logDocOf(n.durable))
    doc.getMap('nodes').clear()
    await waitFor(() => closes.includes(CLOSE_READ_ONLY), 'the connection closed as read-only')
    expect(n.refused[0]).toBe('read-only')
    expect(fingerprint(logDocOf(n.durable))).toBe(before)
    expect(n.durable.committedLength(n.identity.id)).toBe(20)
  })

  it('that writes anything of its own is closed as read-only, and does not redial', async () => {
    const n = await node()
    const { doc, closes, provider } = stockClient(n.port)
    const terminal: Array<{ code: number }> = []
    provider.on('closed', (event) => terminal.push(event))
    await waitFor(() => provider.synced, 'synced')
    const before = fingerprint(logDocOf(n.durable))
    doc.getText('notes').insert(0, 'hello')
    await waitFor(() => closes.includes(CLOSE_READ_ONLY), 'closed')
    expect(n.refused[0]).toBe('read-only')
    expect(fingerprint(logDocOf(n.durable))).toBe(before)
    // y-websocket takes a 44xx close as final (with 1008 it redialed, resynced and wrote again, in a loop).
    await waitFor(() => terminal.length === 1, "the provider's 'closed' event")
    expect(terminal[0]?.code).toBe(CLOSE_READ_ONLY)
    expect(provider.shouldConnect).toBe(false)
    await waitFor(() => n.sync.connections().length === 0, 'the connection gone')
  })

  it('gets awareness relayed between clients, never into the log', async () => {
    const n = await node()
    const a = stockClient(n.port)
    const b = stockClient(n.port)
    await waitFor(() => a.provider.synced && b.provider.synced, 'both synced')
    const before = fingerprint(logDocOf(n.durable))
    a.provider.awareness.setLocalStateField('user', 'alice')
    await waitFor(() => [...b.provider.awareness.getStates().values()].some((s) => s.user === 'alice'), 'awareness at b')
    expect(fingerprint(logDocOf(n.durable))).toBe(before)
    expect(n.refused).toEqual([])
  })
})

describe('the sync endpoint', () => {
  it('answers other paths with 404', async () => {
    const n = await node()
    await expect(rawClient(n.port, '/sync/other')).rejects.toThrow(/404/)
    await expect(rawClient(n.port, '/')).rejects.toThrow(/404/)
    await expect(rawClient(n.port, '/sync')).rejects.toThrow(/404/)
  })

  it('serves the cluster it is given', async () => {
    const n = await node({ cluster: 'blue' })
    await n.append(2)
    const { doc } = stockClient(n.port, 'blue')
    await waitFor(() => lengthSeenBy(doc, n.identity.id) === 2, 'the log')
  })

  it('closes unauthenticated connections after the handshake timeout when read-only access is off, sending them nothing', async () => {
    const n = await node({ allowReadOnly: false, handshakeTimeoutMs: 200 })
    await n.append(5)
    const client = await rawClient(n.port)
    const { code, reason } = await client.closed
    expect(code).toBe(CLOSE_UNAUTHORIZED)
    expect(reason).toMatch(/auth-timeout/)
    expect(client.messages).toEqual([])
    expect(n.refused).toEqual(['auth-timeout'])
  })

  it('serves an authenticated peer when read-only access is off', async () => {
    const n = await node({ allowReadOnly: false, handshakeTimeoutMs: 300 })
    const { NodeIdentity } = await import('@ylog/core')
    const client = await rawClient(n.port)
    expect((await authenticate(client, NodeIdentity.generate())).ok).toBe(true)
    await waitFor(() => client.messages.some((m) => m.type === 'sync-step1'), 'a step 1 after auth')
    await new Promise((r) => setTimeout(r, 400)) // past the timeout: must still be open
    expect(client.isClosed()).toBe(false)
    expect(n.sync.connections()[0]?.node).not.toBeNull()
  })

  it('drops a connection that answers no ping within a heartbeat', async () => {
    const warnings: string[] = []
    const n = await node({ heartbeatMs: 100, logger: { info: () => undefined, warn: (_obj, msg) => void warnings.push(msg) } })
    const live = await rawClient(n.port)
    const silent = await rawClient(n.port)
    // Its socket no longer reads, so the server's pings go unanswered (ws answers them only when it reads).
    ;(silent.ws as unknown as { _socket: { pause(): void } })._socket.pause()
    await waitFor(() => n.sync.connections().length === 1, 'the silent connection dropped')
    expect(warnings).toContain('sync connection silent for a whole heartbeat; dropping it')
    expect(live.isClosed()).toBe(false)
  })

  it('closes every connection on close()', async () => {
    const n = await node()
    const client = await rawClient(n.port)
    await n.sync.close()
    expect((await client.closed).code).toBe(1001)
    expect(n.sync.connections()).toEqual([])
  })
})
