// Reads that merge the append journal's rows with the database's, against MemoryUpdateStore as the reference:
// seeded random logs (three nodes, tied times, three topics, every kind), moved into the database at random
// points, and seeded random queries of every shape.
import { afterAll, describe, expect, it } from 'vitest'
import { MemoryUpdateStore, NodeIdentity, type EntryKind, type IndexQuery, type IndexRow, type UpdateRecord } from '@ylog/core'
import { seededRandom } from '@ylog/core/testing'
import { SqliteUpdateStore } from './index.js'
import { tempPaths } from './test-support.js'

const { freshPath, cleanup } = tempPaths()
afterAll(cleanup)

const nodes = [NodeIdentity.generate().id, NodeIdentity.generate().id, NodeIdentity.generate().id]
const topics = ['a', 'b', 'c']
const kinds: EntryKind[] = ['event', 'transition', 'gap']

function randomLog(random: () => number): UpdateRecord[][] {
  const seqs = new Map<string, number>()
  const appends: UpdateRecord[][] = []
  let at = 1_000
  for (let i = 0; i < 60; i++) {
    const records = Array.from({ length: 1 + Math.floor(random() * 3) }, (): UpdateRecord => {
      const node = nodes[Math.floor(random() * nodes.length)] as string
      const seq = seqs.get(node) ?? 0
      seqs.set(node, seq + 1)
      // Time never goes back along one node's seqs; a third of the entries tie with the one before.
      if (random() > 0.33) at += 1 + Math.floor(random() * 5)
      const kind = kinds[Math.floor(random() * kinds.length)] as EntryKind
      const row: IndexRow = { node, seq, at, topic: topics[Math.floor(random() * topics.length)] as string, kind }
      if (kind === 'transition') row.subject = random() > 0.5 ? 's1' : 's2'
      return { update: Uint8Array.of(i), entries: [row] }
    })
    appends.push(records)
  }
  return appends
}

// Times are mostly ones the log holds, the newest (still in the journal) as often as any: bounds that tie matter most.
function randomQuery(random: () => number, rows: readonly IndexRow[]): IndexQuery {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T
  const row = (): IndexRow => (random() < 0.5 ? pick(rows.slice(-8)) : pick(rows))
  const time = (): number => (random() < 0.8 ? row().at : 1_000 + Math.floor(random() * 400))
  // A page boundary is where the previous page ended: an entry's own position, mostly.
  const position = (): { at: number; node: string; seq: number } => {
    if (random() < 0.7) {
      const { at, node, seq } = row()
      return { at, node, seq }
    }
    return { at: time(), node: pick(nodes), seq: Math.floor(random() * 25) }
  }
  const q: IndexQuery = { limit: pick([0, 1, 3, 10, 1000]) }
  if (random() < 0.3) q.topic = pick([...topics, 'none'])
  if (random() < 0.3) q.kind = pick(kinds)
  if (random() < 0.15) q.subject = pick(['s1', 's2'])
  const shape = random()
  if (shape < 0.3) q.after = new Map(nodes.filter(() => random() < 0.6).map((n) => [n, Math.floor(random() * 25)]))
  else if (shape < 0.5) q.since = time()
  else if (shape < 0.65) q.until = time()
  else if (shape < 0.85) {
    q.newestFirst = true
    if (random() < 0.6) q.before = position()
  } else q.before = position()
  return q
}

describe('index queries over the journal and the database together', () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`answers as MemoryUpdateStore does, moved at random points (seed ${seed})`, async () => {
      const random = seededRandom(seed)
      const store = SqliteUpdateStore.open(freshPath(), { appendJournal: { flushUpdates: 1 + Math.floor(random() * 12), mergeBytes: 0 } })
      const memory = new MemoryUpdateStore()
      const rows: IndexRow[] = []
      for (const records of randomLog(random)) {
        for (const record of records) rows.push(...record.entries)
        await store.append(records)
        await memory.append(records)
        // Now and then a query in the middle, while some rows are in the journal and some are not.
        if (random() < 0.2) {
          const q = randomQuery(random, rows)
          expect(await store.query(q), describeQuery(q)).toEqual(await memory.query(q))
        }
      }
      for (let i = 0; i < 150; i++) {
        const q = randomQuery(random, rows)
        expect(await store.query(q), describeQuery(q)).toEqual(await memory.query(q))
      }
      await store.close()
    })
  }
})

function describeQuery(q: IndexQuery): string {
  return JSON.stringify({ ...q, after: q.after && [...q.after] })
}
