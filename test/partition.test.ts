// Three real daemons, every link through a fault proxy, writing while seeded schedules of partitions, cuts,
// resets, delays and restarts run. After the last heal the cluster must converge within 5 s with every
// acknowledged append everywhere.
//
//   YLOG_PARTITION_SEEDS=50      run 50 schedules (default 10)
//   YLOG_PARTITION_SEEDS=7,19    replay exactly these seeds (a failure names its seed and schedule)
import { createServer } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DurableLog, MemoryUpdateStore, NodeIdentity } from '@ylog/core'
import { attachSyncServer, connectPeer } from '@ylog/sync'
import { clusterProblems, ProxiedCluster, waitIdentical, waitUntil } from './support/cluster.js'
import { FaultProxy } from './support/fault-proxy.js'
import { postEvent, seededRandom } from './support/node-process.js'

const SIZE = 3
const STEPS = 6
const CONVERGE_MS = 5000

const seeds = parseSeeds(process.env.YLOG_PARTITION_SEEDS)

function parseSeeds(value: string | undefined): number[] {
  if (value === undefined || value === '') return Array.from({ length: 10 }, (_, i) => i + 1)
  if (value.includes(',')) return value.split(',').map((s) => Number(s.trim()))
  return Array.from({ length: Number(value) }, (_, i) => i + 1)
}

type Fault = 'isolate' | 'split' | 'cut' | 'reset' | 'delay' | 'drop' | 'term' | 'kill' | 'heal'
const WEIGHTED: Fault[] = [
  'isolate',
  'isolate',
  'split',
  'split',
  'cut',
  'cut',
  'reset',
  'reset',
  'delay',
  'drop',
  'term',
  'kill',
  'heal',
  'heal',
]

let cluster: ProxiedCluster
/** Every append a node acknowledged (201), across all schedules: id -> hash. */
const acked = new Map<string, string>()

beforeAll(async () => {
  cluster = await ProxiedCluster.start(SIZE, ProxiedCluster.mesh(SIZE))
}, 60_000)

afterAll(async () => {
  await cluster?.close()
})

/** `n` appends to the given nodes, 4 in flight, paced so a step overlaps the sync traffic it disturbs. */
async function write(n: number, targets: number[], rnd: () => number, tag: string): Promise<number> {
  const plan = Array.from({ length: n }, () => targets[Math.floor(rnd() * targets.length)] as number)
  const paceMs = 5 + Math.floor(rnd() * 20)
  let next = 0
  let failed = 0
  const worker = async (): Promise<void> => {
    while (next < plan.length) {
      const k = next++
      try {
        const r = await postEvent((cluster.members[plan[k] as number] as { node: { url: string } }).node.url, { tag, k })
        acked.set(`${r.node}:${r.seq}`, r.hash)
      } catch {
        // A node killed or stopping mid-request: not acknowledged, so not owed.
        failed++
      }
      // Load shaping, not synchronisation: spreads the step's writes over its faults.
      await new Promise((resolve) => setTimeout(resolve, paceMs))
    }
  }
  await Promise.all([worker(), worker(), worker(), worker()])
  return failed
}

async function runSchedule(seed: number): Promise<string[]> {
  const rnd = seededRandom(seed)
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)] as T
  const all = cluster.members.map((_, i) => i)
  const log: string[] = []
  for (let step = 0; step < STEPS; step++) {
    const fault = pick(WEIGHTED)
    const i = pick(all)
    const j = pick(all.filter((x) => x !== i))
    const writes = 20 + Math.floor(rnd() * 40)
    const tag = `s${seed}.${step}`
    switch (fault) {
      case 'isolate':
        for (const p of cluster.around(i)) p.partition('blackhole')
        break
      case 'split':
        for (const p of cluster.between(i, j)) p.partition('refuse')
        break
      case 'cut':
        for (const p of cluster.around(i)) p.cut()
        break
      case 'reset':
        for (const p of cluster.between(i, j)) p.reset()
        break
      case 'delay':
        for (const p of cluster.between(i, j)) p.delay(20 + Math.floor(rnd() * 130))
        break
      case 'drop':
        for (const p of cluster.between(i, j)) p.drop()
        break
      case 'heal':
        cluster.healAll()
        break
      case 'term':
      case 'kill':
        await cluster.stop(i, fault)
        log.push(`${fault} ${i}, ${writes} writes to the others`)
        await write(
          writes,
          all.filter((x) => x !== i),
          rnd,
          tag,
        )
        await cluster.start(i)
        continue
    }
    log.push(
      `${fault} ${i}${fault === 'split' || fault === 'reset' || fault === 'delay' || fault === 'drop' ? `-${j}` : ''}, ${writes} writes`,
    )
    await write(writes, all, rnd, tag)
  }
  return log
}

describe('a 3-node cluster under seeded network faults and restarts', () => {
  it(`converges within ${CONVERGE_MS} ms of the last heal with every acknowledged append, for ${seeds.length} schedules`, {
    timeout: 90_000 + seeds.length * 25_000,
  }, async () => {
    await waitIdentical(cluster.urls(), 20_000)
    for (const seed of seeds) {
      const before = acked.size
      const schedule = await runSchedule(seed)
      cluster.healAll()
      const healedAt = Date.now()
      const where = `seed ${seed} (${schedule.join('; ')})`
      try {
        await waitIdentical(cluster.urls(), CONVERGE_MS)
      } catch (err) {
        throw new Error(`${where}: not converged ${CONVERGE_MS} ms after the last heal: ${(err as Error).message}`)
      }
      expect(Date.now() - healedAt, where).toBeLessThanOrEqual(CONVERGE_MS + 1000)
      expect(await clusterProblems(cluster.urls(), acked), where).toEqual([])
      // The schedule really wrote: most appends went through despite the faults.
      expect(acked.size - before, where).toBeGreaterThan(STEPS * 10)
    }
  })
})

describe('a link that goes silent and never heals', () => {
  it('is noticed by the heartbeat and redialed, in-process', async () => {
    const a = NodeIdentity.generate()
    const durableA = await DurableLog.open({ identity: a, store: new MemoryUpdateStore() })
    const http = createServer()
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
    const sync = attachSyncServer({ server: http, durable: durableA, identity: a, allowReadOnly: false, heartbeatMs: 0 })
    const proxy = await FaultProxy.start((http.address() as { port: number }).port)
    const b = NodeIdentity.generate()
    const durableB = await DurableLog.open({ identity: b, store: new MemoryUpdateStore() })
    const peer = connectPeer({
      url: `ws://127.0.0.1:${proxy.port}/sync`,
      durable: durableB,
      identity: b,
      heartbeatMs: 200,
      backoff: { baseMs: 20, capMs: 200 },
    })
    try {
      await waitUntil(
        async () => peer.state === 'open',
        () => `peer ${peer.state}`,
      )
      await durableA.append({ topic: 't', kind: 'event', data: 0 })
      await waitUntil(
        async () => durableB.committedLength(a.id) === 1,
        () => 'the first entry at B',
      )
      // The current connection is blackholed for good (a NAT that forgot it); only a new one gets through.
      proxy.drop()
      for (let i = 1; i <= 5; i++) await durableA.append({ topic: 't', kind: 'event', data: i })
      await waitUntil(
        async () => durableB.committedLength(a.id) === 6,
        () => `B holds ${durableB.committedLength(a.id)} of A's 6 entries`,
        5000,
      )
      expect(peer.state).toBe('open')
      expect(sync.connections().filter((c) => c.node === b.id).length).toBeGreaterThanOrEqual(1)
    } finally {
      await peer.close()
      await proxy.close()
      await sync.close()
      http.closeAllConnections()
      await new Promise<void>((resolve) => http.close(() => resolve()))
      await durableA.close()
      await durableB.close()
    }
  })
})
