import type { Worker } from 'node:worker_threads'
import { startModuleWorker } from './module-worker.js'
import { ChainSigner, type ChainHead, type JobResult, type SignJob, type SignRequest, type SignedOk } from './chain-signer.js'
import { fromWire, YlogError } from '../errors.js'
import type { NodeIdentity } from '../entry/identity.js'
import type { SignMessage } from './sign-worker.js'

interface Waiting {
  request: SignJob
  resolve: (signed: SignedOk | SignedOk[]) => void
  reject: (err: Error) => void
}

/**
 * Signs a node's entries on a worker thread, in order. One writer's chain is
 * sequential (each entry's prev is the hash of the previous signed entry),
 * so a second core cannot sign ahead; what it can do is sign while the main
 * thread does everything else (Yjs, the store, HTTP). Requests are sent in
 * batches, at most two in flight, so the worker is never idle under load.
 *
 * When the worker is idle, the first request of an event-loop turn is signed
 * right here instead: one signature is cheaper than two thread
 * handoffs, each a wake-up that on a busy machine waits for a core. Under
 * load the worker is busy and this never happens; under a trickle of
 * appends every entry is signed without leaving the thread.
 */
export class WorkerSigner {
  readonly #worker: Worker
  #queue: Waiting[] = []
  readonly #inFlight: Array<{ epoch: number; waiting: Waiting[] }> = []
  // Bumped by rewind(): answers to batches sent before it were signed on a chain that no longer holds.
  #epoch = 0
  #rewoundBy: YlogError | undefined
  #dead: YlogError | undefined
  /** Signs here; its head follows every entry signed, here or by the worker (whose answers are all in when nothing is in flight). */
  readonly #here: ChainSigner
  /** The worker's head is behind: entries were signed here since its last message. */
  #workerBehind = false
  #signedHereThisTurn = false

  constructor(identity: NodeIdentity, head: ChainHead) {
    this.#here = new ChainSigner(identity, head)
    const workerData = { seed: identity.exportSeed(), next: head.next, prev: head.prev, at: head.at }
    this.#worker = startModuleWorker(import.meta.url, 'sign-worker', workerData)
    this.#worker.unref()
    this.#worker.on('message', (results: JobResult[]) => {
      const { epoch, waiting: batch } = this.#inFlight.shift() ?? { epoch: this.#epoch, waiting: [] }
      if (epoch !== this.#epoch) {
        for (const w of batch) w.reject(this.#rewoundBy ?? new YlogError('SIGNER_FAILED', 'the chain was rewound'))
        this.#pump()
        return
      }
      results.forEach((result, i) => {
        const last = !result.ok ? undefined : 'group' in result ? result.group[result.group.length - 1] : result
        if (last !== undefined) this.#here.head = { next: last.seq + 1, prev: last.hash, at: last.at }
        settle(batch[i] as Waiting, result)
      })
      this.#pump()
    })
    const fail = (why: string): void => {
      this.#dead ??= new YlogError('SIGNER_FAILED', `the signing thread ${why}`)
      for (const w of [...this.#inFlight.flatMap((b) => b.waiting), ...this.#queue]) w.reject(this.#dead)
      this.#inFlight.length = 0
      this.#queue = []
    }
    this.#worker.on('error', (err) => fail(`failed: ${err.message}`))
    this.#worker.on('exit', (code) => fail(`exited with code ${code}`))
  }

  /** Signs one entry from its encoded tail (`encodeEntryTail`). */
  sign(request: SignRequest): Promise<SignedOk> {
    return this.#submit(request) as Promise<SignedOk>
  }

  /** Signs consecutive entries, all or none: on a failure the chain is left where it was. */
  signGroup(requests: SignRequest[]): Promise<SignedOk[]> {
    return this.#submit({ group: requests }) as Promise<SignedOk[]>
  }

  #submit(request: SignJob): Promise<SignedOk | SignedOk[]> {
    if (this.#dead !== undefined) return Promise.reject(this.#dead)
    if (!this.#signedHereThisTurn && this.#inFlight.length === 0 && this.#queue.length === 0) {
      this.#signedHereThisTurn = true
      setImmediate(() => (this.#signedHereThisTurn = false))
      return this.#signHere(request)
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ request, resolve, reject })
      this.#pump()
    })
  }

  /**
   * Puts the chain back to `head` (the log was rebuilt from its store after
   * a failed commit, and the entries signed since were dropped). Answers
   * still coming for batches sent before are rejected with `reason`; what is
   * queued is signed from `head`, and the worker gets `head` with its next
   * message.
   */
  rewind(head: ChainHead, reason: YlogError): void {
    this.#epoch++
    this.#rewoundBy = reason
    this.#here.head = { ...head }
    this.#workerBehind = true
  }

  async close(): Promise<void> {
    this.#worker.removeAllListeners('exit')
    await this.#worker.terminate()
    this.#dead ??= new YlogError('CLOSED', 'the signer is closed')
  }

  #signHere(job: SignJob): Promise<SignedOk | SignedOk[]> {
    this.#workerBehind = true
    return new Promise((resolve, reject) => settle({ request: job, resolve, reject }, this.#here.run(job)))
  }

  #pump(): void {
    if (this.#inFlight.length >= 2 || this.#queue.length === 0) return
    const batch = this.#queue.splice(0, 256)
    this.#inFlight.push({ epoch: this.#epoch, waiting: batch })
    const message: SignMessage = { jobs: batch.map((w) => w.request) }
    if (this.#workerBehind) {
      message.head = this.#here.head
      this.#workerBehind = false
    }
    this.#worker.postMessage(message)
  }
}

function settle(waiting: Waiting, result: JobResult): void {
  if (!result.ok) waiting.reject(fromWire(result))
  else waiting.resolve('group' in result ? result.group : result)
}
