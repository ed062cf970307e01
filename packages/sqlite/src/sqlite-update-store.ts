import { existsSync, mkdirSync, statfsSync, statSync } from 'node:fs'
import { crc32 } from 'node:zlib'
import { dirname, resolve } from 'node:path'
import Database from 'better-sqlite3'
import {
  YlogError,
  type ConsumerRecord,
  type IdempotencyRecord,
  type IndexQuery,
  type NodeId,
  type StoredState,
  type StoreStats,
  type UpdateRecord,
  type NodeStore,
} from '@ylog/core'
import type { NumberedUpdate } from './append-journal.js'
import { DEFAULT_JOURNAL_POLICY, mergeRuns, PendingAppends, type JournalPolicy } from './pending-appends.js'
import { mergePending } from './pending-index.js'
import { checkLimit } from './read-index.js'
import { migrate, SELECT_STORE_ID } from './schema.js'
import { checkStoreFile } from './open-checks.js'
import { ReadIndex } from './read-index.js'
import { SideTables } from './side-tables.js'
import { passableKind, RESTORE_ADVICE, storeError } from './store-errors.js'
import { addSnapshotParts, checkCompactArgs, deepCheck, readVerified, tuneConnection, SELECT_LAST_ID } from './store-maintenance.js'

export interface SqliteUpdateStoreOptions {
  /**
   * 'full' (default): every commit is fsynced before `append` resolves, so an
   * acknowledged entry survives a power loss. 'normal': commits reach the OS
   * but the WAL is fsynced only at checkpoints; a power loss (not a process
   * crash) can lose the last commits, never corrupt the file.
   */
  durability?: 'full' | 'normal'
  /**
   * Small appends (a single entry, a few) go to an append journal beside
   * the file (`<file>-appends`, one record and one sync each) and move into
   * the database in batches, instead of each commit writing the pages it
   * touches whole (about 5 × 4 KiB). On by default; `false` commits every
   * append to the database directly. An object tunes when (JournalPolicy).
   */
  appendJournal?: boolean | Partial<JournalPolicy>
}

/** Free bytes the file system must have before writes resume after a full disk: a group commit under load and a checkpoint fit. */
export const RESUME_FREE_BYTES = 1024 * 1024

/**
 * A NodeStore (update log, read index, node tables) in one SQLite file (WAL mode), through better-sqlite3.
 * better-sqlite3 is synchronous, so every method does its work before the
 * returned promise settles; one transaction per `append` and per `compact`
 * gives the atomicity the NodeStore contract asks for.
 */
export class SqliteUpdateStore implements NodeStore {
  /** Absolute path of the database file. */
  readonly path: string
  readonly durability: 'full' | 'normal'
  readonly #db: Database.Database
  readonly #index: ReadIndex
  readonly #side: SideTables
  readonly #pending: PendingAppends
  #lastId: number
  #closed = false
  readonly #insertUpdate: Database.Statement<[number, Uint8Array, number]>
  readonly #setLastId: Database.Statement<[number]>
  readonly #getLastId: Database.Statement<[]>
  readonly #writeTx: (updates: readonly NumberedUpdate[]) => void

  private constructor(db: Database.Database, path: string, durability: 'full' | 'normal', policy: Readonly<JournalPolicy>) {
    this.#db = db
    this.path = path
    this.durability = durability
    this.#index = new ReadIndex(db)
    this.#side = new SideTables(db, this.#index)
    this.#insertUpdate = db.prepare('INSERT INTO updates (id, bytes, crc32) VALUES (?, ?, ?)')
    this.#setLastId = db.prepare("UPDATE meta SET value = ? WHERE key = 'last_id'")
    this.#getLastId = db.prepare(SELECT_LAST_ID).pluck()
    // Ids never come from max(id) alone: compaction deletes updates, and a
    // reused id could hide a new update behind an old snapshot's upTo. Nor is
    // meta.last_id written by every commit (one more page per commit): it is
    // a floor that compaction raises before it deletes (SELECT_LAST_ID).
    const dbLastId = this.#readLastId()
    const storeId = db.prepare(SELECT_STORE_ID).pluck().get() as number
    this.#pending = PendingAppends.open(path, storeId, dbLastId, durability === 'full', policy)
    this.#lastId = this.#pending.updates.at(-1)?.id ?? dbLastId
    this.#writeTx = db.transaction((updates: readonly NumberedUpdate[]) => {
      for (const { id, record } of updates) {
        this.#insertUpdate.run(id, record.update, crc32(record.update))
        this.#index.insert(record.entries)
        if (record.idempotency !== undefined) this.#side.insertIdempotency(record.idempotency)
      }
    })
  }

  /** Opens (or creates) the store at `path`, checking that it is an intact ylog store first. */
  static open(path: string, options: SqliteUpdateStoreOptions = {}): SqliteUpdateStore {
    const durability = parseDurability(options.durability)
    const policy = parsePolicy(options.appendJournal)
    const file = resolve(path)
    try {
      mkdirSync(dirname(file), { recursive: true })
    } catch (err) {
      throw storeError(file, 'creating its directory', err)
    }
    let db: Database.Database
    try {
      db = new Database(file)
    } catch (err) {
      throw storeError(file, 'opening', err)
    }
    try {
      const version = checkStoreFile(db, file, { quickCheck: true })
      // Compaction frees the tail's pages; incremental auto-vacuum hands what
      // the new parts do not reuse back to the file system (only settable
      // while the file has no tables).
      if (version === 0) {
        // Every fsynced commit writes each page it touches whole: 4 KiB pages
        // cut a single append's bytes on disk to a quarter of 16 KiB pages'.
        // Snapshot parts, big blobs in overflow chains, read as fast and
        // write slower on the worker (docs/benchmarks.md). Only settable on an empty file.
        db.pragma('page_size = 4096')
        db.pragma('auto_vacuum = INCREMENTAL')
      }
      db.pragma('journal_mode = WAL')
      tuneConnection(db, durability)
      migrate(db, version)
      return new SqliteUpdateStore(db, file, durability, policy)
    } catch (err) {
      db.close()
      throw storeError(file, 'opening', err)
    }
  }

  async append(records: readonly UpdateRecord[]): Promise<number> {
    this.#open()
    if (records.length === 0) return this.#lastId
    const numbered = records.map((record, i) => ({ id: this.#lastId + 1 + i, record }))
    if (this.#pending.takes(records.reduce((n, r) => n + r.update.byteLength, 0))) {
      // Still full: the last move failed (a full disk). Move first, or fail this append: the journal stays bounded.
      // A journal an earlier ylog left is moved before the first append, which starts one of this format.
      if (this.#pending.full || this.#pending.olderFormat) this.moveJournal()
      this.#pending.append(numbered)
      this.#lastId += records.length
      // Acknowledged already (the journal is synced): a move that fails now is tried again with the next append.
      if (this.#pending.full) this.#tryMove()
      return this.#lastId
    }
    // One transaction for what the journal holds and these: ids stay in order in the database. These came
    // merged from DurableLog's commit already; the journal's are merged as in a move.
    this.#commit([...this.#journalRows(), ...numbered], `appending ${records.length} updates`)
    this.#lastId += records.length
    return this.#lastId
  }

  /** Moves the appends the journal holds into the database (one transaction, synced); the journal's next round starts behind its header. */
  moveJournal(): void {
    this.#open()
    this.#move('moving the append journal into the database')
  }

  #move(doing: string): void {
    if (this.#pending.updates.length > 0) this.#commit(this.#journalRows(), doing)
  }

  // The journal's appends as the database keeps them: runs of one node's merged (mergeRuns).
  #journalRows(): NumberedUpdate[] {
    return mergeRuns(this.#pending.updates, this.#pending.policy.mergeBytes)
  }

  #tryMove(): void {
    try {
      this.moveJournal()
    } catch {
      // Kept in the journal, and in reads; tried again when the next append finds it full, at compaction and at close.
    }
  }

  #commit(updates: readonly NumberedUpdate[], doing: string): void {
    try {
      this.#writeTx(updates)
    } catch (err) {
      // The transaction rolled back; the in-memory interning may be ahead of it.
      this.#index.reload()
      throw storeError(this.path, doing, err)
    }
    this.#pending.moved()
  }

  /**
   * Whether writes can go on after a failed commit: RESUME_FREE_BYTES free
   * on the file system, then a write of one page with the store's
   * durability (meta.last_id set to itself; in 'full' the WAL is fsynced).
   * The write alone is not enough: it lands where the failed commit's WAL
   * frames were, so it goes through on a disk that is still full.
   */
  async probe(): Promise<void> {
    const fs = statfsSync(dirname(this.path))
    const free = fs.bavail * fs.bsize
    if (free < RESUME_FREE_BYTES) {
      const why = `${free} bytes free on its file system; writes resume above ${RESUME_FREE_BYTES}`
      throw new YlogError('STORE_FULL', `${this.path}: the disk is still full (${why})`)
    }
    // The database's own last id: one that counted the journal's appends would tell the next open they were moved in.
    const dbLastId = (this.#pending.updates[0]?.id ?? this.#lastId + 1) - 1
    this.#guarded('probing whether writes go through', () => this.#setLastId.run(dbLastId))
  }

  async load(): Promise<StoredState> {
    this.#open()
    try {
      // One read transaction: parts, the id they cover and the tail from the same moment.
      return this.#db.transaction(() => {
        const { snapshot, tail } = readVerified(this.#db, this.path, 0, 0)
        for (const { record } of this.#pending.updates) tail.push(record.update)
        return { snapshot, tail, lastId: this.#lastId }
      })()
    } catch (err) {
      throw storeError(this.path, 'loading', err)
    }
  }

  async compact(parts: readonly Uint8Array[], upTo: number): Promise<void> {
    this.#open()
    checkCompactArgs(parts, upTo, this.#lastId)
    this.moveJournal()
    try {
      addSnapshotParts(this.#db, parts, upTo)
    } catch (err) {
      throw storeError(this.path, `compacting up to update ${upTo}`, err)
    }
  }

  async query(query: IndexQuery): Promise<Array<{ node: NodeId; seq: number }>> {
    return this.#guarded('querying the index', () => {
      const fromDb = this.#index.query(query)
      return mergePending(query, checkLimit(query.limit), fromDb, this.#pending.rows)
    })
  }

  async findIdempotency(key: string): Promise<IdempotencyRecord | undefined> {
    return this.#guarded('reading an idempotency key', () => this.#pending.findKey(key) ?? this.#side.findIdempotency(key))
  }

  async pruneIdempotency(before: number): Promise<number> {
    this.moveJournal()
    return this.#guarded('pruning idempotency keys', () => this.#side.pruneIdempotency(before))
  }

  async readConsumer(name: string): Promise<ConsumerRecord | undefined> {
    return this.#guarded(`reading consumer ${JSON.stringify(name)}`, () => this.#side.readConsumer(name))
  }

  async writeConsumer(record: ConsumerRecord): Promise<void> {
    return this.#guarded(`writing consumer ${JSON.stringify(record.name)}`, () => this.#side.writeConsumer(record))
  }

  async stats(): Promise<StoreStats> {
    this.#open()
    try {
      const updates = this.#db.prepare('SELECT count(*) AS n, coalesce(sum(length(bytes)), 0) AS bytes FROM updates').get() as {
        n: number
        bytes: number
      }
      const snapshotBytes = this.#db.prepare('SELECT coalesce(sum(length(bytes)), 0) FROM snapshot_parts').pluck().get() as number
      return {
        updates: updates.n + this.#pending.updates.length,
        updateBytes: updates.bytes + this.#pending.bytes,
        snapshotBytes,
        totalBytes: fileSize(this.path) + fileSize(`${this.path}-wal`) + this.#pending.fileBytes,
      }
    } catch (err) {
      throw storeError(this.path, 'reading stats', err)
    }
  }

  /** Checkpoints the WAL into the main file and closes. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    try {
      this.#move('moving the append journal in at close')
    } catch {
      // The journal keeps them, synced; the next open takes them from it.
    }
    this.#pending.close()
    try {
      this.#db.pragma('wal_checkpoint(TRUNCATE)')
    } catch (err) {
      // The WAL stays valid on disk and the next open reads it: a disk too full to
      // copy it into the main file loses nothing, and is no reason to fail a shutdown.
      this.#db.close()
      if (passableKind(err) === undefined) throw storeError(this.path, 'checkpointing at close', err)
      return
    }
    this.#db.close()
  }

  /**
   * The expensive check: SQLite's full integrity_check, the snapshot's
   * SHA-256, every update's CRC-32, and the id bookkeeping (see deepCheck).
   * The hash-chain check of the entries themselves is done a level above.
   */
  checkIntegrity(): { ok: boolean; problems: string[] } {
    const problems = deepCheck(this.#open()).map((p) => `${this.path}: ${p}`)
    problems.push(...this.checkJournal())
    return { ok: problems.length === 0, problems }
  }

  /** The append journal read back from disk and checked against what is pending (checkIntegrity's part for it). */
  checkJournal(): string[] {
    this.#open()
    return this.#pending.check()
  }

  /** The id of the last update appended: what `compact` may cover at most. */
  get lastId(): number {
    return this.#lastId
  }

  /** Runs a small read or write of the index or side tables: refused after close, SQLite errors named after the file. */
  #guarded<T>(doing: string, work: () => T): T {
    this.#open()
    try {
      return work()
    } catch (err) {
      throw storeError(this.path, doing, err)
    }
  }

  #readLastId(): number {
    const value = this.#getLastId.get() as number | undefined
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw new YlogError('STORE_CORRUPT', `${this.path} has no valid last update id (${String(value)}); ${RESTORE_ADVICE}`)
    }
    return value
  }

  #open(): Database.Database {
    if (this.#closed) throw new YlogError('CLOSED', `the store ${this.path} is closed`)
    return this.#db
  }
}

function parseDurability(value: unknown): 'full' | 'normal' {
  if (value === undefined) return 'full'
  if (value === 'full' || value === 'normal') return value
  throw new YlogError(
    'BAD_ARGUMENT',
    `durability must be "full" (fsync every commit) or "normal" (fsync at checkpoints), got ${JSON.stringify(value) ?? String(value)}`,
  )
}

function parsePolicy(value: SqliteUpdateStoreOptions['appendJournal']): Readonly<JournalPolicy> {
  if (value === undefined || value === true) return DEFAULT_JOURNAL_POLICY
  if (value === false) return { ...DEFAULT_JOURNAL_POLICY, directBytes: 0 }
  const policy = { ...DEFAULT_JOURNAL_POLICY, ...value }
  for (const [name, n] of Object.entries(policy)) {
    if (!Number.isSafeInteger(n) || n < 0)
      throw new YlogError('BAD_ARGUMENT', `appendJournal.${name} must be a whole number >= 0, got ${JSON.stringify(n) ?? String(n)}`)
  }
  return policy
}

function fileSize(path: string): number {
  return existsSync(path) ? statSync(path).size : 0
}
