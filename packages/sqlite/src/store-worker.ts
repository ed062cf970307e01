// Runs inside a worker thread: the second connection of a ThreadedSqliteStore,
// for the jobs that take seconds on a big store. See threaded-sqlite-store.ts.
import { parentPort, workerData } from 'node:worker_threads'
import Database from 'better-sqlite3'
import { toWire, type WireError } from '@ylog/core'
import { storeError } from './store-errors.js'
import { addSnapshotParts, deepCheck, tuneConnection } from './store-maintenance.js'

export type MaintenanceCall = { id: number } & (
  | { method: 'compact'; parts: Uint8Array[]; upTo: number }
  | { method: 'checkIntegrity' }
  | { method: 'close' }
)

const port = parentPort
if (port === null) throw new Error('store-worker.ts must run in a worker thread')
const { path } = workerData as { path: string }

const describe = (err: unknown): WireError => toWire(err, 'STORE_FAILED')

let db: Database.Database
try {
  // The caller's thread opened, checked and migrated the file already.
  db = new Database(path, { fileMustExist: true })
  // Never an fsync of its own: a compaction only rewrites what the tail
  // holds durably, so losing it to a power cut leaves the tail in place,
  // which replays to the same log; the next commit on the main connection
  // (FULL) syncs the WAL frames written before it anyway.
  tuneConnection(db, 'normal')
  port.postMessage({ type: 'ready' })
} catch (err) {
  port.postMessage({ type: 'error', ...describe(storeError(path, 'opening a second connection', err)) })
  process.exit(0)
}

port.on('message', (call: MaintenanceCall) => {
  try {
    let value: unknown
    if (call.method === 'compact') {
      try {
        addSnapshotParts(db, call.parts, call.upTo)
      } catch (err) {
        throw storeError(path, `compacting up to update ${call.upTo}`, err)
      }
    } else if (call.method === 'checkIntegrity') value = deepCheck(db)
    else db.close()
    port.postMessage({ type: 'result', id: call.id, ok: true, value })
  } catch (err) {
    port.postMessage({ type: 'result', id: call.id, ok: false, ...describe(err) })
  }
})
