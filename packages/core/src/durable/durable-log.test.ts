import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import { DurableLog } from './durable-log.js'
import { NodeIdentity } from '../entry/identity.js'
import { MemoryUpdateStore } from './memory-update-store.js'
import { LogDoc } from '../doc/log-doc.js'
import type { UpdateRecord } from './update-store.js'
import { seededRandom } from '../testing/index.js'
import { logDocOf } from './committed-log.js'

describe('DurableLog', () => {
  it('groups concurrent appends into few commits and acknowledges each after its commit', async () => {
    const store = new MemoryUpdateStore()
    const identity = NodeIdentity.generate()
    const durable = await DurableLog.open({ identity, store })
    const commits: number[] = []
    durable.onCommit((info) => commits.push(info.entries))
    const entries = await Promise.all(Array.from({ length: 600 }, (_, i) => durable.append({ topic: 't', kind: 'event', data: i })))
    expect(entries.map((e) => e.seq)).toEqual([...Array(600).keys()])
    expect(commits.reduce((a, b) => a + b, 0)).toBe(600)
    expect(commits.length).toBeLessThanOrEqual(4)
    // A group's small one-entry updates are stored (and sent) merged, up to 64 KiB each.
    const stored = (await store.stats()).updates
    expect(stored).toBeLessThanOrEqual(commits.length * 2)
    await durable.close()
    const again = await DurableLog.open({ identity, store: store.reopened() })
    expect(logDocOf(again).length(identity.id)).toBe(600)
  })

  it('stops accepting writes after a failed commit, so no seq can be reused', async () => {
    const store = new MemoryUpdateStore()
    const durable = await DurableLog.open({ identity: NodeIdentity.generate(), store })
    await durable.append({ topic: 't', kind: 'event', data: 'ok' })
    store.append = async (_: readonly UpdateRecord[]) => {
      throw new Error('disk full')
    }
    await expect(durable.append({ topic: 't', kind: 'event', data: 'lost' })).rejects.toMatchObject({
      code: 'STORE_FAILED',
      message: expect.stringMatching(/disk full/),
    })
    await expect(durable.append({ topic: 't', kind: 'event', data: 'after' })).rejects.toThrow(/stopped accepting writes/)
  })

  it('reports each compaction, automatic or asked for, with the snapshot it wrote', async () => {
    const store = new MemoryUpdateStore()
    const durable = await DurableLog.open({ identity: NodeIdentity.generate(), store, compactAfterUpdates: 10 })
    const seen: Array<{ upTo: number; addedBytes: number; snapshotBytes: number; seconds: number }> = []
    durable.onCompaction((info) => seen.push(info))
    durable.onCompaction(() => {
      throw new Error('a broken listener')
    })
    for (let i = 0; i < 12; i++) await durable.append({ topic: 't', kind: 'event', data: i })
    expect(seen).toHaveLength(1)
    expect(seen[0]?.upTo).toBe(10)
    await durable.append({ topic: 't', kind: 'event', data: 'last' })
    await durable.compact()
    expect(seen).toHaveLength(2)
    const state = await store.load()
    const bytes = (parts: Uint8Array[]): number => parts.reduce((n, p) => n + p.byteLength, 0)
    expect(seen[1]).toMatchObject({
      upTo: state.lastId,
      snapshotBytes: bytes(state.snapshot),
      addedBytes: bytes(state.snapshot) - (seen[0]?.snapshotBytes ?? 0),
    })
    expect(seen.every((c) => c.seconds >= 0 && c.addedBytes > 0)).toBe(true)
    expect(state.tail).toEqual([])
    // The broken listener is reported, not fatal: the log still takes writes.
    expect((await durable.append({ topic: 't', kind: 'event', data: 'after' })).seq).toBe(13)
    await durable.close()
  })

  it('checks integrity deeply: the store and every chain', async () => {
    const durable = await DurableLog.open({ identity: NodeIdentity.generate(), store: new MemoryUpdateStore() })
    for (let i = 0; i < 10; i++) await durable.append({ topic: 't', kind: 'event', data: i })
    expect(await durable.checkIntegrity()).toEqual({ ok: true, problems: [] })
  })

  it('refuses a stored log whose chain does not verify', async () => {
    const identity = NodeIdentity.generate()
    const store = new MemoryUpdateStore()
    const durable = await DurableLog.open({ identity, store })
    for (let i = 0; i < 5; i++) await durable.append({ topic: 't', kind: 'event', data: i })
    await durable.close()
    const state = await store.reopened().load()
    // Corrupt one byte of the last update's entry payload, as a bad disk would.
    const last = state.tail[state.tail.length - 1] as Uint8Array
    last[last.byteLength - 20] = (last[last.byteLength - 20] as number) ^ 0xff
    await expect(DurableLog.open({ identity, store: store.reopened() })).rejects.toMatchObject({ code: 'STORE_CORRUPT' })
  })

  it('refuses stored bytes that do not decode, and a stored log left waiting for missing updates', async () => {
    const identity = NodeIdentity.generate()
    const garbled = new MemoryUpdateStore()
    await garbled.append([{ update: new Uint8Array([1, 200, 1, 7, 7, 7]), entries: [] }])
    await expect(DurableLog.open({ identity, store: garbled })).rejects.toMatchObject({
      code: 'STORE_CORRUPT',
      message: expect.stringMatching(/cannot replay stored updates 1–1 of the tail: the bytes do not decode/),
    })

    // Another writer's second update without its first: what a changed clock or client id in stored bytes looks like.
    const other = new LogDoc({ identity: NodeIdentity.generate() })
    const updates: Uint8Array[] = []
    other.onUpdate((u) => updates.push(u))
    other.append({ topic: 't', kind: 'event', data: 0 })
    other.append({ topic: 't', kind: 'event', data: 1 })
    const holed = new MemoryUpdateStore()
    await holed.append([{ update: updates[1] as Uint8Array, entries: [] }])
    await expect(DurableLog.open({ identity, store: holed })).rejects.toMatchObject({
      code: 'STORE_CORRUPT',
      message: expect.stringMatching(/stored log is incomplete: structs wait for missing ones \(client \d+ clock \d+\)/),
    })
  })

  it('signs a trickle on the main thread and bursts on the worker, as one chain (seeded mix)', async () => {
    const identity = NodeIdentity.generate()
    const store = new MemoryUpdateStore()
    const durable = await DurableLog.open({ identity, store, signing: 'thread' })
    const random = seededRandom(7)
    let expected = 0
    for (let round = 0; round < 40; round++) {
      // A turn with one append (signed here, the worker idle), or a burst of up to 60 (the first here, the rest on the worker).
      const count = random() < 0.5 ? 1 : 1 + Math.floor(random() * 60)
      const tooLarge = random() < 0.2 ? Math.floor(random() * count) : -1
      const results = await Promise.allSettled(
        Array.from({ length: count }, (_, i) =>
          // async: an entry refused before signing throws at once, which allSettled should see as a rejection.
          (async () =>
            i === count - 1 && random() < 0.3
              ? durable.appendBatch([
                  { topic: 'g', kind: 'event', data: i },
                  { topic: 'g', kind: 'event', data: i === tooLarge ? 'x'.repeat(70_000) : -i },
                ])
              : durable.append({ topic: 't', kind: 'event', data: i === tooLarge ? 'x'.repeat(70_000) : i }))(),
        ),
      )
      for (const [i, r] of results.entries()) {
        if (i === tooLarge) {
          expect(r).toMatchObject({ status: 'rejected', reason: expect.objectContaining({ code: 'ENTRY_TOO_LARGE' }) })
          continue
        }
        expect(r.status).toBe('fulfilled')
        const got = (r as PromiseFulfilledResult<{ seq: number } | Array<{ seq: number }>>).value
        for (const entry of Array.isArray(got) ? got : [got]) expect(entry.seq).toBe(expected++)
      }
    }
    expect(logDocOf(durable).verifyChains()).toEqual({ ok: true, entries: expected })
    await durable.close()
    const again = await DurableLog.open({ identity, store: store.reopened(), signing: 'thread' })
    expect((await again.append({ topic: 't', kind: 'event', data: 'next' })).seq).toBe(expected)
    await again.close()
  })

  it('signs on a worker thread with the same chain: contiguous seqs, refusals keep the chain, restarts continue', async () => {
    const identity = NodeIdentity.generate()
    const store = new MemoryUpdateStore()
    const durable = await DurableLog.open({ identity, store, signing: 'thread' })
    const results = await Promise.allSettled(
      Array.from({ length: 900 }, async (_, i) => durable.append({ topic: 't', kind: 'event', data: i === 450 ? 'x'.repeat(70_000) : i })),
    )
    expect(results[450]).toMatchObject({ status: 'rejected', reason: expect.objectContaining({ code: 'ENTRY_TOO_LARGE' }) })
    const seqs = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.seq] : []))
    expect(seqs).toEqual([...Array(899).keys()])
    await expect(durable.append({ topic: 'bad topic', kind: 'event', data: 1 })).rejects.toThrow(/topic/)
    expect(logDocOf(durable).verifyChains()).toEqual({ ok: true, entries: 899 })
    await durable.close()
    const again = await DurableLog.open({ identity, store: store.reopened(), signing: 'thread' })
    expect((await again.append({ topic: 't', kind: 'event', data: 'next' })).seq).toBe(899)
    expect(logDocOf(again).verifyChains()).toEqual({ ok: true, entries: 900 })
    await again.close()
  })
  for (const signing of ['inline', 'thread'] as const) {
    it(`appends a batch as one update in one commit, all or nothing (signing ${signing})`, async () => {
      const identity = NodeIdentity.generate()
      const store = new MemoryUpdateStore()
      const durable = await DurableLog.open({ identity, store, signing })
      const commits: string[][] = []
      durable.onCommit((_info, _updates, rows) => commits.push(rows.map((r) => r.topic)))
      const singles = Array.from({ length: 5 }, (_, i) => durable.append({ topic: 't', kind: 'event', data: `single ${i}` }))
      const batch = durable.appendBatch(Array.from({ length: 50 }, (_, i) => ({ topic: 'b', kind: 'event' as const, data: i })))
      const [entries] = await Promise.all([batch, ...singles])
      expect(entries.map((e) => e.seq)).toEqual([...Array(50).keys()].map((i) => i + 5))
      // The whole batch went into one commit.
      expect(commits.filter((topics) => topics.includes('b')).map((topics) => topics.filter((t) => t === 'b').length)).toEqual([50])

      const bad = [
        { topic: 'b', kind: 'event' as const, data: 1 },
        { topic: 'b', kind: 'event' as const, data: 'x'.repeat(70_000) },
      ]
      await expect(durable.appendBatch(bad)).rejects.toMatchObject({
        code: 'ENTRY_TOO_LARGE',
        message: expect.stringMatching(/^batch entry 1: /),
      })
      await expect(
        durable.appendBatch([
          { topic: 'b', kind: 'event', data: 1 },
          { topic: 'bad topic', kind: 'event', data: 2 },
        ]),
      ).rejects.toThrow(/batch entry 1: .*topic/)
      await expect(durable.appendBatch([])).rejects.toThrow(/at least one entry/)
      expect((await durable.append({ topic: 't', kind: 'event', data: 'after' })).seq).toBe(55)
      expect(logDocOf(durable).verifyChains()).toEqual({ ok: true, entries: 56 })
      await durable.close()
    })
  }

  it('commits an idempotency key with the entries it names, found again after a restart', async () => {
    const identity = NodeIdentity.generate()
    const store = new MemoryUpdateStore()
    const durable = await DurableLog.open({ identity, store, signing: 'thread' })
    const requestHash = new Uint8Array(32).fill(1)
    await durable.append({ topic: 't', kind: 'event', data: 0 })
    const one = await durable.append({ topic: 't', kind: 'event', data: 1 }, { idempotency: { key: 'k1', requestHash } })
    const many = await durable.appendBatch(
      [1, 2, 3].map((data) => ({ topic: 't', kind: 'event' as const, data })),
      { idempotency: { key: 'k2', requestHash } },
    )
    await durable.close()
    const again = store.reopened()
    expect(await again.findIdempotency('k1')).toMatchObject({ key: 'k1', node: identity.id, seq: one.seq, count: 1 })
    expect(await again.findIdempotency('k2')).toMatchObject({ key: 'k2', node: identity.id, seq: many[0]?.seq, count: 3 })
    expect(await again.findIdempotency('k3')).toBeUndefined()
  })
})

describe('DurableLog.committedDiffChunks', () => {
  it('leaves out entries not yet committed, without waiting for a quiet moment', async () => {
    const identity = NodeIdentity.generate()
    const durable = await DurableLog.open({ identity, store: new MemoryUpdateStore() })
    for (let i = 0; i < 600; i++) await durable.append({ topic: 't', kind: 'event', data: i })
    // 600 committed (crossing a segment), then two pending: the diff holds exactly the 600.
    const pending = [durable.append({ topic: 't', kind: 'event', data: 'a' }), durable.append({ topic: 't', kind: 'event', data: 'b' })]
    expect(logDocOf(durable).length(identity.id)).toBe(602)
    const replica = new LogDoc()
    for (const chunk of durable.committedDiffChunks(undefined, 4096)) expect(replica.applyRemote(chunk).status).toBe('accepted')
    expect(replica.length(identity.id)).toBe(600)
    await Promise.all(pending)
    const more = durable.committedDiffChunks(Y.encodeStateVector(replica.doc), 4096)
    for (const chunk of more) replica.applyRemote(chunk)
    expect(replica.length(identity.id)).toBe(602)
    expect(replica.verifyChains()).toEqual({ ok: true, entries: 602 })
    await durable.close()
  })
})
