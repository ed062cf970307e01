// The store's long jobs, as plain functions over a connection: SqliteUpdateStore
// runs them on its own connection, the maintenance worker of ThreadedSqliteStore
// on a second one, so the event loop keeps serving while they run.
import { createHash } from 'node:crypto'
import { crc32 } from 'node:zlib'
import type Database from 'better-sqlite3'
import { YlogError } from '@ylog/core'
import { RESTORE_ADVICE } from './store-errors.js'

/** id, crc32 (NULL before schema 3), bytes */
export type TailRow = [number, number | null, Buffer]

/** One part of the snapshot (schema 4). */
export interface PartRow {
  id: number
  sha256: Buffer
  bytes: Buffer
}

// Bounds the -wal file between checkpoints; without it one big snapshot
// write would leave a WAL as large as the snapshot on disk for good.
const JOURNAL_SIZE_LIMIT = 32 * 1024 * 1024

/** Per-connection settings (the file's own, like WAL mode and page size, are set once at creation). */
export function tuneConnection(db: Database.Database, durability: 'full' | 'normal'): void {
  db.pragma(`synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}`)
  db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT}`)
}

/** The last update id ever assigned: meta.last_id is a floor that compaction raises before deleting, appends only add rows above it. */
export const SELECT_LAST_ID = "SELECT max((SELECT value FROM meta WHERE key = 'last_id'), coalesce((SELECT max(id) FROM updates), 0))"
const SELECT_PARTS_AFTER = 'SELECT id, sha256, bytes FROM snapshot_parts WHERE id > ? ORDER BY id'
const SELECT_SNAPSHOT_UP_TO = "SELECT value FROM meta WHERE key = 'snapshot_up_to'"
const SELECT_TAIL = 'SELECT id, crc32, bytes FROM updates WHERE id > ? ORDER BY id'

/** What one read of the stored log found, every checksum verified. */
export interface VerifiedRead {
  /** Snapshot parts (Yjs v2 updates), oldest first, and the id of the last. */
  snapshot: Uint8Array[]
  lastPart: number | undefined
  /** The last update id the whole snapshot covers. */
  upTo: number
  /** Updates (Yjs v1) after the snapshot and after the id asked for, and the id of the last. */
  tail: Uint8Array[]
  lastUpdate: number | undefined
}

/**
 * Reads the snapshot parts after `afterPart` and the updates after both
 * what the snapshot covers and `afterUpdate`, verifying each part's SHA-256
 * and each update's CRC-32 (STORE_CORRUPT naming `file` and what failed).
 * Call it inside a read transaction, so parts, the id they cover and the
 * tail come from the same moment.
 */
export function readVerified(db: Database.Database, file: string, afterPart: number, afterUpdate: number): VerifiedRead {
  const corrupt = (problem: string): YlogError => new YlogError('STORE_CORRUPT', `${file}: ${problem}; ${RESTORE_ADVICE}`)
  const parts = db.prepare(SELECT_PARTS_AFTER).all(afterPart) as PartRow[]
  const upTo = db.prepare(SELECT_SNAPSHOT_UP_TO).pluck().get() as number
  const rows = db.prepare(SELECT_TAIL).raw().all(Math.max(upTo, afterUpdate)) as TailRow[]
  const snapshot = parts.map((part) => {
    verifyPart(part, corrupt)
    return view(part.bytes)
  })
  const tail = rows.map((row) => {
    verifyUpdate(row, corrupt)
    return view(row[2])
  })
  return { snapshot, lastPart: parts.at(-1)?.id, upTo, tail, lastUpdate: rows.at(-1)?.[0] }
}

// Callers get plain Uint8Arrays: a Buffer's slice() shares memory where a Uint8Array's copies.
function view(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
}

/** Refuses what `compact` must not be given, before any work or thread hand-off. */
export function checkCompactArgs(parts: unknown, upTo: unknown, lastId: number): void {
  if (!Array.isArray(parts) || !parts.every((part) => part instanceof Uint8Array)) {
    throw new YlogError(
      'BAD_ARGUMENT',
      `compact: parts must be an array of Uint8Arrays (Yjs v2 updates), got ` +
        `${Array.isArray(parts) ? 'an array holding something else' : typeof parts}`,
    )
  }
  if (typeof upTo !== 'number' || !Number.isSafeInteger(upTo) || upTo < 0 || upTo > lastId) {
    throw new YlogError(
      'BAD_ARGUMENT',
      `compact: upTo must be an update id between 0 and the last id ${lastId}, got ${String(upTo)}; pass the lastId that load ` +
        `or append returned`,
    )
  }
}

/**
 * Adds parts to the snapshot and drops the updates they cover, in one
 * transaction. Deleting first lets the parts reuse the pages the covered
 * updates free, instead of growing the file. The covered id only moves
 * forward.
 */
export function addSnapshotParts(db: Database.Database, parts: readonly Uint8Array[], upTo: number): void {
  const deleteUpTo = db.prepare('DELETE FROM updates WHERE id <= ?')
  const insertPart = db.prepare('INSERT INTO snapshot_parts (sha256, bytes) VALUES (?, ?)')
  const setUpTo = db.prepare("UPDATE meta SET value = max(value, ?) WHERE key = 'snapshot_up_to'")
  const keepLastId = db.prepare(`UPDATE meta SET value = (${SELECT_LAST_ID}) WHERE key = 'last_id'`)
  db.transaction(() => {
    keepLastId.run()
    deleteUpTo.run(upTo)
    for (const part of parts) insertPart.run(sha256(part), part)
    setUpTo.run(upTo)
  })()
  db.pragma('incremental_vacuum')
}

/**
 * The expensive check: SQLite's full integrity_check (every page, every
 * index against its table), every snapshot part's SHA-256, every update's CRC-32,
 * and the id bookkeeping. Returns the problems found. One read transaction,
 * so appends committed meanwhile on another connection do not show up as
 * ids beyond the last one.
 */
export function deepCheck(db: Database.Database): string[] {
  const problems: string[] = []
  db.transaction(() => check(db, problems))()
  return problems
}

function check(db: Database.Database, problems: string[]): void {
  try {
    const lastId = db.prepare(SELECT_LAST_ID).pluck().get() as number
    const rows = db.pragma('integrity_check') as Array<{ integrity_check: string }>
    problems.push(...rows.map((r) => r.integrity_check).filter((r) => r !== 'ok'))
    for (const part of db.prepare(SELECT_PARTS_AFTER).iterate(0) as IterableIterator<PartRow>) {
      collect(problems, () => verifyPart(part, (problem) => new Error(problem)))
    }
    const upTo = db.prepare(SELECT_SNAPSHOT_UP_TO).pluck().get() as number
    if (upTo > lastId) problems.push(`the snapshot covers updates up to ${upTo}, beyond the last assigned id ${lastId}`)
    for (const tailRow of db.prepare(SELECT_TAIL).raw().iterate(0) as IterableIterator<TailRow>) {
      collect(problems, () => verifyUpdate(tailRow, (problem) => new Error(problem)))
    }
  } catch (err) {
    problems.push((err as Error).message)
  }
}

export function verifyPart(row: PartRow, fail: (problem: string) => Error): void {
  const actual = sha256(row.bytes)
  if (!actual.equals(row.sha256)) {
    throw fail(
      `snapshot part ${row.id} (${row.bytes.byteLength} bytes) fails its SHA-256 check: stored ` +
        `${row.sha256.toString('hex').slice(0, 16)}…, computed ${actual.toString('hex').slice(0, 16)}…`,
    )
  }
}

export function verifyUpdate([id, stored, bytes]: TailRow, fail: (problem: string) => Error): void {
  if (stored === null) return
  const actual = crc32(bytes)
  if (actual !== stored)
    throw fail(`update ${id} (${bytes.byteLength} bytes) fails its CRC-32 check: stored ${hex32(stored)}, computed ${hex32(actual)}`)
}

function collect(problems: string[], check: () => void): void {
  try {
    check()
  } catch (err) {
    problems.push((err as Error).message)
  }
}

function hex32(n: number): string {
  return n.toString(16).padStart(8, '0')
}

function sha256(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest()
}
