import { createServer } from 'node:http'
import type { Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { YlogError } from '@ylog/core'
import { WebSocket } from 'ws'
import { backoffDelay, connectPeer, type PeerHandle, type PeerOptions } from './peer.js'
import { attachSyncServer } from './sync-server.js'
import { waitFor, type TestNode, trackedNodes } from './test-support.js'

const { cleanup, node } = trackedNodes(afterEach)

function dial(from: TestNode, to: { port: number }, extra: Partial<PeerOptions> = {}): PeerHandle {
  const peer = connectPeer({
    url: `ws://127.0.0.1:${to.port}/sync`,
    durable: from.durable,
    identity: from.identity,
    backoff: { baseMs: 20, capMs: 200 },
    ...extra,
  })
  cleanup.push(() => peer.close())
  return peer
}

const headsOf = (n: TestNode): string => JSON.stringify([...n.durable.heads().values()])

describe('connectPeer', () => {
  it('catches up a log larger than a frame: sync step 2 arrives in chunks', async () => {
    const a = await node()
    await a.append(8000) // ~3.5 MB of entries
    const b = await node({ maxFrameBytes: 1024 * 1024 })
    const link = dial(b, a, { maxFrameBytes: 1024 * 1024 })
    await waitFor(() => b.durable.committedLength(a.identity.id) === 8000, 'all 8000 entries at b', { timeoutMs: 20_000 })
    expect(link.state).toBe('open')
    expect(b.durable.verifyChains()).toEqual({ ok: true, entries: 8000 })
  })

  it('syncs a line A - B - C both ways, authenticated', async () => {
    const [a, b, c] = [await node(), await node(), await node()]
    await a.append(3)
    await c.append(2)
    const ab = dial(a, b, { expectNode: b.identity.id })
    const bc = dial(b, c)
    await waitFor(() => ab.state === 'open' && bc.state === 'open', 'both links open')
    expect(ab.node).toBe(b.identity.id)
    await a.append(4)
    await c.append(5)
    await waitFor(
      () => [a, b, c].every((n) => n.durable.committedLength(a.identity.id) === 7 && n.durable.committedLength(c.identity.id) === 7),
      'every entry everywhere',
    )
    await b.append(1)
    await waitFor(() => [a, c].every((n) => n.durable.committedLength(b.identity.id) === 1), "b's entry at a and c")
    expect(headsOf(a)).toBe(headsOf(b))
    expect(headsOf(b)).toBe(headsOf(c))
    expect([a, b, c].flatMap((n) => n.refused)).toEqual([])
    expect(b.sync.connections().map((x) => x.node)).toEqual([a.identity.id])
    expect(ab.lag).toBe(0)
    expect(ab.lastMessageAt).not.toBeNull()
  })

  it('does not echo an update back to the side it came from, either way', async () => {
    const a = await node()
    const b = await node()
    const peer = dial(a, b)
    await waitFor(() => peer.state === 'open', 'open')
    await a.append(1)
    await waitFor(() => b.durable.committedLength(a.identity.id) === 1, 'the first entry at b')
    await b.durable.flush()
    const start = b.sync.connections()[0] as { messagesIn: number; messagesOut: number }
    // a -> b: 20 updates in, none back out.
    await a.append(20)
    await waitFor(() => b.durable.committedLength(a.identity.id) === 21, "a's entries at b")
    await b.durable.flush()
    const mid = b.sync.connections()[0] as { messagesIn: number; messagesOut: number }
    expect(mid.messagesIn - start.messagesIn).toBe(20)
    expect(mid.messagesOut - start.messagesOut).toBe(0)
    // b -> a: 20 updates out, none back in.
    await b.append(20)
    await waitFor(() => a.durable.committedLength(b.identity.id) === 20, "b's entries at a")
    await a.durable.flush()
    const end = b.sync.connections()[0] as { messagesIn: number; messagesOut: number }
    expect(end.messagesOut - mid.messagesOut).toBe(20)
    expect(end.messagesIn - mid.messagesIn).toBe(0)
    expect(peer.lag).toBe(0)
  })

  it('drops a connection that went silent (heartbeat) and redials', async () => {
    // The server neither pings nor reads once stalled: only the dialer's heartbeat can notice.
    const b = await node({ heartbeatMs: 0 })
    const sockets: Socket[] = []
    b.http.on('upgrade', (_req, socket: Socket) => sockets.push(socket))
    const a = await node()
    const warnings: string[] = []
    const logger = { info: () => undefined, warn: (_obj: object, msg: string) => void warnings.push(msg) }
    const peer = dial(a, b, { heartbeatMs: 100, logger })
    await waitFor(() => peer.state === 'open', 'open')
    // The far side stops reading, as when its host vanished: TCP stays up, nothing answers.
    for (const socket of sockets) socket.pause()
    await waitFor(() => warnings.includes('sync connection silent for a whole heartbeat; dropping it'), 'the silence noticed')
    await b.append(3)
    await waitFor(
      () => peer.state === 'open' && a.durable.committedLength(b.identity.id) === 3,
      'a new connection, and what b wrote meanwhile',
    )
    expect(sockets.length).toBe(2)
  })

  it('asks again when an update was lost on a live connection (held ones would otherwise wait for a redial)', async () => {
    const a = await node()
    const b = await node()
    // Drops the first sync update (message type 0, sub-type 2) it receives after the connection is open.
    let dropped = 0
    class LossyWebSocket extends WebSocket {
      override emit(event: string | symbol, ...args: unknown[]): boolean {
        const data = args[0]
        if (event === 'message' && dropped === 0 && Buffer.isBuffer(data) && data[0] === 0 && data[1] === 2 && peer.state === 'open') {
          dropped++
          return true
        }
        return super.emit(event, ...args)
      }
    }
    const peer = dial(a, b, { WebSocketImpl: LossyWebSocket })
    await waitFor(() => peer.state === 'open', 'open')
    await b.append(5)
    await waitFor(() => a.durable.committedLength(b.identity.id) === 5, 'all 5 at a, the lost first one included', { timeoutMs: 5000 })
    expect(dropped).toBe(1)
    expect(peer.attempts).toBe(0)
    expect(b.sync.connections()).toHaveLength(1)
    expect(peer.lag).toBe(0)
  })

  it('redials after the server restarts and catches up', async () => {
    const a = await node()
    const b = await node()
    const peer = dial(a, b)
    await waitFor(() => peer.state === 'open', 'open')
    await b.append(2)
    await waitFor(() => a.durable.committedLength(b.identity.id) === 2, 'first entries')

    // Stop b's HTTP and sync server (its log stays), write meanwhile, then listen on the same port again.
    await b.sync.close()
    b.http.closeAllConnections()
    await new Promise<void>((resolve) => b.http.close(() => resolve()))
    await waitFor(() => peer.state === 'connecting', 'the peer notices')
    await b.append(3)
    await a.append(1)
    const http = createServer((_req, res) => res.writeHead(404).end())
    await new Promise<void>((resolve) => http.listen(b.port, '127.0.0.1', resolve))
    const sync = attachSyncServer({ server: http, durable: b.durable, identity: b.identity, allowReadOnly: true })
    cleanup.push(async () => {
      await sync.close()
      http.closeAllConnections()
      await new Promise<void>((resolve) => http.close(() => resolve()))
    })
    await waitFor(() => peer.state === 'open', 'open again')
    await waitFor(
      () => a.durable.committedLength(b.identity.id) === 5 && b.durable.committedLength(a.identity.id) === 1,
      'caught up both ways',
    )
    expect(headsOf(a)).toBe(headsOf(b))
  })

  it('reports connecting while the server is down, then closes cleanly', async () => {
    const a = await node()
    const peer = connectPeer({ url: 'ws://127.0.0.1:1/sync', durable: a.durable, identity: a.identity, backoff: { baseMs: 5, capMs: 20 } })
    await waitFor(() => peer.attempts >= 3, 'several attempts')
    expect(peer.state).toBe('connecting')
    await peer.close()
    expect(peer.state).toBe('closed')
    const attempts = peer.attempts
    await new Promise((r) => setTimeout(r, 60))
    expect(peer.attempts).toBe(attempts)
  })

  it('refuses a server that is not the expected node', async () => {
    const a = await node()
    const b = await node()
    const refused: string[] = []
    const peer = dial(a, b, { expectNode: a.identity.id, onRefused: (r) => refused.push(r) })
    await waitFor(() => refused.length > 0, 'a refusal')
    expect(refused[0]).toBe('auth-failed')
    expect(peer.state).not.toBe('open')
  })

  it('refuses a url that is not ws://', async () => {
    const a = await node()
    expect(() => connectPeer({ url: 'http://x/sync', durable: a.durable, identity: a.identity })).toThrow(YlogError)
  })
})

describe('backoffDelay', () => {
  it('doubles from the base up to the cap, jittering the upper half', () => {
    expect([0, 1, 2, 3].map((n) => backoffDelay(n, 100, 10_000, () => 0))).toEqual([50, 100, 200, 400])
    expect([0, 1, 2, 3].map((n) => backoffDelay(n, 100, 10_000, () => 1))).toEqual([100, 200, 400, 800])
    expect(backoffDelay(20, 100, 10_000, () => 0.5)).toBe(7500)
    expect(backoffDelay(1000, 100, 10_000, () => 1)).toBe(10_000)
  })
})
