// A node back from an absence catches up by receiving what it lacks, not the whole log: the bytes on the
// link (counted by a fault proxy) come close to the encoded size of the missing entries.
//
//   YLOG_CATCHUP_PREFIX=100000 YLOG_CATCHUP_MISSING=1000000   shared entries first, then entries missed
import { createServer, type Server } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { DurableLog, MemoryUpdateStore, NodeIdentity, type NodeId } from '@ylog/core'
import { attachSyncServer, connectPeer, type PeerHandle, type SyncServerHandle } from '@ylog/sync'
import { waitUntil } from './support/cluster.js'
import { FaultProxy } from './support/fault-proxy.js'

const PREFIX = Number(process.env.YLOG_CATCHUP_PREFIX ?? 50_000)
const MISSING = Number(process.env.YLOG_CATCHUP_MISSING ?? 100_000)
const OWN = 100

const cleanup: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
})

/** `n` appends, 1000 in flight at a time (group commit takes each thousand in a few commits). */
async function appendMany(durable: DurableLog, n: number, tag: string): Promise<void> {
  const pad = 'x'.repeat(300) // entries of about the size the benchmarks use (~450 bytes)
  for (let i = 0; i < n; i += 1000) {
    await Promise.all(
      Array.from({ length: Math.min(1000, n - i) }, (_, k) =>
        durable.append({ topic: 'catchup', kind: 'event', data: { tag, i: i + k, pad } }),
      ),
    )
  }
}

/** Encoded bytes of a node's entries [from, to). */
function entryBytes(durable: DurableLog, node: NodeId, from: number, to: number): number {
  let total = 0
  for (let seq = from; seq < to; seq++) total += (durable.getBytes(node, seq) as Uint8Array).byteLength
  return total
}

async function serve(durable: DurableLog, identity: NodeIdentity): Promise<{ http: Server; port: number; sync: SyncServerHandle }> {
  const http = createServer((_req, res) => res.writeHead(404).end())
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  const sync = attachSyncServer({ server: http, durable, identity, allowReadOnly: false })
  cleanup.push(async () => {
    await sync.close()
    http.closeAllConnections()
    await new Promise<void>((resolve) => http.close(() => resolve()))
  })
  return { http, port: (http.address() as { port: number }).port, sync }
}

function dial(durable: DurableLog, identity: NodeIdentity, port: number): PeerHandle {
  const peer = connectPeer({ url: `ws://127.0.0.1:${port}/sync`, durable, identity, backoff: { baseMs: 20, capMs: 500 } })
  cleanup.push(() => peer.close())
  return peer
}

describe('catch-up after an absence', () => {
  it(`sends about the ${MISSING} missing entries, not the ${PREFIX} both nodes already share`, { timeout: 300_000 }, async () => {
    const a = NodeIdentity.generate()
    const durableA = await DurableLog.open({ identity: a, store: new MemoryUpdateStore() })
    cleanup.push(() => durableA.close())
    const server = await serve(durableA, a)
    const proxy = await FaultProxy.start(server.port)
    cleanup.push(() => proxy.close())

    // Both nodes share a big prefix: A's entries and a few of B's own.
    const b = NodeIdentity.generate()
    const storeB = new MemoryUpdateStore()
    let durableB = await DurableLog.open({ identity: b, store: storeB })
    await appendMany(durableA, PREFIX, 'prefix')
    await appendMany(durableB, OWN, 'b')
    let peer = dial(durableB, b, proxy.port)
    await waitUntil(
      async () => durableB.committedLength(a.id) === PREFIX && durableA.committedLength(b.id) === OWN,
      () => `B holds ${durableB.committedLength(a.id)} of A's entries, A ${durableA.committedLength(b.id)} of B's`,
      60_000,
    )
    const prefixBytes = entryBytes(durableA, a.id, 0, PREFIX)

    // B goes away (connection and process: its log is reopened from its store), A writes on.
    await peer.close()
    await durableB.close()
    await appendMany(durableA, MISSING, 'missed')
    const missingBytes = entryBytes(durableA, a.id, PREFIX, PREFIX + MISSING)

    durableB = await DurableLog.open({ identity: b, store: storeB.reopened() })
    const reopened = durableB
    cleanup.push(() => reopened.close())
    expect(durableB.committedLength(a.id)).toBe(PREFIX)
    const before = proxy.bytes
    const started = performance.now()
    peer = dial(durableB, b, proxy.port)
    await waitUntil(
      async () => reopened.committedLength(a.id) === PREFIX + MISSING,
      () => `B holds ${reopened.committedLength(a.id)} of ${PREFIX + MISSING}`,
      120_000,
    )
    await durableB.flush()
    const seconds = (performance.now() - started) / 1000
    const down = proxy.bytes.down - before.down
    const up = proxy.bytes.up - before.up

    expect([...durableB.heads()]).toEqual([...durableA.heads()])
    expect(durableB.verifyChains()).toEqual({ ok: true, entries: PREFIX + MISSING + OWN })
    // What A sent is the missing entries plus a few percent (Yjs struct headers, segments, frames)...
    expect(down).toBeGreaterThan(missingBytes)
    expect(down).toBeLessThan(missingBytes * 1.1)
    // ...so nothing of the shared prefix went again (it alone is a third of the whole at the defaults).
    expect(down).toBeLessThan(missingBytes + prefixBytes * 0.2)
    // B only said hello and what it has.
    expect(up).toBeLessThan(64 * 1024)
    console.info(
      `catch-up of ${MISSING} entries after a shared ${PREFIX}: ${(down / 1e6).toFixed(1)} MB down ` +
        `(${(down / missingBytes).toFixed(3)}x the missing entries' ${(missingBytes / 1e6).toFixed(1)} MB; ` +
        `prefix ${(prefixBytes / 1e6).toFixed(1)} MB), ${up} B up, ${seconds.toFixed(1)} s`,
    )
  })
})
