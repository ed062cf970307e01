import { describe, expect, it } from 'vitest'
import { DurableLog } from './durable-log.js'
import { NodeIdentity } from './identity.js'
import { MemoryUpdateStore } from './memory-update-store.js'
import { clocksOf, encodeSnapshotParts } from './tail-compactor.js'
import type { UpdateRecord } from './update-store.js'

const pad = 'x'.repeat(700)

/** A MemoryUpdateStore that records, in order, its commits and compaction calls. */
class RecordingStore extends MemoryUpdateStore {
  readonly events: string[] = []

  override append(records: readonly UpdateRecord[]): Promise<number> {
    this.events.push('commit')
    return super.append(records)
  }

  override compact(parts: readonly Uint8Array[], upTo: number): Promise<void> {
    this.events.push(parts.length === 0 ? `drop ${upTo}` : 'part')
    return super.compact(parts, upTo)
  }
}

describe('DurableLog compaction', () => {
  it('lets commits go on between the parts of a compaction, and drops the tail last', async () => {
    const store = new RecordingStore()
    const events = store.events
    const durable = await DurableLog.open({ identity: NodeIdentity.generate(), store, compactAfterBytes: 10 << 20, compactAfterUpdates: 1e9 })
    let next = 0
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < 16_000) await durable.append({ topic: 't', kind: 'event', data: { i: next++, pad } })
      }),
    )
    await durable.close()
    const first = events.indexOf('part')
    const drop = events.findIndex((e) => e.startsWith('drop'))
    expect(first).toBeGreaterThan(0)
    expect(drop).toBeGreaterThan(first)
    // Several parts (the tail is over 10 MiB, a part at most 4 MiB), commits between them.
    expect(events.slice(first, drop).filter((e) => e === 'part').length).toBeGreaterThanOrEqual(3)
    expect(events.slice(first, drop)).toContain('commit')
  })

  it('replays the same log after a crash between parts (parts that repeat the tail)', async () => {
    const identity = NodeIdentity.generate()
    const store = new MemoryUpdateStore()
    const durable = await DurableLog.open({ identity, store, compactAfterUpdates: 1e9, compactAfterBytes: 1e12 })
    for (let i = 0; i < 3_000; i += 100) await durable.appendBatch(Array.from({ length: 100 }, (_, j) => ({ topic: 't', kind: 'event' as const, data: { i: i + j, pad } })))
    await durable.close()
    // The first part of a compaction written, then the crash: no drop.
    const [part] = encodeSnapshotParts(durable.log.doc, new Map(), clocksOf([[identity.id, 3_000]]))
    await store.reopened().compact([part as Uint8Array], 0)

    const again = await DurableLog.open({ identity, store: store.reopened() })
    const state = await again.store.load()
    expect(state.snapshot).toHaveLength(1)
    expect(state.tail).toHaveLength(30)
    expect([...again.log.entries()]).toEqual([...durable.log.entries()])
    expect(again.log.verifyChains()).toEqual({ ok: true, entries: 3_000 })
    await again.compact()
    const after = await again.store.load()
    expect(after.tail).toEqual([])
    expect((await again.append({ topic: 't', kind: 'event', data: 'next' })).seq).toBe(3_000)
    await again.close()
    const last = await DurableLog.open({ identity, store: store.reopened(), verify: 'full' })
    expect(last.log.length(identity.id)).toBe(3_001)
    await last.close()
  })
})
