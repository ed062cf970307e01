import type { Entry, YlogClient } from '@ylog/client'
import { DurableLog, MemoryUpdateStore, NodeIdentity } from '@ylog/core'
import { describe, expect, it } from 'vitest'
import { verifyNode } from './verify.js'

/** A client whose readAll serves these entries, as the API would. */
function serving(entries: Entry[]): YlogClient {
  return {
    readAll: async function* () {
      yield* entries
    },
  } as unknown as YlogClient
}

async function chain(n: number): Promise<Entry[]> {
  const durable = await DurableLog.open({ identity: NodeIdentity.generate(), store: new MemoryUpdateStore() })
  for (let i = 0; i < n; i++)
    await durable.append({ topic: 't', kind: 'event', data: { i, f: i / 3 }, ...(i % 2 === 0 ? { time: 1_700_000_000_000 + i } : {}) })
  const entries = JSON.parse(JSON.stringify([...durable.entries()])) as Entry[]
  await durable.close()
  return entries
}

describe('verifyNode', () => {
  it('re-encodes served entries to their signed bytes: an intact chain verifies', async () => {
    const entries = await chain(10)
    expect(await verifyNode(serving(entries))).toEqual([{ node: entries[0]?.node, entries: 10 }])
  })

  it('names the first break per node: changed data, a forged hash, a missing seq', async () => {
    const entries = await chain(10)
    const changed = entries.map((e) => (e.seq === 6 ? { ...e, data: 'other' } : e)) as Entry[]
    expect((await verifyNode(serving(changed)))[0]?.break).toMatchObject({ seq: 6, reason: 'bad-hash' })
    const missing = entries.filter((e) => e.seq !== 3)
    expect((await verifyNode(serving(missing)))[0]?.break).toMatchObject({ seq: 3, reason: 'missing' })
  })
})
