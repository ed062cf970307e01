// GET /api/context across three real daemons: node 2 writes while it is cut off; node 1's context then holds
// none of those entries (and does not pretend to: no range of node 2 is reported as shown); after the heal the
// same request shows them, and the manifest's ranges cover node 2's whole log. Then a real hole: node 1 gets
// node 2's newest entries before the ones they follow, and its context names the seqs it knows it lacks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { getJson, ProxiedCluster, waitIdentical, waitUntil } from './support/cluster.js'
import { postEvent } from './support/node-process.js'
import { cutOffWriter, sendAhead } from './support/real-hole.js'

interface Context {
  text: string
  tokens: number
  manifest: { nodes: Array<{ node: string; included: Array<{ from: number; to: number }>; omitted: unknown[]; missing: unknown[] }> }
}

let cluster: ProxiedCluster

beforeAll(async () => {
  cluster = await ProxiedCluster.start(3, ProxiedCluster.mesh(3))
}, 60_000)

afterAll(async () => {
  await cluster?.close()
})

describe('GET /api/context in a cluster', () => {
  it('shows a partitioned writer’s entries only once they arrived, and every range of it after the heal', async () => {
    const [a, b, c] = cluster.urls() as [string, string, string]
    await postEvent(a, { step: 'before' }, 'agents')
    await waitIdentical(cluster.urls())
    for (const proxy of cluster.around(2)) proxy.partition('blackhole')
    const written = []
    for (let i = 0; i < 5; i++) written.push(await postEvent(c, { step: `cut-off-${i}` }, 'agents'))
    const cNode = written[0]?.node as string

    const during = await getJson<Context>(`${b}/api/context?budget=4000`)
    expect(during.text).not.toContain('cut-off-')
    expect(during.manifest.nodes.find((n) => n.node === cNode)?.included ?? []).toEqual([])

    for (const proxy of cluster.around(2)) proxy.heal()
    await waitIdentical(cluster.urls())
    const after = await getJson<Context>(`${b}/api/context?budget=4000`)
    for (let i = 0; i < 5; i++) expect(after.text).toContain(`"step":"cut-off-${i}"`)
    expect(after.manifest.nodes.find((n) => n.node === cNode)).toMatchObject({ included: [{ from: 0, to: 4 }], omitted: [], missing: [] })
    expect(after.tokens).toBeLessThanOrEqual(4000)
  }, 60_000)
})

describe('GET /api/context names a hole on a real node', () => {
  it('says which seqs of a node are known to exist but not here, until they arrive', async () => {
    const [, b] = cluster.urls() as [string, string, string]
    const { node: cNode, base } = await cutOffWriter(cluster, 2, b, 4)

    // Node 2's newest entries alone, sent to node 1 as node 2 itself would relay them: node 1 holds them and knows what lies before.
    const writer = await sendAhead(cluster, 2, b, base + 2)
    const lastSeq = base + 3
    await waitUntil(
      async () => (await getJson<{ holes: Record<string, unknown> }>(`${b}/api/heads`)).holes[cNode] !== undefined,
      () => 'the hole at node 1',
    )
    const during = await getJson<Context>(`${b}/api/context?budget=4000`)
    expect(during.manifest.nodes.find((n) => n.node === cNode)?.missing).toEqual([{ from: base, to: lastSeq }])
    expect(during.text).toMatch(
      new RegExp(`node ${cNode.slice(0, 8)}\\w*: seqs ${base}.${lastSeq} exist but have not reached this node yet`),
    )
    expect(during.text).not.toContain('held-')
    writer.ws.close()

    for (const proxy of cluster.around(2)) proxy.heal()
    await waitIdentical(cluster.urls())
    const after = await getJson<Context>(`${b}/api/context?budget=4000`)
    expect(after.manifest.nodes.find((n) => n.node === cNode)?.missing).toEqual([])
    expect(after.text).not.toContain('have not reached this node yet')
    for (let i = 0; i < 4; i++) expect(after.text).toContain(`"step":"held-${i}"`)
  }, 60_000)
})
