// Runs in a worker thread: holds one node's key and chain head, and turns
// validated entry fields into signed entries in order. See signer.ts.
import { parentPort, workerData } from 'node:worker_threads'
import { signEntry, type EntryBody } from './entry.js'
import { NodeIdentity } from './identity.js'

interface Start {
  seed: Uint8Array
  next: number
  prev: Uint8Array
  at: number
}
export interface SignRequest {
  topic: string
  body: EntryBody
  at: number
}
export type Signed =
  | { ok: true; seq: number; at: number; prev: Uint8Array; bytes: Uint8Array; hash: Uint8Array }
  | { ok: false; code: string; message: string }

const port = parentPort
if (port === null) throw new Error('sign-worker.ts must run in a worker thread')
const start = workerData as Start
const identity = NodeIdentity.fromSeed(start.seed)
let next = start.next
let prev = start.prev
let lastAt = start.at

port.on('message', (batch: SignRequest[]) => {
  const out: Signed[] = []
  for (const request of batch) {
    const at = Math.max(request.at, lastAt)
    try {
      const { bytes, hash } = signEntry(identity, { seq: next, prev, at, topic: request.topic, body: request.body })
      out.push({ ok: true, seq: next, at, prev, bytes, hash })
      next += 1
      prev = hash
      lastAt = at
    } catch (err) {
      // Too large, typically: refuse this one, keep the chain where it was.
      out.push({ ok: false, code: (err as { code?: string }).code ?? 'BAD_DATA', message: (err as Error).message })
    }
  }
  port.postMessage(out)
})
