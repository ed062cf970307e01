import type { Worker } from 'node:worker_threads'
import { startModuleWorker } from './module-worker.js'
import type { EntryBody } from './entry.js'
import { YlogError, type YlogErrorCode } from './errors.js'
import type { NodeIdentity } from './identity.js'
import type { JobResult, SignJob, SignRequest, SignedOk } from './sign-worker.js'

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
 */
export class WorkerSigner {
  readonly #worker: Worker
  #queue: Waiting[] = []
  readonly #inFlight: Waiting[][] = []
  #dead: YlogError | undefined

  constructor(identity: NodeIdentity, head: { next: number; prev: Uint8Array; at: number }) {
    const workerData = { seed: identity.exportSeed(), next: head.next, prev: head.prev, at: head.at }
    this.#worker = startModuleWorker(import.meta.url, 'sign-worker', workerData)
    this.#worker.unref()
    this.#worker.on('message', (results: JobResult[]) => {
      const batch = this.#inFlight.shift() ?? []
      results.forEach((result, i) => {
        const waiting = batch[i] as Waiting
        if (!result.ok) waiting.reject(new YlogError(result.code as YlogErrorCode, result.message))
        else waiting.resolve('group' in result ? result.group : result)
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

  sign(topic: string, body: EntryBody, at: number): Promise<SignedOk> {
    return this.#submit({ topic, body, at }) as Promise<SignedOk>
  }

  /** Signs consecutive entries, all or none: on a failure the chain is left where it was. */
  signGroup(requests: SignRequest[]): Promise<SignedOk[]> {
    return this.#submit({ group: requests }) as Promise<SignedOk[]>
  }

  #submit(request: SignJob): Promise<SignedOk | SignedOk[]> {
    if (this.#dead !== undefined) return Promise.reject(this.#dead)
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

  #pump(): void {
    if (this.#inFlight.length >= 2 || this.#queue.length === 0) return
    const batch = this.#queue.splice(0, 256)
    this.#inFlight.push(batch)
    this.#worker.postMessage(batch.map((w) => w.request))
  }
}
