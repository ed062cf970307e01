// kill -9 a node under concurrent appends at seeded random moments, restart
// it, and check that nothing acknowledged was lost and no seq was reused.
// YLOG_CRASH_SEEDS=100 runs more seeds than CI's 20.
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { readAll, seededRandom, startNode, tempDir, type Appended, type WireEntry } from './support/node-process.js'

const SEEDS = Number(process.env.YLOG_CRASH_SEEDS ?? 20)
const CLIENTS = 16

function checkChain(entries: WireEntry[], node: string): void {
  const own = entries.filter((e) => e.node === node).sort((a, b) => a.seq - b.seq)
  own.forEach((e, i) => {
    expect(e.seq).toBe(i)
    expect(e.prev).toBe(i === 0 ? '0'.repeat(64) : own[i - 1]?.hash)
  })
}

async function crashRound(seed: number): Promise<void> {
  const random = seededRandom(seed)
  const data = tempDir()
  // Odd seeds compact every 40 updates, so many kills land in or near a compaction.
  const args = ['--data', data, ...(seed % 2 === 1 ? ['--compact-after', '40'] : [])]
  const first = await startNode(args)
  const acked: Appended[] = []
  let stop = false
  // The crash moment: right after a seeded number of acknowledgements, while 16 writers are mid-flight. Every
  // fourth seed goes on past 512 KiB of small appends, so the append journal has moved into the database by then.
  const target = seed % 4 === 2 ? 3_000 + Math.floor(random() * 2_000) : 10 + Math.floor(random() * 500)
  let reached: () => void = () => {}
  const crashPoint = new Promise<void>((resolve) => (reached = resolve))
  const clients = Array.from({ length: CLIENTS }, async (_, c) => {
    for (let i = 0; !stop; i++) {
      try {
        const res = await fetch(`${first.url}/api/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ topic: 'crash', kind: 'event', data: { c, i } }),
        })
        if (res.status === 201) acked.push((await res.json()) as Appended)
        if (acked.length >= target) reached()
      } catch {
        return // the node is gone
      }
    }
  })
  await Promise.race([crashPoint, Promise.all(clients)])
  await first.crash()
  stop = true
  await Promise.all(clients)

  if (seed % 4 === 2) {
    // The crash image holds updates in the database: written only by a move, as every commit here is small.
    const db = new Database(join(data, 'ylog.db'), { readonly: true })
    const moved = db.prepare('SELECT count(*) FROM updates').pluck().get() as number
    db.close()
    expect(moved, `updates moved into the database before the crash (seed ${seed})`).toBeGreaterThan(0)
  }
  const second = await startNode(args)
  try {
    const entries = await readAll(second.url)
    const byseq = new Map(entries.filter((e) => e.node === first.node).map((e) => [e.seq, e]))
    for (const a of acked) expect(byseq.get(a.seq)?.hash, `acknowledged seq ${a.seq} (seed ${seed})`).toBe(a.hash)
    expect(new Set(acked.map((a) => a.seq)).size).toBe(acked.length)
    checkChain(entries, first.node)
    // The next append continues after everything committed: no seq is reused.
    const res = await fetch(`${second.url}/api/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ topic: 'crash', kind: 'event', data: 'after' }),
    })
    expect(res.status).toBe(201)
    expect(((await res.json()) as Appended).seq).toBe(byseq.size)
  } finally {
    expect(await second.stop()).toBe(0)
  }
}

describe('crash safety (child processes, kill -9)', () => {
  for (let seed = 1; seed <= SEEDS; seed++) {
    it(`seed ${seed}: every acknowledged entry survives, seqs stay contiguous`, () => crashRound(seed), 60_000)
  }
})
