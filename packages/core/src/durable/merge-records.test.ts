import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import { LogDoc } from '../doc/log-doc.js'
import { NodeIdentity } from '../entry/identity.js'
import { mergeSmallRecords } from './merge-records.js'
import type { UpdateRecord } from './update-store.js'

/** One record per append, as a DurableLog's group holds them under a trickle of writes. */
function recordsOf(doc: LogDoc, count: number, pad = 10): UpdateRecord[] {
  const records: UpdateRecord[] = []
  const off = doc.onUpdate((update) => records.push({ update, entries: [] }))
  for (let i = 0; i < count; i++) {
    const entry = doc.append({ topic: 't', kind: 'event', data: 'x'.repeat(pad) })
    ;(records[records.length - 1] as UpdateRecord).entries.push({
      node: entry.node,
      seq: entry.seq,
      at: entry.at,
      topic: 't',
      kind: 'event',
    })
  }
  off()
  return records
}

describe('mergeSmallRecords', () => {
  it("merges one node's small records into one update that a replica accepts as one run", () => {
    const doc = new LogDoc({ identity: NodeIdentity.generate() })
    const records = recordsOf(doc, 5)
    const merged = mergeSmallRecords(records)
    expect(merged).toHaveLength(1)
    expect(merged[0]?.entries.map((r) => r.seq)).toEqual([0, 1, 2, 3, 4])
    const replica = new LogDoc()
    expect(replica.applyRemote(merged[0]?.update as Uint8Array)).toMatchObject({ status: 'accepted', added: 5 })
    expect(Y.encodeStateVector(replica.doc)).toEqual(Y.encodeStateVector(doc.doc))
  })

  it('keeps apart records of different nodes, records with an idempotency key, and anything past the size cap', () => {
    const a = recordsOf(new LogDoc({ identity: NodeIdentity.generate() }), 2)
    const b = recordsOf(new LogDoc({ identity: NodeIdentity.generate() }), 2)
    expect(mergeSmallRecords([...a, ...b]).map((r) => r.entries.length)).toEqual([2, 2])

    const c = recordsOf(new LogDoc({ identity: NodeIdentity.generate() }), 3)
    const keyed = c[1] as UpdateRecord
    keyed.idempotency = { key: 'k', requestHash: new Uint8Array(32), node: keyed.entries[0]?.node as string, seq: 1, count: 1 }
    const out = mergeSmallRecords(c)
    expect(out.map((r) => r.entries.map((e) => e.seq))).toEqual([[0], [1], [2]])
    expect(out[1]).toBe(keyed)

    const big = recordsOf(new LogDoc({ identity: NodeIdentity.generate() }), 4, 400)
    const size = (big[0] as UpdateRecord).update.byteLength
    expect(mergeSmallRecords(big, size * 2 + 1).map((r) => r.entries.length)).toEqual([2, 2])
    expect(mergeSmallRecords([])).toEqual([])
  })
})
