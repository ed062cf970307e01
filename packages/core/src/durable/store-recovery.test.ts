import { describe, expect, it } from 'vitest'
import { DurableLog } from './durable-log.js'
import { NodeIdentity } from '../entry/identity.js'
import { MemoryUpdateStore } from './memory-update-store.js'
import { LogDoc } from '../doc/log-doc.js'
import { FAULTS, FaultyStore, waitFor } from '../testing/index.js'
import type { StoreHealth } from './store-health.js'
import type { EntryInput } from '../entry/entry.js'

const FAST = { firstDelayMs: 5, maxDelayMs: 20 }
const event = (data: string | number): EntryInput => ({ topic: 't', kind: 'event', data })

async function openFaulty(signing: 'inline' | 'thread', extra: { compactAfterUpdates?: number } = {}) {
  const memory = new MemoryUpdateStore()
  const store = new FaultyStore(memory)
  const identity = NodeIdentity.generate()
  const durable = await DurableLog.open({ identity, store, signing, retry: FAST, ...extra })
  const sent: Uint8Array[] = []
  durable.onCommit((_info, updates) => sent.push(...updates))
  return { memory, store, identity, durable, sent }
}

/** What a restart would replay, and what a peer that received every sent update holds: both must equal the committed log. */
async function replayedSeqs(memory: MemoryUpdateStore, identity: NodeIdentity): Promise<number> {
  const again = await DurableLog.open({ identity, store: memory.reopened() })
  const length = again.committedLength(identity.id)
  expect(again.verifyChains().ok).toBe(true)
  await again.close()
  return length
}

describe.each(['inline', 'thread'] as const)('DurableLog under storage pressure (signing %s)', (signing) => {
  it('retries a disk-full commit, drops the unacknowledged entries and signs their seqs again once space returns', async () => {
    const { memory, store, identity, durable, sent } = await openFaulty(signing)
    const acked = await Promise.all([0, 1, 2].map((i) => durable.append(event(i))))
    store.fail('append', () => FAULTS.full())
    const lost = await Promise.allSettled([3, 4, 5].map((i) => durable.append(event(i))))
    expect(lost.every((r) => r.status === 'rejected' && (r.reason as { code: string }).code === 'STORE_FULL')).toBe(true)
    expect(durable.health).toMatchObject({ state: 'retrying', failures: 1, error: { code: 'STORE_FULL' } })
    await expect(durable.append(event('refused'))).rejects.toThrow(/disk is full.*retrying|retrying.*disk is full/)
    // Still full: retries go on, each one counted, and readers never saw the failed entries.
    await waitFor(() => durable.health.attempts >= 2, 'two retries while the disk is full')
    expect(durable.committedLength(identity.id)).toBe(3)
    expect(durable.get(identity.id, 3)).toBeUndefined()

    store.heal()
    await waitFor(
      () => durable.health.state === 'ok',
      () => `recovery, health ${JSON.stringify(durable.health)}`,
    )
    expect(durable.health).toMatchObject({ failures: 1, recoveries: 1, attempts: 0 })
    const next = await Promise.all([6, 7].map((i) => durable.append(event(i))))
    expect(next.map((e) => e.seq)).toEqual([3, 4])
    expect(next[0]?.prev).toBe(acked[2]?.hash)
    expect(durable.verifyChains().ok).toBe(true)
    // A peer that applied exactly what was sent holds the same chain, and the store replays to it.
    const peer = new LogDoc()
    for (const update of sent) expect(peer.applyRemote(update).status).toBe('accepted')
    expect(peer.range(identity.id, 0, 5).map((e) => e.data)).toEqual([0, 1, 2, 6, 7])
    await durable.close()
    expect(await replayedSeqs(memory, identity)).toBe(5)
  })

  it('stops for good on a failure that cannot pass (permissions), and says so', async () => {
    const { memory, store, identity, durable } = await openFaulty(signing)
    await durable.append(event('kept'))
    const seen: StoreHealth[] = []
    durable.onHealth((h) => seen.push(h))
    store.fail('append', () => FAULTS.permission())
    const refusal = { code: 'STORE_FAILED', message: expect.stringMatching(/stopped accepting writes.*SQLITE_READONLY/) }
    await expect(durable.append(event('lost'))).rejects.toMatchObject(refusal)
    expect(seen.map((h) => h.state)).toEqual(['stopped'])
    store.heal()
    await expect(durable.append(event('after'))).rejects.toThrow(/stopped accepting writes/)
    expect(store.calls.probe).toBe(0)
    await durable.close().catch(() => undefined)
    expect(await replayedSeqs(memory, identity)).toBe(1)
  })

  it('after a failed fsync stops, and a restart keeps what reached the disk without reusing a seq', async () => {
    const { memory, store, identity, durable } = await openFaulty(signing)
    await durable.append(event(0))
    store.fail('fsync', () => FAULTS.fsync(), 1)
    await expect(durable.append(event('unknown'))).rejects.toMatchObject({ code: 'STORE_FAILED' })
    expect(durable.health.state).toBe('stopped')
    await durable.close().catch(() => undefined)
    // The bytes did reach the store: never acknowledged, but committed now, so the restart continues after them.
    const again = await DurableLog.open({ identity, store: memory.reopened() })
    expect(again.committedLength(identity.id)).toBe(2)
    expect((await again.append(event('next'))).seq).toBe(2)
    await again.close()
  })
})

describe('DurableLog recovery', () => {
  it('retries a compaction that ran out of space, leaving the snapshot and tail it had', async () => {
    const { memory, store, identity, durable } = await openFaulty('inline', { compactAfterUpdates: 4 })
    for (let i = 0; i < 3; i++) await durable.append(event(i))
    store.fail('compact', () => FAULTS.full(), 1)
    // The fourth commit lands (acknowledged), then its compaction fails: writes stop, nothing acknowledged is lost.
    await durable.append(event(3))
    await waitFor(() => durable.health.failures === 1, 'the failed compaction')
    expect((await memory.load()).tail).toHaveLength(4)
    await waitFor(() => durable.health.state === 'ok', 'recovery')
    await durable.append(event(4))
    await durable.compact()
    expect(await memory.load()).toMatchObject({ tail: [] })
    await durable.close()
    expect(await replayedSeqs(memory, identity)).toBe(5)
  })

  it('keeps retrying while the store cannot be read back, then recovers', async () => {
    const { store, identity, durable } = await openFaulty('inline')
    await durable.append(event(0))
    store.fail('append', () => FAULTS.io(), 1)
    store.fail('load', () => FAULTS.io(), 2)
    await expect(durable.append(event('lost'))).rejects.toMatchObject({ code: 'STORE_IO' })
    await waitFor(() => durable.health.state === 'ok', 'recovery after two failed loads')
    expect(store.calls.load).toBeGreaterThanOrEqual(3)
    expect((await durable.append(event(1))).seq).toBe(1)
    expect(durable.committedLength(identity.id)).toBe(2)
    await durable.close()
  })

  it('refuses remote updates while retrying and takes them again after', async () => {
    const writer = await DurableLog.open({ identity: NodeIdentity.generate(), store: new MemoryUpdateStore() })
    await writer.append(event('w'))
    const { store, durable } = await openFaulty('inline')
    store.fail('append', () => FAULTS.full(), 1)
    await expect(durable.applyRemote(writer.encodeCommitted())).rejects.toMatchObject({ code: 'STORE_FULL' })
    await waitFor(() => durable.health.state === 'ok', 'recovery')
    expect(durable.committedLength(writer.identity?.id as string)).toBe(0)
    expect(await durable.applyRemote(writer.encodeCommitted())).toMatchObject({ status: 'accepted', added: 1 })
    expect(durable.committedLength(writer.identity?.id as string)).toBe(1)
    await Promise.all([durable.close(), writer.close()])
  })
})

describe('DurableLog recovery with the signing thread busy', () => {
  it('rewinds the chain under hundreds of appends in flight when the disk fills', async () => {
    const { memory, store, identity, durable, sent } = await openFaulty('thread')
    await Promise.all(Array.from({ length: 300 }, (_, i) => durable.append(event(i))))
    store.fail('append', () => FAULTS.full())
    const during = await Promise.allSettled(Array.from({ length: 300 }, (_, i) => durable.append(event(`x${i}`))))
    const acked = 300 + during.filter((r) => r.status === 'fulfilled').length
    store.heal()
    await waitFor(() => durable.health.state === 'ok', 'recovery')
    expect(durable.committedLength(identity.id)).toBe(acked)
    const after = await Promise.all(Array.from({ length: 300 }, (_, i) => durable.append(event(`y${i}`))))
    expect(after.map((e) => e.seq)).toEqual(Array.from({ length: 300 }, (_, i) => acked + i))
    expect(durable.verifyChains().ok).toBe(true)
    const peer = new LogDoc()
    for (const update of sent) expect(peer.applyRemote(update).status).toBe('accepted')
    expect(peer.length(identity.id)).toBe(acked + 300)
    await durable.close()
    expect(await replayedSeqs(memory, identity)).toBe(acked + 300)
  })
})
