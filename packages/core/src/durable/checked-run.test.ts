import { describe, expect, it } from 'vitest'
import { memberList } from '../doc/membership.js'
import { LogDoc } from '../doc/log-doc.js'
import { sha256 } from '../entry/bytes.js'
import { NodeIdentity } from '../entry/identity.js'
import { logDocOf } from './committed-log.js'
import { applyCheckedRun, DurableLog } from './durable-log.js'
import { MemoryUpdateStore } from './memory-update-store.js'

/** A writer's first `n` entries, as an import would have checked them. */
function writerEntries(n: number): { node: string; entries: Uint8Array[]; hashes: Uint8Array[] } {
  const writer = new LogDoc({ identity: NodeIdentity.generate() })
  writer.appendBatch(Array.from({ length: n }, (_, i) => ({ topic: 'imp', kind: 'event' as const, data: { i } })))
  const node = writer.identity?.id as string
  const entries = Array.from({ length: n }, (_, seq) => writer.getBytes(node, seq) as Uint8Array)
  return { node, entries, hashes: entries.map((e) => sha256(e)) }
}

describe('applyCheckedRun', () => {
  it('adds a checked run as synced entries, committed and replayed like any other; held ones are skipped byte for byte', async () => {
    const { node, entries, hashes } = writerEntries(10)
    const store = new MemoryUpdateStore()
    const durable = await DurableLog.open({ identity: NodeIdentity.generate(), store })
    expect(await applyCheckedRun(durable, { node, fromSeq: 0, entries: entries.slice(0, 6), hashes: hashes.slice(0, 6) })).toBe(6)
    // Overlapping what is held: only seqs 6-9 are new.
    expect(await applyCheckedRun(durable, { node, fromSeq: 4, entries: entries.slice(4), hashes: hashes.slice(4) })).toBe(4)
    expect(await applyCheckedRun(durable, { node, fromSeq: 2, entries: entries.slice(2, 5), hashes: hashes.slice(2, 5) })).toBe(0)
    expect(durable.committedLength(node)).toBe(10)
    expect(durable.range(node).map((e) => e.data)).toEqual(Array.from({ length: 10 }, (_, i) => ({ i })))
    expect(logDocOf(durable).verifyChains().ok).toBe(true)
    await durable.close()
    const again = await DurableLog.open({ identity: NodeIdentity.generate(), store: store.reopened() })
    expect(again.heads().get(node)).toMatchObject({ length: 10 })
    await again.close()
  })

  it('refuses a run that starts past the head, does not link to it, differs from what is held, or is not a member', async () => {
    const { node, entries, hashes } = writerEntries(6)
    const other = writerEntries(6)
    const durable = await DurableLog.open({ identity: NodeIdentity.generate(), store: new MemoryUpdateStore() })
    await applyCheckedRun(durable, { node, fromSeq: 0, entries: entries.slice(0, 3), hashes: hashes.slice(0, 3) })
    await expect(applyCheckedRun(durable, { node, fromSeq: 4, entries: entries.slice(4), hashes: hashes.slice(4) })).rejects.toMatchObject({
      code: 'BROKEN_CHAIN',
      message: expect.stringMatching(/holds seqs 0-2 of it; the seqs between are missing/),
    })
    // Another writer's seq 3 in this node's place: its prev is not this head's hash.
    const wrongLink = { node, fromSeq: 3, entries: other.entries.slice(3), hashes: other.hashes.slice(3) }
    await expect(applyCheckedRun(durable, wrongLink)).rejects.toMatchObject({ code: 'BROKEN_CHAIN' })
    const forked = { node, fromSeq: 1, entries: other.entries.slice(1, 4), hashes: other.hashes.slice(1, 4) }
    await expect(applyCheckedRun(durable, forked)).rejects.toMatchObject({ code: 'FORKED' })
    expect(durable.committedLength(node)).toBe(3)
    const self = NodeIdentity.generate()
    const closed = await DurableLog.open({ identity: self, store: new MemoryUpdateStore(), membership: memberList([self.id, other.node]) })
    await expect(applyCheckedRun(closed, { node, fromSeq: 0, entries, hashes })).rejects.toMatchObject({ code: 'NOT_MEMBER' })
    await Promise.all([durable.close(), closed.close()])
  })
})
