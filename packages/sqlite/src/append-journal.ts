// The append journal: acknowledged appends not yet moved into the database.
//
// A small commit made durable in SQLite writes every page it touches whole
// (the updates leaf, three index leaves, now and then a pointer-map page):
// about 24 KB through the WAL for a 458-byte entry. Here it is one record
// written after the last and one fdatasync; the database takes the
// journal's records in batches (SqliteUpdateStore), after which writing
// starts again behind the header. Big commits (under load) skip it.
//
// The file is created at 1 MiB of zeros and keeps its size: a write inside
// it changes no file size, so fdatasync flushes the data block alone, not
// also an inode update through the file system's journal (a quarter less
// time per append, docs/benchmarks.md). So the bytes after the last record
// are zeros or records of an earlier round, whose ids are all below the
// current round's.
//
// Byte layout of `<store file>-appends` (integers little-endian):
//
//   header   "ylogapp2" (8 ASCII bytes: format 2) | store id (u64, the database's meta.store_id)
//   record   "yrec" | payload length L (u32) | first update id (u64) | CRC-32 of (length, id, payload) (u32) | payload (L bytes)
//   payload  meta length M (u32) | meta (M bytes, journal-meta.ts) | the updates' bytes, one after another;
//            the updates' ids run on from the head's
//
// A journal of format 1 ("ylogapp1", JSON meta) is read as well, and is
// moved into the database before anything is appended to it.
//
// One record per `append` call, so the call stays all or nothing. The store
// id ties a journal to its database: a database replaced or removed while
// appends were pending must not take another file's records.
import { closeSync, fdatasyncSync, fstatSync, openSync, readSync, writeSync } from 'node:fs'
import { crc32 } from 'node:zlib'
import { YlogError, type UpdateRecord } from '@ylog/core'
import { decodeMeta, encodeMeta } from './journal-meta.js'
import { RESTORE_ADVICE } from './store-errors.js'

/** An update with the id the store gave it. */
export interface NumberedUpdate {
  id: number
  record: UpdateRecord
}

export type JournalFormat = 1 | 2
/** The header's first 8 bytes: the format written, and every format read (index + 1 is the format). */
const MAGIC = Buffer.from('ylogapp2', 'ascii')
const MAGICS = [Buffer.from('ylogapp1', 'ascii'), MAGIC]
const RECORD_MAGIC = Buffer.from('yrec', 'ascii').readUInt32LE(0)
export const JOURNAL_HEADER_BYTES = 16
const RECORD_HEAD_BYTES = 20
/** The size a journal is created at, zero-filled. */
export const JOURNAL_PREALLOCATED_BYTES = 1024 * 1024

/** The two calls an append makes, on an object so that tests can make them fail (a full disk, a failed sync). */
export const journalIo = { writeSync, fdatasyncSync }

/** The journal file beside a store file. */
export function journalPath(storeFile: string): string {
  return `${storeFile}-appends`
}

export function journalHeader(storeId: number): Buffer {
  const header = Buffer.alloc(JOURNAL_HEADER_BYTES)
  MAGIC.copy(header)
  header.writeBigUInt64LE(BigInt(storeId), 8)
  return header
}

/** One append's updates as a journal record (head, payload). */
export function encodeRecord(updates: readonly NumberedUpdate[]): Buffer {
  const meta = encodeMeta(updates.map((u) => u.record))
  const length = 4 + meta.byteLength + updates.reduce((n, u) => n + u.record.update.byteLength, 0)
  const out = Buffer.allocUnsafe(RECORD_HEAD_BYTES + length)
  out.writeUInt32LE(RECORD_MAGIC, 0)
  out.writeUInt32LE(length, 4)
  out.writeBigUInt64LE(BigInt(updates[0]?.id ?? 0), 8)
  out.writeUInt32LE(meta.byteLength, RECORD_HEAD_BYTES)
  out.set(meta, RECORD_HEAD_BYTES + 4)
  let at = RECORD_HEAD_BYTES + 4 + meta.byteLength
  for (const { record } of updates) {
    out.set(record.update, at)
    at += record.update.byteLength
  }
  out.writeUInt32LE(crc32(out.subarray(RECORD_HEAD_BYTES), crc32(out.subarray(4, 16))), 16)
  return out
}

/** What a scan of a journal's bytes found: the updates of its whole records, and where they end. */
export interface JournalScan {
  /** The format its header names (0 for a journal whose header never reached the disk). */
  format: JournalFormat | 0
  updates: NumberedUpdate[]
  /** Offset just past the last whole record of this round: where the next one goes. */
  end: number
}

export interface ScanOptions {
  /** The first id the database does not hold: a whole record from it on, after a bad one, is damage. */
  nextId?: number
  /** Stop at the first record that is not whole, without looking further (a reader beside the writer). */
  lenient?: boolean
}

/**
 * Reads the records of a journal file's bytes, from the header on, while
 * they are whole and their ids run on by one. The run ends at zeros, at a
 * record of an earlier round (a lower id), or at a record that is cut off
 * or fails its CRC: an append a crash interrupted before its sync returned,
 * never acknowledged. Unless a whole record further on continues the run:
 * then acknowledged bytes were damaged, and that is refused.
 */
export function scanJournal(bytes: Buffer, storeId: number, file: string, options: ScanOptions = {}): JournalScan {
  const corrupt = (problem: string): YlogError => new YlogError('STORE_CORRUPT', `${file}: ${problem}; ${RESTORE_ADVICE}`)
  const format = (MAGICS.findIndex((magic) => bytes.subarray(0, 8).equals(magic)) + 1) as JournalFormat | 0
  if (bytes.byteLength < JOURNAL_HEADER_BYTES || format === 0) {
    // A header that never reached the disk whole: the journal was being created when the machine stopped. Its
    // first append returns only after the header is synced, so nothing in it was acknowledged, unless whole records say so.
    const head = bytes.subarray(0, 8)
    const unfinished =
      head.every((b) => b === 0) || (bytes.byteLength < JOURNAL_HEADER_BYTES && MAGIC.subarray(0, head.length).equals(head))
    if (unfinished && findRecordFrom(bytes, 0, 0) === undefined) return { format: 0, updates: [], end: 0 }
    throw corrupt(`not a ylog append journal (its first 8 bytes are not "${MAGIC.toString('ascii')}")`)
  }
  const fileStoreId = Number(bytes.readBigUInt64LE(8))
  if (fileStoreId !== storeId) {
    throw new YlogError(
      'STORE_CORRUPT',
      `${file} holds appends for another store (store id ${fileStoreId}, the database's is ${storeId}): the database was ` +
        'replaced or removed while appends were pending. Put the matching database back, or move this file aside to open the ' +
        'database without them',
    )
  }
  const updates: NumberedUpdate[] = []
  let at = JOURNAL_HEADER_BYTES
  for (;;) {
    const expected = updates.length > 0 ? (updates.at(-1) as NumberedUpdate).id + 1 : options.nextId
    const record = readRecord(bytes, at)
    if (record === undefined || (updates.length > 0 && record.firstId < (expected as number))) {
      // A reader beside the writer may catch an append half-written.
      if (options.lenient !== true && expected !== undefined && findRecordFrom(bytes, at + 1, expected) !== undefined)
        throw corrupt(`the record at byte ${at} is not whole but records after it continue the log (damaged after it was written)`)
      return { format, updates, end: at }
    }
    if (updates.length > 0 && record.firstId !== expected) {
      if (options.lenient === true) return { format, updates, end: at }
      throw corrupt(`the record at byte ${at} starts at update ${record.firstId}, expected ${expected}`)
    }
    try {
      updates.push(...decodePayload(record.payload, record.firstId, format))
    } catch (err) {
      throw corrupt(`the record at byte ${at} passes its CRC-32 but cannot be read (${(err as Error).message})`)
    }
    at = record.next
  }
}

interface RawRecord {
  firstId: number
  payload: Buffer
  next: number
}

function readRecord(bytes: Buffer, at: number): RawRecord | undefined {
  if (at + RECORD_HEAD_BYTES > bytes.byteLength || bytes.readUInt32LE(at) !== RECORD_MAGIC) return undefined
  const length = bytes.readUInt32LE(at + 4)
  const next = at + RECORD_HEAD_BYTES + length
  if (length < 4 || next > bytes.byteLength) return undefined
  const payload = bytes.subarray(at + RECORD_HEAD_BYTES, next)
  if (crc32(payload, crc32(bytes.subarray(at + 4, at + 16))) !== bytes.readUInt32LE(at + 16)) return undefined
  return { firstId: Number(bytes.readBigUInt64LE(at + 8)), payload, next }
}

// A torn append leaves a prefix of one record; zeros and earlier rounds' records (lower
// ids) may follow. A whole record of this round beyond it can only mean synced bytes were damaged.
function findRecordFrom(bytes: Buffer, from: number, nextId: number): number | undefined {
  for (let at = bytes.indexOf('yrec', from, 'ascii'); at !== -1; at = bytes.indexOf('yrec', at + 1, 'ascii')) {
    const record = readRecord(bytes, at)
    if (record !== undefined && record.firstId >= nextId) return at
  }
  return undefined
}

function decodePayload(payload: Buffer, firstId: number, format: JournalFormat): NumberedUpdate[] {
  const metaLength = payload.readUInt32LE(0)
  let at = 4 + metaLength
  const out = decodeMeta(payload.subarray(4, at), format).map(({ bytes, entries, idempotency }, i): NumberedUpdate => {
    const record: UpdateRecord = { update: new Uint8Array(payload.buffer, payload.byteOffset + at, bytes), entries }
    if (idempotency !== undefined) record.idempotency = idempotency
    at += bytes
    return { id: firstId + i, record }
  })
  if (at !== payload.byteLength) throw new Error(`its updates take ${at} bytes of ${payload.byteLength}`)
  return out
}

/** Reads a whole file through an open descriptor (from where it was opened, so a rename does not matter). */
export function readAll(fd: number): Buffer {
  return readPrefix(fd, fstatSync(fd).size)
}

function readPrefix(fd: number, size: number): Buffer {
  const bytes = Buffer.allocUnsafe(size)
  let done = 0
  while (done < size) {
    const n = readSync(fd, bytes, done, size - done, done)
    if (n === 0) break
    done += n
  }
  return bytes.subarray(0, done)
}

/**
 * The whole records of a journal, read from outside beside its writer (a
 * lenient scan), reading no more of the file than they take: 64 KiB first,
 * more only while a record runs past what was read. The file is 1 MiB
 * however little it holds, and a reader may poll it several times a second.
 */
export function readJournalRecords(fd: number, storeId: number, file: string): NumberedUpdate[] {
  const size = fstatSync(fd).size
  for (let want = Math.min(size, 64 * 1024); ; want = Math.min(size, want * 4)) {
    const bytes = readPrefix(fd, want)
    const scan = scanJournal(bytes, storeId, file, { lenient: true })
    if (want >= size || !runsPast(bytes, scan.end)) return scan.updates
  }
}

// Whether the bytes at `at` may be a record that continues past the end of what was read.
function runsPast(bytes: Buffer, at: number): boolean {
  if (at + RECORD_HEAD_BYTES > bytes.byteLength) return true
  return bytes.readUInt32LE(at) === RECORD_MAGIC && at + RECORD_HEAD_BYTES + bytes.readUInt32LE(at + 4) > bytes.byteLength
}

/**
 * The journal's file, open for appending at a known end. Every method
 * throws what the file system threw (the caller names the file and sorts
 * the error); after a failed append the next one writes at the same end.
 */
export class JournalFile {
  readonly #fd: number
  readonly #sync: boolean
  #end: number

  constructor(fd: number, end: number, sync: boolean) {
    this.#fd = fd
    this.#end = end
    this.#sync = sync
  }

  /** Creates the file with `mode` (the database's own, as SQLite gives its -wal and -shm files). */
  static create(path: string, storeId: number, sync: boolean, mode: number): JournalFile {
    const fd = openSync(path, 'w+', mode)
    try {
      // Page by page: one big write can give the file large page-cache folios, and then every small
      // append dirties (and writeback writes) a whole folio, up to 1 MiB, where it should be 4 KiB.
      const page = Buffer.alloc(4096)
      journalHeader(storeId).copy(page)
      for (let at = 0; at < JOURNAL_PREALLOCATED_BYTES; at += page.byteLength) writeAll(fd, at === 0 ? page : page.fill(0), at)
      if (sync) fdatasyncSync(fd)
    } catch (err) {
      closeSync(fd)
      throw err
    }
    return new JournalFile(fd, JOURNAL_HEADER_BYTES, sync)
  }

  get end(): number {
    return this.#end
  }

  /** Appends one record and syncs it: when this returns, the appends in it survive a crash. */
  append(record: Buffer): void {
    // If this throws, what reached the file is a torn record, which the next append overwrites (it starts at the same end).
    writeAll(this.#fd, record, this.#end)
    if (this.#sync) syncData(this.#fd)
    this.#end += record.byteLength
  }

  /**
   * Starts writing behind the header again, once the database holds every
   * record durably. Nothing is written: the old records stay until
   * overwritten, and their ids are below every new one.
   */
  rewind(): void {
    this.#end = JOURNAL_HEADER_BYTES
  }

  close(): void {
    closeSync(this.#fd)
  }
}

/** fdatasync, its failure marked: after one, what the kernel holds for the file may not be what was written. */
function syncData(fd: number): void {
  try {
    journalIo.fdatasyncSync(fd)
  } catch (err) {
    throw Object.assign(err as Error, { syncFailed: true })
  }
}

function writeAll(fd: number, bytes: Buffer, position: number): void {
  let done = 0
  while (done < bytes.byteLength) done += journalIo.writeSync(fd, bytes, done, bytes.byteLength - done, position + done)
}
