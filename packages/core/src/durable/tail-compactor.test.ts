import { describe, expect, it } from 'vitest'
import { NodeIdentity } from '../entry/identity.js'
import { LogDoc } from '../doc/log-doc.js'
import { clocksOf, encodeSnapshotParts, SNAPSHOT_PART_BYTES } from './tail-compactor.js'
import { missingDependencies } from '../doc/reads.js'

function logWith(count: number, pad = 10): { log: LogDoc; node: string } {
  const identity = NodeIdentity.generate()
  const log = new LogDoc({ identity })
  for (let i = 0; i < count; i += 100)
    log.appendBatch(
      Array.from({ length: Math.min(100, count - i) }, (_, j) => ({ topic: 't', kind: 'event' as const, data: 'x'.repeat(pad) + (i + j) })),
    )
  return { log, node: identity.id }
}

describe('encodeSnapshotParts', () => {
  it('holds exactly the entries between what the snapshot covers and what is committed, across segment boundaries', () => {
    const { log, node } = logWith(1500)
    // 511 and 1025 sit next to segment boundaries (512 entries a segment).
    const first = encodeSnapshotParts(log.doc, new Map(), clocksOf([[node, 511]]))
    const second = encodeSnapshotParts(log.doc, clocksOf([[node, 511]]), clocksOf([[node, 1025]]))
    const replica = new LogDoc()
    replica.loadTrusted(first, 'v2')
    expect(replica.length(node)).toBe(511)
    replica.loadTrusted(second, 'v2')
    expect(replica.length(node)).toBe(1025)
    expect(missingDependencies(replica)).toBeUndefined()
    expect(replica.verifyChains()).toEqual({ ok: true, entries: 1025 })
    expect([...replica.entries()]).toEqual([...log.entries()].slice(0, 1025))
  })

  it('is empty when nothing was committed since the snapshot', () => {
    const { log, node } = logWith(20)
    expect(encodeSnapshotParts(log.doc, clocksOf([[node, 20]]), clocksOf([[node, 20]]))).toEqual([])
    expect(encodeSnapshotParts(log.doc, new Map(), new Map())).toEqual([])
  })

  it('cuts a large tail into parts of at most about SNAPSHOT_PART_BYTES', () => {
    const { log, node } = logWith(12_000, 800)
    const parts = encodeSnapshotParts(log.doc, new Map(), clocksOf([[node, 12_000]]))
    expect(parts.length).toBeGreaterThan(1)
    for (const part of parts) expect(part.byteLength).toBeLessThan(SNAPSHOT_PART_BYTES + 2048)
    const replica = new LogDoc()
    replica.loadTrusted(parts, 'v2')
    expect(replica.length(node)).toBe(12_000)
  })
})
