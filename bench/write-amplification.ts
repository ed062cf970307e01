// Counting what a process writes, and a floor for the store's load figure:
// what writing each update once and only the index rows through SQLite costs.
import { randomBytes } from 'node:crypto'
import { closeSync, fdatasyncSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { tempDir } from './harness.js'

/**
 * Bytes this process sent toward storage so far: Linux's write_bytes (page
 * cache pages it dirtied, counted when they become dirty) less
 * cancelled_write_bytes (dirty pages dropped by a truncation before writeback).
 * File system journal writes are not in it.
 */
export function writtenBytes(): number {
  const io = readFileSync('/proc/self/io', 'utf8')
  const field = (name: string): number => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1] ?? Number.NaN)
  return field('write_bytes') - field('cancelled_write_bytes')
}

/**
 * Bytes this process handed to write calls (`wchar`): what the store wrote
 * to its files before the page cache rounds each synced write up to whole
 * 4 KiB pages (plus a few bytes of thread wake-ups).
 */
export function handedBytes(): number {
  return Number(/^wchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))?.[1] ?? Number.NaN)
}

export function amplification(written: number, payload: number): number {
  return Number((written / payload).toFixed(2))
}

/**
 * The segment-file layout, reduced to its writes: each commit appends its
 * entries' bytes to a file once (one fdatasync) and inserts only their index
 * rows into SQLite (the store's `entries` table and its two indexes, WAL,
 * synchronous FULL), 325 entries a commit as in the 1M fill. Nothing is
 * compacted. Returns bytes written per entry byte, for entries spread over
 * `topics` interleaved topics.
 */
export function segmentsWithIndexFloor(topics: number, total = 200_000, entryBytes = 458, perCommit = 325): number {
  const dir = tempDir('ylog-bench-')
  const db = new Database(join(dir, 'index.db'))
  db.pragma('page_size = 4096')
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.exec(`
    CREATE TABLE entries (node_id INTEGER NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL, topic_id INTEGER NOT NULL,
      kind INTEGER NOT NULL, subject_id INTEGER, PRIMARY KEY (node_id, seq)) WITHOUT ROWID;
    CREATE INDEX entries_by_time ON entries (at, node_id, seq);
    CREATE INDEX entries_by_topic ON entries (topic_id, node_id, seq);
  `)
  const insert = db.prepare('INSERT INTO entries VALUES (1, ?, ?, ?, 1, NULL)')
  const commit = db.transaction((from: number) => {
    for (let seq = from; seq < from + perCommit; seq++) insert.run(seq, 1_795_000_000_000 + seq, seq % topics)
  })
  const segment = openSync(join(dir, 'segment'), 'w')
  const bytes = randomBytes(perCommit * entryBytes)
  const written = writtenBytes()
  let seq = 0
  for (; seq < total; seq += perCommit) {
    writeSync(segment, bytes, 0, bytes.byteLength, seq * entryBytes)
    fdatasyncSync(segment)
    commit(seq)
  }
  db.pragma('wal_checkpoint(TRUNCATE)')
  const result = amplification(writtenBytes() - written, seq * entryBytes)
  closeSync(segment)
  db.close()
  rmSync(dir, { recursive: true, force: true })
  return result
}
