// Real daemons as a cluster: they sync over /sync, honour the membership and catch up after a restart.
import { afterEach, describe, expect, it } from 'vitest'
import { entrySet, metric, nodes, sortedHeads, waitConverged, waitUntil } from './support/cluster.js'
import { postEvent, startNode, tempDir, type RunningNode } from './support/node-process.js'

const running: RunningNode[] = []

async function start(args: string[]): Promise<RunningNode> {
  const node = await startNode(args)
  running.push(node)
  return node
}

async function stop(node: RunningNode): Promise<number | null> {
  running.splice(running.indexOf(node), 1)
  return node.stop()
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((n) => n.stop()))
})

const syncUrl = (node: RunningNode): string => `${node.url.replace(/^http/, 'ws')}/sync`

/** `n` appends, 20 at a time. */
async function append(node: RunningNode, n: number, tag: string): Promise<void> {
  for (let i = 0; i < n; i += 20) {
    await Promise.all(Array.from({ length: Math.min(20, n - i) }, (_, k) => postEvent(node.url, { tag, i: i + k })))
  }
}

/** Starts a node once on a fresh data directory to learn the id its key gives it. */
async function idOf(data: string): Promise<string> {
  const node = await start(['--data', data])
  await stop(node)
  return node.node
}

describe('a cluster of real daemons', () => {
  it('converges a line A - B - C: every node serves the same entries and heads', { timeout: 60_000 }, async () => {
    const a = await start(['--data', tempDir(), '--open-membership'])
    const b = await start(['--data', tempDir(), '--open-membership', '--peer', syncUrl(a)])
    const c = await start(['--data', tempDir(), '--open-membership', '--peer', syncUrl(b)])
    await Promise.all([append(a, 200, 'a'), append(c, 100, 'c')])

    const converged = await waitConverged([a.url, b.url, c.url], 300)
    expect(converged.map((h) => [h.node, h.length]).sort()).toEqual(
      [
        [a.node, 200],
        [c.node, 100],
      ].sort(),
    )
    const entries = await entrySet(a.url)
    expect(entries).toHaveLength(300)
    expect(await entrySet(b.url)).toEqual(entries)
    expect(await entrySet(c.url)).toEqual(entries)

    // B dialed A and was dialed by C; both links are authenticated.
    const status = await nodes(b.url)
    expect(status.peers).toEqual([expect.objectContaining({ url: syncUrl(a), state: 'open', node: a.node, lag: 0 })])
    expect(status.connections).toEqual([expect.objectContaining({ node: c.node })])
    expect(status.membership).toEqual({ mode: 'open' })
    expect(await metric(b.url, 'ylog_sync_connections')).toBe(2)
    expect(await metric(b.url, 'ylog_refused_updates_total')).toBe(0)
  })

  it('with member lists, takes entries from members only; a non-member peer is refused', { timeout: 90_000 }, async () => {
    const dataA = tempDir()
    const dataB = tempDir()
    const [idA, idB] = [await idOf(dataA), await idOf(dataB)]
    const a = await start(['--data', dataA, '--member', idB])
    const b = await start(['--data', dataB, '--member', idA, '--peer', syncUrl(a)])
    await append(a, 20, 'a')
    await waitUntil(
      async () => (await sortedHeads(b.url)).some((h) => h.node === idA && h.length === 20),
      async () => `B's heads: ${JSON.stringify(await sortedHeads(b.url))}`,
    )

    // C admits anyone, but B does not list it: B refuses its handshake, so C's entries never reach B.
    const c = await start(['--data', tempDir(), '--open-membership', '--peer', syncUrl(b)])
    await append(c, 10, 'c')
    await waitUntil(
      async () => (await metric(b.url, 'ylog_refused_updates_total')) > 0,
      async () => `B's refusals: ${await metric(b.url, 'ylog_refused_updates_total')}`,
    )
    expect(await metric(b.url, 'ylog_refused_updates_total', { reason: 'auth-failed' })).toBeGreaterThan(0)
    await append(a, 5, 'a2')
    await waitUntil(
      async () => (await sortedHeads(b.url)).some((h) => h.node === idA && h.length === 25),
      async () => `B's heads: ${JSON.stringify(await sortedHeads(b.url))}`,
    )
    const statusB = await nodes(b.url)
    expect(statusB.membership).toEqual({ mode: 'list', members: [idA, idB].sort() })
    expect(statusB.nodes.map((n) => n.node)).toEqual([idA])
    expect(statusB.connections.every((conn) => conn.node !== c.node)).toBe(true)
    expect((await nodes(a.url)).nodes.map((n) => n.node)).toEqual([idA])
    // B allows loopback readers, so the refused dialer C stays as a reader: it follows B's log, and B takes nothing from it.
    await waitUntil(
      async () => (await sortedHeads(c.url)).some((h) => h.node === idA && h.length === 25),
      async () => `C's heads: ${JSON.stringify(await sortedHeads(c.url))}`,
    )
    const statusC = await nodes(c.url)
    expect(statusC.peers).toEqual([expect.objectContaining({ url: syncUrl(b), state: 'reading' })])
    expect(c.logs.some((l) => l.msg === 'sync peer did not accept our proof')).toBe(true)
    expect((await nodes(b.url)).nodes.map((n) => n.node)).toEqual([idA])
  })

  it('a node restarted with the same data and peers catches up with what was appended while it was down', { timeout: 90_000 }, async () => {
    const a = await start(['--data', tempDir(), '--open-membership'])
    const b = await start(['--data', tempDir(), '--open-membership', '--peer', syncUrl(a)])
    const dataC = tempDir()
    const argsC = ['--data', dataC, '--open-membership', '--peer', syncUrl(b)]
    const c = await start(argsC)
    await Promise.all([append(a, 50, 'a'), append(c, 50, 'c')])
    await waitConverged([a.url, b.url, c.url], 100)

    expect(await stop(c)).toBe(0)
    await Promise.all([append(a, 100, 'a-while-c-down'), append(b, 30, 'b-while-c-down')])
    await waitConverged([a.url, b.url], 230)

    const again = await start(argsC)
    expect(again.node).toBe(c.node)
    await waitConverged([a.url, b.url, again.url], 230)
    expect(await entrySet(again.url)).toEqual(await entrySet(a.url))
    // Its own seqs continue where they stopped, and the new entry travels back.
    expect((await postEvent(again.url, 'back')).seq).toBe(50)
    await waitConverged([a.url, b.url, again.url], 231)
  })
})
