// @ylog/sqlite figures: durable acknowledged appends with group commit,
// replay after compaction, bytes on disk, and raw better-sqlite3 as baseline.
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { DurableLog, NodeIdentity, type JsonValue } from '@ylog/core'
import { ThreadedSqliteStore } from '@ylog/sqlite'
import { rate, report, sampleData, settleHeap, tempDir, type Figures } from '../harness.js'
import { amplification, handedBytes, segmentsWithIndexFloor, writtenBytes } from '../write-amplification.js'

const TOTAL = Number(process.env.YLOG_BENCH_STORE_ENTRIES ?? 1_000_000)
const APPENDERS = Number(process.env.YLOG_BENCH_APPENDERS ?? 1024)
const figures: Figures = {}
const label = TOTAL >= 1_000_000 ? '1m' : String(TOTAL)
const TRICKLE = Number(process.env.YLOG_BENCH_TRICKLE_ENTRIES ?? 2000)

// Baseline: plain better-sqlite3 inserts of entry-sized blobs, 1000 rows per transaction, fsync per commit.
{
  const dir = tempDir('ylog-bench-')
  const db = new Database(join(dir, 'baseline.db'))
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, bytes BLOB NOT NULL)')
  const insert = db.prepare('INSERT INTO t (bytes) VALUES (?)')
  const batch = db.transaction((rows: Buffer[]) => {
    for (const r of rows) insert.run(r)
  })
  const rows = Array.from({ length: 1000 }, () => randomBytes(470))
  const t = performance.now()
  const written = writtenBytes()
  for (let i = 0; i < 200; i++) batch(rows)
  figures['store.baseline.sqlite_insert_rate'] = rate(200_000, performance.now() - t)
  db.pragma('wal_checkpoint(TRUNCATE)')
  figures['store.baseline.write_amplification_load'] = amplification(writtenBytes() - written, 200_000 * 470)
  db.close()
  rmSync(dir, { recursive: true, force: true })
}

await trickle()
await manyTopics()
// Updates written once and no compaction, the index rows still through SQLite: what the segment-file layout could reach.
figures['store.floor.write_amplification_segments'] = segmentsWithIndexFloor(1)
figures['store.floor.write_amplification_segments_17_topics'] = segmentsWithIndexFloor(17)
const data = tempDir('ylog-bench-')
const path = join(data, 'ylog.db')
const identity = NodeIdentity.generate()
await fill()
// The appending log is garbage now; collect it, so the replay below does
// not share the two cores with this process's concurrent marking of a
// gigabyte heap, as it would not after a real restart.
settleHeap()

/**
 * The fill below writes one topic, so each commit's topic index rows land in
 * one leaf page. Events of many topics interleave, and then each commit
 * rewrites a leaf per topic: the same load, 200k entries over 17 topics.
 */
async function manyTopics(): Promise<void> {
  const dir = tempDir('ylog-bench-')
  const total = Math.min(TOTAL, 200_000)
  const writer = NodeIdentity.generate()
  const durable = await DurableLog.open({
    identity: writer,
    store: await ThreadedSqliteStore.open(join(dir, 'topics.db'), { durability: 'full' }),
    signing: 'thread',
  })
  const written = writtenBytes()
  const t0 = performance.now()
  await appendConcurrently(durable, total, (i) => `pipeline/stage-${i % 17}`)
  figures['store.append.durable_rate_17_topics'] = rate(total, performance.now() - t0)
  const entryBytes = sampledEntryBytes(durable, writer.id, total)
  await durable.compact()
  await durable.close()
  figures['store.write_amplification_load_17_topics'] = amplification(writtenBytes() - written, total * entryBytes)
  rmSync(dir, { recursive: true, force: true })
}

/** Appends `total` entries from APPENDERS concurrent callers; `onAppend(i)` is called before entry i. */
async function appendConcurrently(durable: DurableLog, total: number, topicOf: (i: number) => string, onAppend?: (i: number) => void) {
  let next = 0
  await Promise.all(
    Array.from({ length: APPENDERS }, async () => {
      while (next < total) {
        const i = next++
        onAppend?.(i)
        await durable.append({ topic: topicOf(i), kind: 'event', data: sampleData(i) })
      }
    }),
  )
}

/** The mean encoded size of a node's entries, from every 101st. */
function sampledEntryBytes(durable: DurableLog, node: string, total: number): number {
  let encoded = 0
  for (let seq = 0; seq < total; seq += 101) encoded += (durable.getBytes(node, seq) as Uint8Array).byteLength
  return encoded / Math.ceil(total / 101)
}

/** Appends TOTAL entries from APPENDERS concurrent callers, compacts, closes; records the figures. */
async function fill(): Promise<void> {
  const durable = await DurableLog.open({
    identity,
    store: await ThreadedSqliteStore.open(path, { durability: 'full' }),
    signing: 'thread',
  })
  let commits = 0
  durable.onCommit(() => commits++)
  // Compactions during the appends (commits wait for each), and whether one fell in the measured window.
  const compactions: Array<{ at: number; seconds: number }> = []
  durable.onCompaction((info) => compactions.push({ at: performance.now(), seconds: info.seconds }))
  let windowStart = 0
  const window = Math.min(50_000, Math.floor(TOTAL / 4))
  const t0 = performance.now()
  const written = writtenBytes()
  await appendConcurrently(
    durable,
    TOTAL,
    () => 'pipeline/stages',
    (i) => {
      if (i === TOTAL - window) windowStart = performance.now()
    },
  )
  const elapsed = performance.now() - t0
  figures[`store.append.durable_rate_${label}`] = rate(window, performance.now() - windowStart)
  figures['store.append.durable_rate_overall'] = rate(TOTAL, elapsed)
  figures['store.append.entries_per_commit'] = Math.round(TOTAL / commits)
  figures['store.append.compactions'] = compactions.length
  figures['store.append.compaction_seconds'] = Number(compactions.reduce((s, c) => s + c.seconds, 0).toFixed(2))
  figures[`store.append.compactions_in_${label}_window`] = compactions.filter((c) => c.at >= windowStart).length
  figures['store.append.vs_sqlite_baseline'] = Number(
    ((figures[`store.append.durable_rate_${label}`] as number) / (figures['store.baseline.sqlite_insert_rate'] as number)).toFixed(3),
  )

  const entryBytes = sampledEntryBytes(durable, identity.id, TOTAL)
  await durable.compact()
  await durable.close()
  figures[`store.write_amplification_load`] = amplification(writtenBytes() - written, TOTAL * entryBytes)
  const dbBytes = statSync(path).size
  figures['store.bytes_per_entry'] = Math.round(dbBytes / TOTAL)
  figures['store.size_ratio'] = Number((dbBytes / TOTAL / entryBytes).toFixed(3))
}

/**
 * TRICKLE single appends, each awaited (one entry per commit, fsynced), then a
 * checkpoint into the main file (close): with the bench's usual entries
 * (458 bytes), and with entries of about 1 KiB (the issue's own trial); and
 * the baseline: the same bytes as plain rows, one per transaction, in a
 * table with the store file's pragmas.
 */
async function trickle(): Promise<void> {
  const dir = tempDir('ylog-bench-')
  const file = join(dir, 'trickle.db')
  const usual = await trickleRun(file, sampleData)
  figures['store.trickle_append_us'] = usual.appendUs
  figures['store.write_amplification_trickle'] = usual.amplification
  figures['store.write_amplification_trickle_handed'] = usual.handed
  figures['store.trickle_bytes_per_commit'] = usual.bytesPerCommit
  const kib = await trickleRun(join(dir, 'trickle-1k.db'), (i) => ({ ...sampleData(i), note: 'n'.repeat(560) }))
  figures['store.trickle_1k_entry_bytes'] = Math.round(kib.entryBytes / TRICKLE)
  figures['store.write_amplification_trickle_1k'] = kib.amplification
  figures['store.write_amplification_trickle_1k_handed'] = kib.handed

  const stored = new Database(file, { readonly: true })
  const pageSize = stored.pragma('page_size', { simple: true }) as number
  stored.close()
  figures['store.page_size'] = pageSize
  const db = new Database(join(dir, 'baseline.db'))
  db.pragma(`page_size = ${pageSize}`)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, bytes BLOB NOT NULL)')
  const insert = db.prepare('INSERT INTO t (bytes) VALUES (?)')
  const row = randomBytes(Math.round(usual.entryBytes / TRICKLE))
  const before = writtenBytes()
  for (let i = 0; i < TRICKLE; i++) insert.run(row)
  db.pragma('wal_checkpoint(TRUNCATE)')
  figures['store.baseline.write_amplification_trickle'] = amplification(writtenBytes() - before, row.byteLength * TRICKLE)
  db.close()
  rmSync(dir, { recursive: true, force: true })
}

async function trickleRun(
  file: string,
  data: (i: number) => JsonValue,
): Promise<{ appendUs: number; amplification: number; handed: number; bytesPerCommit: number; entryBytes: number }> {
  const writer = NodeIdentity.generate()
  const durable = await DurableLog.open({
    identity: writer,
    store: await ThreadedSqliteStore.open(file, { durability: 'full' }),
    signing: 'thread',
  })
  // Not measured: the first append after a start creates the append journal (1 MiB of zeros, once).
  await durable.append({ topic: 'pipeline/stages', kind: 'event', data: data(TRICKLE) })
  let commits = 0
  durable.onCommit(() => commits++)
  const written = writtenBytes()
  const handed = handedBytes()
  const t = performance.now()
  for (let i = 0; i < TRICKLE; i++) await durable.append({ topic: 'pipeline/stages', kind: 'event', data: data(i) })
  const appendUs = Math.round(((performance.now() - t) / TRICKLE) * 1000)
  if (commits !== TRICKLE) throw new Error(`trickle: ${commits} commits for ${TRICKLE} appends`)
  let entryBytes = 0
  for (let seq = 1; seq <= TRICKLE; seq++) entryBytes += (durable.getBytes(writer.id, seq) as Uint8Array).byteLength
  await durable.close()
  return {
    appendUs,
    amplification: amplification(writtenBytes() - written, entryBytes),
    handed: amplification(handedBytes() - handed, entryBytes),
    bytesPerCommit: Math.round((writtenBytes() - written) / TRICKLE),
    entryBytes,
  }
}

// Replay in a fresh process: open to ready, as a restarting node does.
for (const verify of ['tail', 'full'] as const) {
  const child = spawnSync(
    process.execPath,
    [...process.execArgv, join(import.meta.dirname, 'store-replay.ts'), path, identity.id, verify],
    { encoding: 'utf8' },
  )
  if (child.status !== 0) throw new Error(`replay failed: ${child.stderr}`)
  const result = JSON.parse(child.stdout.trim().split('\n').at(-1) as string) as { seconds: number; length: number }
  if (result.length !== TOTAL) throw new Error(`replay found ${result.length} entries, expected ${TOTAL}`)
  figures[verify === 'tail' ? `store.replay_${label}_s` : `store.replay_${label}_full_verify_s`] = Number(result.seconds.toFixed(3))
}

rmSync(data, { recursive: true, force: true }) // half a gigabyte at 1M entries
report(figures)
