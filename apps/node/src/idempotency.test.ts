import { DurableLog, MemoryUpdateStore, NodeIdentity, type EntryInput } from '@ylog/core'
import { describe, expect, it } from 'vitest'
import { IdempotencyKeys } from './idempotency.js'

describe('IdempotencyKeys', () => {
  it('remembers a key for its TTL from the first entry, then treats it as new and prunes it', async () => {
    // One clock for the entries' `at` and the TTL.
    let clock = 1_000_000
    const store = new MemoryUpdateStore()
    const durable = await DurableLog.open({ identity: NodeIdentity.generate(), store, now: () => clock })
    const keys = new IdempotencyKeys(durable, store, { ttlMs: 60_000, now: () => clock })
    const writer = (input: EntryInput) => (idempotency: { key: string; requestHash: Uint8Array }) =>
      durable.appendBatch([input], { idempotency })
    const first = IdempotencyKeys.requestHash('/api/events', { data: 1 })
    const other = IdempotencyKeys.requestHash('/api/events', { data: 2 })

    const written = await keys.once('order-1', first, writer({ topic: 't', kind: 'event', data: 1 }))
    const at = (written.entries[0] as { at: number }).at
    clock = at + 59_000
    expect(await keys.once('order-1', first, writer({ topic: 't', kind: 'event', data: 1 }))).toMatchObject({
      replayed: true,
      entries: [{ seq: 0 }],
    })
    await expect(keys.once('order-1', other, writer({ topic: 't', kind: 'event', data: 2 }))).rejects.toMatchObject({
      code: 'IDEMPOTENCY_CONFLICT',
    })
    expect(await keys.pruneExpired()).toBe(0)

    // Past the TTL the key names whatever request comes next, even before a prune.
    clock = at + 61_000
    expect(await keys.once('order-1', other, writer({ topic: 't', kind: 'event', data: 2 }))).toMatchObject({
      replayed: false,
      entries: [{ seq: 1 }],
    })
    expect(await keys.once('order-1', other, writer({ topic: 't', kind: 'event', data: 2 }))).toMatchObject({
      replayed: true,
      entries: [{ seq: 1 }],
    })

    await keys.once('order-2', first, writer({ topic: 't', kind: 'event', data: 3 }))
    expect(await keys.pruneExpired()).toBe(0)
    clock += 61_000
    expect(await keys.pruneExpired()).toBe(2)
    expect(await store.findIdempotency('order-1')).toBeUndefined()
    await durable.close()
  })
})
