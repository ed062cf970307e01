import type { Worker } from 'node:worker_threads'
import { startModuleWorker } from './module-worker.js'
import { signEntryTail } from './entry.js'
import { YlogError, type YlogErrorCode } from './errors.js'
import type { NodeIdentity } from './identity.js'
import type { JobResult, SignJob, SignMessage, SignRequest, SignedOk } from './sign-worker.js'

interface ChainHead {
  next: number
  prev: Uint8Array
  at: number
}

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
 * right here instead: one signature (~30 µs) is cheaper than two thread
 * handoffs, each a wake-up that on a busy machine waits for a core. Under
 * load the worker is busy and this never happens; under a trickle of
 * appends every entry is signed without leaving the thread.
 */
export class WorkerSigner {
  readonly #worker: Worker
  readonly #identity: NodeIdentity
  #queue: Waiting[] = []
  readonly #inFlight: Waiting[][] = []
  #dead: YlogError | undefined
  /** The chain head after the last entry signed (here or by the worker, whose answers are all in when nothing is in flight). */
  #head: ChainHead
  /** The worker's head is behind: entries were signed here since its last message. */
  #workerBehind = false
  #signedHereThisTurn = false

  constructor(identity: NodeIdentity, head: ChainHead) {
    this.#identity = identity
    this.#head = { ...head }
    const workerData = { seed: identity.exportSeed(), next: head.next, prev: head.prev, at: head.at }
    this.#worker = startModuleWorker(import.meta.url, 'sign-worker', workerData)
    this.#worker.unref()
    this.#worker.on('message', (results: JobResult[]) => {
      const batch = this.#inFlight.shift() ?? []
      results.forEach((result, i) => {
        const waiting = batch[i] as Waiting
        if (!result.ok) return waiting.reject(new YlogError(result.code as YlogErrorCode, result.message))
        const last = 'group' in result ? result.group[result.group.length - 1] : result
        if (last !== undefined) this.#head = { next: last.seq + 1, prev: last.hash, at: last.at }
        waiting.resolve('group' in result ? result.group : result)
      })
      this.#pump()
    })
    const fail = (why: string): void => {
      this.#dead ??= new YlogError('STORE_FAILED', `the signing thread ${why}`)
      for (const w of [...this.#inFlight.flat(), ...this.#queue]) w.reject(this.#dead)
      this.#inFlight.length = 0
      this.#queue = []
    }
    this.#worker.on('error', (err) => fail(`failed: ${err.message}`))
    this.#worker.on('exit', (code) => fail(`exited with code ${code}`))
  }

  /** Signs one entry from its encoded tail (`encodeEntryTail`). */
  sign(tail: Uint8Array, at: number): Promise<SignedOk> {
    return this.#submit({ tail, at }) as Promise<SignedOk>
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

  async close(): Promise<void> {
    this.#worker.removeAllListeners('exit')
    await this.#worker.terminate()
    this.#dead ??= new YlogError('CLOSED', 'the signer is closed')
  }

  /** What the worker would do with the job, on this thread: same chain rules, same all-or-nothing groups. */
  #signHere(job: SignJob): Promise<SignedOk | SignedOk[]> {
    let head = this.#head
    const signOne = (request: SignRequest): SignedOk => {
      const at = Math.max(request.at, head.at)
      const { bytes, hash } = signEntryTail(this.#identity, { seq: head.next, prev: head.prev, at }, request.tail)
      const signed: SignedOk = { ok: true, seq: head.next, at, prev: head.prev, bytes, hash }
      head = { next: head.next + 1, prev: hash, at }
      return signed
    }
    let result: SignedOk | SignedOk[]
    try {
      result = 'group' in job ? job.group.map(signOne) : signOne(job)
    } catch (err) {
      // Too large, typically: refused, the chain stays where it was.
      const group = 'group' in job && job.group.length > 1 ? `batch entry ${head.next - this.#head.next}: ` : ''
      return Promise.reject(new YlogError(((err as { code?: string }).code ?? 'BAD_DATA') as YlogErrorCode, group + (err as Error).message))
    }
    this.#head = head
    this.#workerBehind = true
    return Promise.resolve(result)
  }

  #pump(): void {
    if (this.#inFlight.length >= 2 || this.#queue.length === 0) return
    const batch = this.#queue.splice(0, 256)
    this.#inFlight.push(batch)
    const message: SignMessage = { jobs: batch.map((w) => w.request) }
    if (this.#workerBehind) {
      message.head = this.#head
      this.#workerBehind = false
    }
    this.#worker.postMessage(message)
  }
}
