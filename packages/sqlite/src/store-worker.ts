// Runs inside a worker thread: owns one SqliteUpdateStore and answers calls
// from ThreadedSqliteStore. See threaded-sqlite-store.ts for why.
import { parentPort, workerData } from 'node:worker_threads'
import type { UpdateStore } from '@ylog/core'
import { SqliteUpdateStore, type SqliteUpdateStoreOptions } from './sqlite-update-store.js'

type Method = 'append' | 'load' | 'compact' | 'query' | 'stats' | 'close' | 'checkIntegrity' | 'findIdempotency' | 'pruneIdempotency' | 'readConsumer' | 'writeConsumer'
interface Call {
  id: number
  method: Method
  args: unknown[]
}

const port = parentPort
if (port === null) throw new Error('store-worker.ts must run in a worker thread')
const { path, options } = workerData as { path: string; options: SqliteUpdateStoreOptions }

const describe = (err: unknown): { code: string; message: string } => ({
  code: (err as { code?: string }).code ?? 'STORE_FAILED',
  message: (err as Error).message ?? String(err),
})

let store: SqliteUpdateStore
try {
  store = SqliteUpdateStore.open(path, options)
  port.postMessage({ type: 'ready' })
} catch (err) {
  port.postMessage({ type: 'error', ...describe(err) })
  process.exit(0)
}

port.on('message', async (call: Call) => {
  try {
    const target = store as unknown as Record<Method, (...args: unknown[]) => unknown>
    const value = await (target[call.method] as UpdateStore['load']).apply(store, call.args as [])
    // A snapshot is hundreds of MB at a million entries: move it, do not copy it.
    const snapshot = call.method === 'load' ? (value as { snapshot?: Uint8Array }).snapshot : undefined
    const transfer = snapshot !== undefined && snapshot.byteOffset === 0 && snapshot.byteLength === snapshot.buffer.byteLength ? [snapshot.buffer as ArrayBuffer] : []
    port.postMessage({ type: 'result', id: call.id, ok: true, value }, transfer)
  } catch (err) {
    port.postMessage({ type: 'result', id: call.id, ok: false, ...describe(err) })
  }
})
