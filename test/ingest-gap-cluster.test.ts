// An ingest overflow on one node becomes a gap entry that every node of a
// 3-node cluster holds: the loss is part of replicated history.
import { afterEach, describe, expect, it } from 'vitest'
import { nodes, waitConverged } from './support/cluster.js'
import { readAll, startNode, tempDir, type RunningNode, type WireEntry } from './support/node-process.js'

const running: RunningNode[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((n) => n.stop()))
})

async function start(args: string[]): Promise<RunningNode> {
  const node = await startNode(args)
  running.push(node)
  return node
}

const syncUrl = (node: RunningNode): string => `${node.url.replace(/^http/, 'ws')}/sync`

describe('ingest gaps in a cluster', () => {
  it('a gap entry written for dropped events reaches every node, naming exactly the dropped count', { timeout: 60_000 }, async () => {
    const a = await start(['--data', tempDir(), '--open-membership', '--ingest-capacity', '2', '--ingest-policy', 'drop'])
    const b = await start(['--data', tempDir(), '--open-membership', '--peer', syncUrl(a)])
    const c = await start(['--data', tempDir(), '--open-membership', '--peer', syncUrl(b)])

    // 300 events at once against a queue of 2: most are refused with 503 and recorded.
    const answers = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        fetch(`${a.url}/api/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ topic: 'burst', kind: 'event', data: { i } }),
        }),
      ),
    )
    const accepted = answers.filter((r) => r.status === 201).length
    const dropped = answers.filter((r) => r.status === 503).length
    expect(accepted + dropped).toBe(300)
    expect(dropped).toBeGreaterThan(0)

    // Each node ends with the same entries: the accepted events plus the gap entries, which account for every drop.
    const gapsOf = (entries: WireEntry[]): WireEntry[] => entries.filter((e) => e.kind === 'gap')
    const named = (gaps: WireEntry[]): number =>
      gaps.reduce((n, g) => n + (g.data as { to: number }).to - (g.data as { from: number }).from + 1, 0)
    let gapsAtA: WireEntry[] = []
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 100))) {
      gapsAtA = gapsOf(await readAll(a.url))
      if (named(gapsAtA) === dropped) break
    }
    expect(named(gapsAtA)).toBe(dropped)
    await waitConverged([a.url, b.url, c.url], accepted + gapsAtA.length)
    for (const node of [b, c]) {
      const gaps = gapsOf(await readAll(node.url))
      expect(gaps.map((g) => g.hash)).toEqual(gapsAtA.map((g) => g.hash))
      expect(gaps.every((g) => g.node === a.node && (g.data as { stream: string }).stream.startsWith('http:'))).toBe(true)
      // /api/nodes counts them per writing node on every node.
      expect((await nodes(node.url)).nodes.find((n) => n.node === a.node)).toMatchObject({ gaps: gapsAtA.length })
    }
  })
})
