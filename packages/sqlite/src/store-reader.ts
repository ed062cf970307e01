import { closeSync, openSync } from 'node:fs'
import { resolve } from 'node:path'
import Database from 'better-sqlite3'
import { YlogError } from '@ylog/core'
import { checkStoreFile } from './open-checks.js'
import { journalPath, readJournalRecords, type NumberedUpdate } from './append-journal.js'
import { SCHEMA_VERSION, SELECT_STORE_ID } from './schema.js'
import { storeError } from './store-errors.js'
import { readVerified, SELECT_LAST_ID } from './store-maintenance.js'

/** What a read found since the one before: snapshot parts (Yjs v2 updates), then updates (v1) after what the parts cover. */
export interface StoreDelta {
  snapshot: Uint8Array[]
  tail: Uint8Array[]
}

/**
 * A store file read from outside, beside the node that may be writing it
 * (`ylog tail DIR`): opened read-only, so it takes no lock, writes nothing
 * and never checkpoints; each read is one read transaction, which in WAL
 * mode never blocks the node's writer and sees whole commits only. Each
 * read returns what was added since the one before: the snapshot parts
 * compactions added (parts are only ever added) and the updates after what
 * the parts cover. A compaction may cover updates a read already returned;
 * applying them again to a Yjs document changes nothing.
 */
export class StoreReader {
  readonly path: string
  readonly #db: Database.Database
  readonly #storeId: number
  #lastPart = 0
  #lastUpdate = 0
  #closed = false

  private constructor(db: Database.Database, path: string) {
    this.#db = db
    this.path = path
    this.#storeId = db.prepare(SELECT_STORE_ID).pluck().get() as number
  }

  static open(path: string): StoreReader {
    const file = resolve(path)
    let db: Database.Database
    try {
      db = new Database(file, { readonly: true, fileMustExist: true })
    } catch (err) {
      throw storeError(file, 'opening read-only', err)
    }
    try {
      const version = checkStoreFile(db, file, { quickCheck: false })
      // checkStoreFile refuses newer schemas; an older one would need the migrations, which write.
      if (version < SCHEMA_VERSION) {
        throw new YlogError(
          'STORE_TOO_OLD',
          `${file} has schema ${version}, older than this ylog's ${SCHEMA_VERSION}; start a node of this version on it once ` +
            '(it upgrades the file), then read it from outside',
        )
      }
      return new StoreReader(db, file)
    } catch (err) {
      db.close()
      throw err
    }
  }

  /** Parts and updates added since the last read (everything, the first time), checksums verified. */
  read(): StoreDelta {
    if (this.#closed) throw new YlogError('CLOSED', `the reader of ${this.path} is closed`)
    try {
      // The journal before the database: an append the node moves in between is then in the database's read, never in neither.
      const journal = this.#readJournal()
      return this.#db.transaction(() => {
        const dbLastId = this.#db.prepare(SELECT_LAST_ID).pluck().get() as number
        const lastId = Math.max(dbLastId, journal.at(-1)?.id ?? 0)
        if (lastId < this.#lastUpdate) {
          throw new YlogError(
            'STORE_REPLACED',
            `${this.path} now ends at update ${lastId}, before update ${this.#lastUpdate} read earlier: the file was replaced`,
          )
        }
        const read = readVerified(this.#db, this.path, this.#lastPart, this.#lastUpdate)
        const from = Math.max(read.upTo, this.#lastUpdate, dbLastId)
        const pending = journal.filter((u) => u.id > from)
        for (const { record } of pending) read.tail.push(record.update)
        this.#lastPart = read.lastPart ?? this.#lastPart
        this.#lastUpdate = Math.max(this.#lastUpdate, read.upTo, read.lastUpdate ?? 0, pending.at(-1)?.id ?? 0)
        return { snapshot: read.snapshot, tail: read.tail }
      })()
    } catch (err) {
      if (err instanceof YlogError) throw err
      throw storeError(this.path, 'reading', err)
    }
  }

  // Whole records only: the node may be appending one, or cutting the journal back, as this reads.
  #readJournal(): NumberedUpdate[] {
    const file = journalPath(this.path)
    let fd: number
    try {
      fd = openSync(file, 'r')
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return []
      throw storeError(file, 'opening the append journal', err)
    }
    try {
      return readJournalRecords(fd, this.#storeId, file)
    } catch (err) {
      throw err instanceof YlogError ? err : storeError(file, 'reading the append journal', err)
    } finally {
      closeSync(fd)
    }
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#db.close()
  }
}
