// Runs in a worker thread: holds one node's key and chain head, and turns
// encoded, validated entry tails into signed entries in order. See signer.ts.
import { parentPort, workerData } from 'node:worker_threads'
import { signEntryTail } from './entry.js'
import { NodeIdentity } from './identity.js'

interface Start {
  seed: Uint8Array
  next: number
  prev: Uint8Array
  at: number
}
/** An entry to sign: its encoded topic, kind and data (`encodeEntryTail`) and its requested time. */
export interface SignRequest {
  tail: Uint8Array
  at: number
}
/** One entry to sign, or a group signed all together or not at all (a batch append). */
export type SignJob = SignRequest | { group: SignRequest[] }
export type SignedOk = { ok: true; seq: number; at: number; prev: Uint8Array; bytes: Uint8Array; hash: Uint8Array }
export type Signed = SignedOk | { ok: false; code: string; message: string }
export type JobResult = Signed | { ok: true; group: SignedOk[] }

const port = parentPort
if (port === null) throw new Error('sign-worker.ts must run in a worker thread')
const start = workerData as Start
const identity = NodeIdentity.fromSeed(start.seed)
let next = start.next
let prev = start.prev
let lastAt = start.at

function sign(request: SignRequest): SignedOk {
  const at = Math.max(request.at, lastAt)
  const { bytes, hash } = signEntryTail(identity, { seq: next, prev, at }, request.tail)
  const signed: SignedOk = { ok: true, seq: next, at, prev, bytes, hash }
  next += 1
  prev = hash
  lastAt = at
  return signed
}

function failure(err: unknown, where = ''): Signed {
  // Too large, typically: refuse it, keep the chain where it was.
  return { ok: false, code: (err as { code?: string }).code ?? 'BAD_DATA', message: where + (err as Error).message }
}

/** Jobs, with the chain head when the main thread signed entries itself since the last message. */
export interface SignMessage {
  head?: { next: number; prev: Uint8Array; at: number }
  jobs: SignJob[]
}

port.on('message', ({ head, jobs }: SignMessage) => {
  if (head !== undefined) ({ next, prev, at: lastAt } = head)
  const out: JobResult[] = []
  for (const job of jobs) {
    if (!('group' in job)) {
      try {
        out.push(sign(job))
      } catch (err) {
        out.push(failure(err))
      }
      continue
    }
    const before = { next, prev, lastAt }
    const group: SignedOk[] = []
    try {
      for (const request of job.group) group.push(sign(request))
      out.push({ ok: true, group })
    } catch (err) {
      // All or nothing: the chain goes back to where the group began.
      ;({ next, prev, lastAt } = before)
      out.push(failure(err, job.group.length > 1 ? `batch entry ${group.length}: ` : ''))
    }
  }
  port.postMessage(out)
})
