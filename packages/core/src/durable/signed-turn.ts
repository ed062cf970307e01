import type { Entry } from '../entry/entry.js'
import type { SignedEntry } from '../doc/log-doc.js'
import type { AppendOptions } from './durable-log-options.js'

/** Entries one append (or batch) had signed, and how to answer it. */
export interface SignedItem {
  signed: SignedEntry[]
  options: AppendOptions
  resolve: (entries: Entry[]) => void
  reject: (err: Error) => void
}

/**
 * Queues entries the signing thread returned and hands everything queued
 * in this turn over at once, to become one Yjs transaction: the signer
 * answers up to 256 appends in one message, and one update for all of them
 * costs Yjs and the store a fraction of 256 updates. A request with an
 * idempotency key is a run of its own, to get an update (and so a record)
 * that carries its key.
 */
export class SignedTurn {
  #queue: SignedItem[] = []
  readonly #applyRun: (items: SignedItem[]) => void

  constructor(applyRun: (items: SignedItem[]) => void) {
    this.#applyRun = applyRun
  }

  add(signed: SignedEntry[], options: AppendOptions): Promise<Entry[]> {
    return new Promise((resolve, reject) => {
      if (this.#queue.length === 0) queueMicrotask(() => this.#flush())
      this.#queue.push({ signed, options, resolve, reject })
    })
  }

  #flush(): void {
    const queue = this.#queue
    this.#queue = []
    let run: SignedItem[] = []
    for (const item of queue) {
      if (item.options.idempotency === undefined) {
        run.push(item)
        continue
      }
      if (run.length > 0) this.#applyRun(run)
      this.#applyRun([item])
      run = []
    }
    if (run.length > 0) this.#applyRun(run)
  }
}
