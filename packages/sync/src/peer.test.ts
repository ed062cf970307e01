import { createServer } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { YlogError } from '@ylog/core'
import { backoffDelay, connectPeer, type PeerHandle, type PeerOptions } from './peer.js'
import { attachSyncServer } from './sync-server.js'
import { waitFor, type TestNode, trackedNodes } from './test-support.js'

const { cleanup, node } = trackedNodes(afterEach)

function dial(from: TestNode, to: { port: number }, extra: Partial<PeerOptions> = {}): PeerHandle {
  const peer = connectPeer({ url: `ws://127.0.0.1:${to.port}/sync`, durable: from.durable, identity: from.identity, backoff: { baseMs: 20, capMs: 200 }, ...extra })
  cleanup.push(() => peer.close())
  return peer
}

const headsOf = (n: TestNode): string => JSON.stringify([...n.durable.log.heads().values()])

describe('connectPeer', () => {
  it('catches up a log larger than a frame: sync step 2 arrives in chunks', async () => {
    const a = await node()
    await a.append(8000) // ~3.5 MB of entries
    const b = await node({ maxFrameBytes: 1024 * 1024 })
    const link = dial(b, a, { maxFrameBytes: 1024 * 1024 })
    await waitFor(() => b.durable.log.length(a.identity.id) === 8000, 'all 8000 entries at b', 20_000)
    expect(link.state).toBe('open')
    expect(b.durable.log.verifyChains()).toEqual({ ok: true, entries: 8000 })
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
    await waitFor(() => [a, b, c].every((n) => n.durable.log.length(a.identity.id) === 7 && n.durable.log.length(c.identity.id) === 7), 'every entry everywhere')
    await b.append(1)
    await waitFor(() => [a, c].every((n) => n.durable.log.length(b.identity.id) === 1), "b's entry at a and c")
    expect(headsOf(a)).toBe(headsOf(b))
    expect(headsOf(b)).toBe(headsOf(c))
    expect([a, b, c].flatMap((n) => n.refused)).toEqual([])
    expect(b.sync.connections().map((x) => x.node)).toEqual([a.identity.id])
    expect(ab.lag).toBe(0)
    expect(ab.lastMessageAt).not.toBeNull()
  })

  it('redials after the server restarts and catches up', async () => {
    const a = await node()
    const b = await node()
    const peer = dial(a, b)
    await waitFor(() => peer.state === 'open', 'open')
    await b.append(2)
    await waitFor(() => a.durable.log.length(b.identity.id) === 2, 'first entries')

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
    await waitFor(() => a.durable.log.length(b.identity.id) === 5 && b.durable.log.length(a.identity.id) === 1, 'caught up both ways')
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
