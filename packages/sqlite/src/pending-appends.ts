import { closeSync, existsSync, fsyncSync, openSync, rmSync, statSync } from 'node:fs'
import { dirname } from 'node:path'
import { YlogError, type IdempotencyRecord, type IndexRow } from '@ylog/core'
import {
  encodeRecord,
  JOURNAL_HEADER_BYTES,
  JOURNAL_PREALLOCATED_BYTES,
  JournalFile,
  journalPath,
  readAll,
  scanJournal,
  type NumberedUpdate,
} from './append-journal.js'
import { MERGE_MAX_BYTES, mergeRecordRuns } from '@ylog/core/internal'
import { RESTORE_ADVICE, storeError } from './store-errors.js'

/** When an append goes through the journal, and when the journal's appends move into the database. */
export interface JournalPolicy {
  /**
   * Appends of fewer update bytes than this go to the journal; bigger ones
   * (group commits under load) straight to the database. 0: none.
   */
  directBytes: number
  /** Move the journal's appends into the database once they hold this many update bytes… */
  flushBytes: number
  /** …or this many updates. */
  flushUpdates: number
  /** As they move, runs of one node's small updates are merged into one update of at most this many bytes (mergeRuns). 0: never. */
  mergeBytes: number
}

/**
 * 16 KiB: the pages a direct commit touches besides its own (three index
 * leaves and more, 4 KiB each) cost about what writing the update once
 * more through the journal costs. 512 KiB per move: a batch of ~1,000
 * single-entry appends shares its index pages. Merged runs of up to 64 KiB,
 * the size DurableLog merges a commit's records to. See docs/benchmarks.md.
 */
export const DEFAULT_JOURNAL_POLICY: Readonly<JournalPolicy> = {
  directBytes: 16 * 1024,
  flushBytes: 512 * 1024,
  flushUpdates: 2048,
  mergeBytes: MERGE_MAX_BYTES,
}

/**
 * The appends a store acknowledged from its journal and has not yet moved
 * into its database: the journal file, and in memory their updates, index
 * rows and idempotency keys, which reads merge with the database's.
 */
export class PendingAppends {
  readonly path: string
  readonly policy: Readonly<JournalPolicy>
  readonly #storeFile: string
  readonly #storeId: number
  readonly #sync: boolean
  #file: JournalFile | undefined
  // Recovered from a journal an earlier ylog wrote (format 1): moved into the database before anything is appended.
  #olderFormat = false
  #updates: NumberedUpdate[] = []
  #bytes = 0
  #rows: IndexRow[] = []
  readonly #keys = new Map<string, IdempotencyRecord>()

  private constructor(storeFile: string, storeId: number, sync: boolean, policy: Readonly<JournalPolicy>) {
    this.#storeFile = storeFile
    this.path = journalPath(storeFile)
    this.#storeId = storeId
    this.#sync = sync
    this.policy = policy
  }

  /**
   * Opens the journal beside `storeFile`, if there is one, and takes the
   * appends in it after `lastId` (the database's last update). An append a
   * crash cut off is written over: it was never acknowledged.
   */
  static open(storeFile: string, storeId: number, lastId: number, sync: boolean, policy: Readonly<JournalPolicy>): PendingAppends {
    const pending = new PendingAppends(storeFile, storeId, sync, policy)
    if (existsSync(pending.path)) pending.#recover(lastId)
    return pending
  }

  #recover(lastId: number): void {
    let fd: number
    try {
      fd = openSync(this.path, 'r+')
    } catch (err) {
      throw storeError(this.path, 'opening the append journal', err)
    }
    try {
      const scan = scanJournal(readAll(fd), this.#storeId, this.path, { nextId: lastId + 1 })
      const kept = scan.updates.filter((u) => u.id > lastId)
      if (kept.length > 0 && kept[0]?.id !== lastId + 1) {
        throw new YlogError(
          'STORE_CORRUPT',
          `${this.path} continues the database at update ${kept[0]?.id}, but the database ends at ${lastId}: updates are missing ` +
            `between them; ${RESTORE_ADVICE}`,
        )
      }
      if (scan.format === 1) {
        for (const update of kept) this.#add(update)
        this.#olderFormat = kept.length > 0
        this.#file = new JournalFile(fd, scan.end, this.#sync)
        if (!this.#olderFormat) this.#remove()
        return
      }
      if (scan.end >= JOURNAL_HEADER_BYTES) {
        // Nothing left to move (all in the database already): the next round starts behind the header.
        this.#file = new JournalFile(fd, kept.length === 0 ? JOURNAL_HEADER_BYTES : scan.end, this.#sync)
        for (const update of kept) this.#add(update)
        return
      }
    } catch (err) {
      closeSync(fd)
      throw err instanceof YlogError ? err : storeError(this.path, 'reading the append journal', err)
    }
    // Its header never reached the disk whole: created just before a crash, with nothing in it.
    closeSync(fd)
    try {
      rmSync(this.path)
    } catch (err) {
      throw storeError(this.path, 'removing an unfinished append journal', err)
    }
  }

  /** Whether an append of this many update bytes goes to the journal. */
  takes(bytes: number): boolean {
    return bytes < this.policy.directBytes
  }

  /**
   * Whether what is pending came from a journal of an earlier format, which
   * takes no appends of this one: move it into the database first.
   */
  get olderFormat(): boolean {
    return this.#olderFormat
  }

  /** Writes the appends to the journal, synced; when it returns they are acknowledged and pending here. */
  append(updates: readonly NumberedUpdate[]): void {
    if (this.#olderFormat) throw new YlogError('STORE_FAILED', `${this.path} is of an earlier format: move it into the database first`)
    const record = encodeRecord(updates)
    try {
      this.#file ??= this.#create()
      this.#file.append(record)
    } catch (err) {
      throw this.#error('appending to the append journal', err)
    }
    for (const update of updates) this.#add(update)
  }

  /** Whether it is time to move the pending appends into the database. */
  get full(): boolean {
    return this.#bytes >= this.policy.flushBytes || this.#updates.length >= this.policy.flushUpdates
  }

  get updates(): readonly NumberedUpdate[] {
    return this.#updates
  }

  get rows(): readonly IndexRow[] {
    return this.#rows
  }

  get bytes(): number {
    return this.#bytes
  }

  /** Bytes the journal file takes on disk (it is created at its full size). */
  get fileBytes(): number {
    return this.#file === undefined ? 0 : Math.max(JOURNAL_PREALLOCATED_BYTES, this.#file.end)
  }

  findKey(key: string): IdempotencyRecord | undefined {
    return this.#keys.get(key)
  }

  /** The database now holds every pending append durably: forget them, and write the next ones behind the journal's header. */
  moved(): void {
    this.#updates = []
    this.#rows = []
    this.#bytes = 0
    this.#keys.clear()
    if (this.#olderFormat) this.#remove()
    else this.#file?.rewind()
  }

  // The next append creates a journal of the current format (over this file, should removing it fail).
  #remove(): void {
    this.#file?.close()
    this.#file = undefined
    this.#olderFormat = false
    try {
      rmSync(this.path, { force: true })
    } catch {
      // JournalFile.create truncates what is there.
    }
  }

  /** Re-reads the journal from disk and checks every record; the problems found. */
  check(): string[] {
    if (!existsSync(this.path)) return this.#updates.length === 0 ? [] : [`${this.path} is gone, with ${this.#updates.length} appends`]
    try {
      const fd = openSync(this.path, 'r')
      try {
        const first = this.#updates[0]?.id ?? Number.POSITIVE_INFINITY
        const scan = scanJournal(readAll(fd), this.#storeId, this.path, { nextId: first })
        const onDisk = scan.updates.filter((u) => u.id >= first).length
        return onDisk === this.#updates.length ? [] : [`${this.path} holds ${onDisk} of the ${this.#updates.length} pending appends`]
      } finally {
        closeSync(fd)
      }
    } catch (err) {
      return [(err as Error).message]
    }
  }

  /** Closes the journal; removes it when nothing is pending (after a clean close, a data directory holds the database only). */
  close(): void {
    this.#file?.close()
    this.#file = undefined
    if (this.#updates.length === 0 && existsSync(this.path)) rmSync(this.path, { force: true })
  }

  #add(update: NumberedUpdate): void {
    this.#updates.push(update)
    this.#bytes += update.record.update.byteLength
    for (const row of update.record.entries) this.#rows.push(row)
    const key = update.record.idempotency
    if (key !== undefined) this.#keys.set(key.key, key)
  }

  // The new file's name must survive a power loss as well as its records: sync the directory once.
  #create(): JournalFile {
    const file = JournalFile.create(this.path, this.#storeId, this.#sync, statSync(this.#storeFile).mode & 0o777)
    try {
      if (this.#sync) {
        const dir = openSync(dirname(this.path), 'r')
        try {
          fsyncSync(dir)
        } finally {
          closeSync(dir)
        }
      }
    } catch (err) {
      file.close()
      throw err
    }
    return file
  }

  #error(doing: string, err: unknown): YlogError {
    if ((err as { syncFailed?: boolean }).syncFailed === true) {
      // Like SQLite's IOERR_FSYNC: the kernel may have dropped pages it could not write, so only a restart knows what is on disk.
      return new YlogError(
        'STORE_FAILED',
        `${this.path}: ${doing} failed: fdatasync reported ${String((err as { code?: string }).code ?? err)}; ` +
          'restart the node (it reads the journal back) and check the disk',
        { cause: err },
      )
    }
    return storeError(this.path, doing, err)
  }
}

/**
 * The journal's updates as they move into the database: runs of one node's
 * small updates merged into one of at most `maxBytes` (mergeRecordRuns).
 * DurableLog merges the records of one commit; these are merged across
 * appends. A move holds up to 2,048 single-entry appends, and as rows of
 * their own each pays Yjs's per-update header and a row's, and rows of
 * ~1 KiB fill a 4 KiB page only three to a page. A merged update takes the
 * id of its run's last one, so the database's last id, what the journal's
 * recovery and readers go by, is unchanged; the ids within a run are never
 * rows. A reader or a compaction that stopped inside a run gets the whole
 * run again, which Yjs applies once.
 */
export function mergeRuns(updates: readonly NumberedUpdate[], maxBytes: number): NumberedUpdate[] {
  if (updates.length < 2 || maxBytes === 0) return updates as NumberedUpdate[]
  let taken = 0
  return mergeRecordRuns(
    updates.map((u) => u.record),
    maxBytes,
  ).map(({ record, count }) => {
    taken += count
    return { id: (updates[taken - 1] as NumberedUpdate).id, record }
  })
}
