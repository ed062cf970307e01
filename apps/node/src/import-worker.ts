// Runs inside a worker thread: checkImportBody for the import route, so that parsing and checking a body of
// thousands of entries does not hold the node's event loop. See import-checker.ts.
import { parentPort } from 'node:worker_threads'
import { toWire } from '@ylog/core'
import { checkImportBody } from './import-check.js'
import type { CheckRequest, CheckResult, PackedRun } from './import-checker.js'

const port = parentPort
if (port === null) throw new Error('import-worker.ts must run in a worker thread')

port.on('message', ({ id, body }: CheckRequest) => {
  let result: CheckResult
  const transfer: ArrayBuffer[] = []
  try {
    const runs: PackedRun[] = checkImportBody(new Uint8Array(body)).map((run) => {
      // Each run's entries in one buffer and its hashes in another, moved to the caller rather than copied.
      const offsets = [0]
      for (const entry of run.entries) offsets.push((offsets[offsets.length - 1] as number) + entry.byteLength)
      const bytes = new Uint8Array(offsets[offsets.length - 1] as number)
      run.entries.forEach((entry, i) => bytes.set(entry, offsets[i] as number))
      const hashes = new Uint8Array(32 * run.hashes.length)
      run.hashes.forEach((hash, i) => hashes.set(hash, 32 * i))
      transfer.push(bytes.buffer, hashes.buffer)
      return { node: run.node, fromSeq: run.fromSeq, bytes: bytes.buffer, offsets, hashes: hashes.buffer }
    })
    result = { id, ok: true, runs }
  } catch (err) {
    result = { id, ok: false, error: toWire(err, 'INTERNAL') }
  }
  port.postMessage(result, transfer)
})
