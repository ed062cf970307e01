// Runs in a worker thread: holds one node's key and chain head, and turns
// encoded, validated entry tails into signed entries in order. See signer.ts.
import { parentPort, workerData } from 'node:worker_threads'
import { ChainSigner, type ChainHead, type SignJob } from './chain-signer.js'
import { NodeIdentity } from './identity.js'

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
  port.postMessage(jobs.map((job) => chain.run(job)))
})
