// Runs in a worker thread: holds one node's key and chain head, and turns
// encoded, validated entry tails into signed entries in order. See signer.ts.
import { parentPort, workerData } from 'node:worker_threads'
import { ChainSigner, type ChainHead, type JobResult, type SignedOk, type SignJob } from './chain-signer.js'
import { NodeIdentity } from '../entry/identity.js'

/** Jobs, with the chain head when the main thread signed entries itself since the last message. */
export interface SignMessage {
  head?: ChainHead
  jobs: SignJob[]
}

const port = parentPort
if (port === null) throw new Error('sign-worker.ts must run in a worker thread')
const start = workerData as ChainHead & { seed: Uint8Array }
const chain = new ChainSigner(NodeIdentity.fromSeed(start.seed), start)

port.on('message', ({ head, jobs }: SignMessage) => {
  if (head !== undefined) chain.head = head
  const results = jobs.map((job) => chain.run(job))
  port.postMessage(results, pack(results))
})

/**
 * Moves every signed entry's bytes into one buffer, and hashes and prevs
 * into another, then transfers both: the main thread receives two buffers
 * per message instead of three copied ones per entry. Fewer, larger
 * allocations there mean fewer garbage collections, on the thread that
 * does everything else. Entry bytes stay views of their shared buffer for
 * as long as the document keeps them, which is as long as it lives.
 */
function pack(results: JobResult[]): ArrayBuffer[] {
  const signed = results.flatMap((r): SignedOk[] => (!r.ok ? [] : 'group' in r ? r.group : [r]))
  if (signed.length === 0) return []
  const bytes = new Uint8Array(signed.reduce((n, s) => n + s.bytes.byteLength, 0))
  const hashes = new Uint8Array(signed.length * 64)
  let at = 0
  signed.forEach((s, i) => {
    bytes.set(s.bytes, at)
    s.bytes = bytes.subarray(at, (at += s.bytes.byteLength))
    hashes.set(s.hash, i * 64)
    hashes.set(s.prev, i * 64 + 32)
    s.hash = hashes.subarray(i * 64, i * 64 + 32)
    s.prev = hashes.subarray(i * 64 + 32, i * 64 + 64)
  })
  return [bytes.buffer, hashes.buffer]
}
