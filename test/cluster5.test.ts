// Five real daemons on a ring with two chords converge, and one killed mid-writes catches up after its restart.
import { afterAll, describe, expect, it } from 'vitest'
import { clusterProblems, nodes, ProxiedCluster, waitIdentical, waitUntil } from './support/cluster.js'
import { postEvent } from './support/node-process.js'

const SIZE = 5
// Ring 0>1>2>3>4>0 plus chords 0>2 and 1>3: every node has two or three links, node 2 three.
const LINKS: Array<[number, number]> = [...Array.from({ length: SIZE }, (_, i) => [i, (i + 1) % SIZE] as [number, number]), [0, 2], [1, 3]]

let cluster: ProxiedCluster | undefined
afterAll(async () => {
  await cluster?.close()
})

const acked = new Map<string, string>()

/** `perNode` appends to each listed node, 4 in flight per node. */
async function writeTo(c: ProxiedCluster, targets: number[], perNode: number, tag: string): Promise<void> {
  await Promise.all(
    targets.map(async (i) => {
      for (let k = 0; k < perNode; k += 4) {
        await Promise.all(
          Array.from({ length: Math.min(4, perNode - k) }, async (_, d) => {
            const r = await postEvent((c.members[i] as { node: { url: string } }).node.url, { tag, k: k + d })
            acked.set(`${r.node}:${r.seq}`, r.hash)
          }),
        )
      }
    }),
  )
}

describe('a 5-node cluster (ring plus chords)', () => {
  it('converges, and a node killed mid-writes catches up after its restart', { timeout: 180_000 }, async () => {
    cluster = await ProxiedCluster.start(SIZE, LINKS)
    const c = cluster
    const all = c.members.map((_, i) => i)
    await writeTo(c, all, 60, 'first')
    const first = await waitIdentical(c.urls(), 20_000)
    expect(first.map((h) => h.length)).toEqual(all.map(() => 60))
    expect(await clusterProblems(c.urls(), acked)).toEqual([])

    // Node 2 dies with writes in flight to it and to everyone else; the others keep writing while it is down.
    const victim = 2
    const victimId = (c.members[victim] as { node: { node: string } }).node.node
    const others = all.filter((i) => i !== victim)
    const inFlight = writeTo(c, others, 80, 'during')
    const toVictim = writeTo(c, [victim], 200, 'victim').catch(() => undefined)
    await waitUntil(
      async () => [...acked.keys()].filter((id) => id.startsWith(victimId)).length >= 80,
      () => 'some writes to node 2 acknowledged',
      20_000,
      20,
    )
    await c.stop(victim, 'kill')
    await toVictim
    await inFlight
    const ackedByVictim = [...acked.keys()].filter((id) => id.startsWith(victimId)).length
    await waitIdentical(
      others.map((i) => (c.members[i] as { node: { url: string } }).node.url),
      20_000,
    )

    await c.start(victim)
    expect(c.members[victim]?.node.node).toBe(victimId)
    await writeTo(c, all, 20, 'after')
    const heads = await waitIdentical(c.urls(), 20_000)
    expect(await clusterProblems(c.urls(), acked)).toEqual([])
    // Every acknowledged append of the killed node survived kill -9 and reached every node.
    expect(heads.find((h) => h.node === victimId)?.length).toBeGreaterThanOrEqual(ackedByVictim + 20)

    // Each node's links are back up and nothing is left to fetch.
    for (const url of c.urls()) {
      await waitUntil(
        async () => (await nodes(url)).peers.every((p) => p.state === 'open' && p.lag === 0),
        async () => `${url} peers: ${JSON.stringify((await nodes(url)).peers)}`,
        15_000,
      )
    }
    const peersPerNode = await Promise.all(c.urls().map(async (u) => (await nodes(u)).peers.length))
    expect(peersPerNode).toEqual(all.map((i) => LINKS.filter(([from]) => from === i).length))
  })
})
