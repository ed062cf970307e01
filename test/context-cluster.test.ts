// GET /api/context across three real daemons: node 2 writes while it is cut off; node 1's context then holds
// none of those entries (and does not pretend to: no range of node 2 is reported as shown); after the heal the
// same request shows them, and the manifest's ranges cover node 2's whole log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { getJson, ProxiedCluster, waitIdentical } from './support/cluster.js'
import { postEvent } from './support/node-process.js'

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
