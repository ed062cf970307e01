import type { Worker } from 'node:worker_threads'
import { fromWire, YlogError, type NodeId, type WireError } from '@ylog/core'
import { startModuleWorker, type CheckedRun } from '@ylog/core/internal'

export interface CheckRequest {
  id: number
  body: ArrayBuffer
}

/** A CheckedRun as it crosses threads: its entries in one buffer (entry i is offsets[i] to offsets[i + 1]), hashes 32 bytes each. */
export interface PackedRun {
  node: NodeId
  fromSeq: number
  bytes: ArrayBuffer
  offsets: number[]
  hashes: ArrayBuffer
}

export type CheckResult = { id: number; ok: true; runs: PackedRun[] } | { id: number; ok: false; error: WireError }

/**
 * Checks import bodies (checkImportBody) on a worker thread of its own,
 * started on first use: the node's thread only places the checked runs
 * (applyCheckedRun), so a body is checked while the one before is applied.
 */
export class ImportChecker {
  #worker: Worker | undefined
  readonly #pending = new Map<number, { resolve: (runs: CheckedRun[]) => void; reject: (err: Error) => void }>()
  #nextId = 1

  check(body: Uint8Array): Promise<CheckedRun[]> {
    const worker = this.#start()
    const id = this.#nextId++
    // The body moves to the worker when it owns its memory; a view into a larger buffer is copied.
    const owned = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.buffer instanceof ArrayBuffer
    // (A copy through Uint8Array: Buffer's slice is a view of the same memory, often Node's shared pool.)
    const buffer = owned ? (body.buffer as ArrayBuffer) : new Uint8Array(body).buffer
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      worker.postMessage({ id, body: buffer } satisfies CheckRequest, [buffer])
    })
  }

  async close(): Promise<void> {
    const worker = this.#worker
    this.#worker = undefined
    if (worker !== undefined) await worker.terminate()
  }

  #start(): Worker {
    if (this.#worker !== undefined) return this.#worker
    const worker = startModuleWorker(import.meta.url, 'import-worker', undefined)
    worker.unref()
    worker.on('message', (result: CheckResult) => {
      const pending = this.#pending.get(result.id)
      this.#pending.delete(result.id)
      if (pending === undefined) return
      if (result.ok) pending.resolve(result.runs.map(unpack))
      else pending.reject(fromWire(result.error))
    })
    const fail = (why: string): void => {
      this.#worker = undefined
      const err = new YlogError('INTERNAL', `the import checking thread ${why}; the import was not written, send it again`)
      for (const p of this.#pending.values()) p.reject(err)
      this.#pending.clear()
    }
    worker.on('error', (err) => fail(`failed: ${err.message}`))
    worker.on('exit', (code) => fail(`exited with code ${code}`))
    this.#worker = worker
    return worker
  }
}

function unpack(run: PackedRun): CheckedRun {
  const entries = run.offsets.slice(0, -1).map((from, i) => new Uint8Array(run.bytes, from, (run.offsets[i + 1] as number) - from))
  const hashes = entries.map((_, i) => new Uint8Array(run.hashes, 32 * i, 32))
  return { node: run.node, fromSeq: run.fromSeq, entries, hashes }
}
