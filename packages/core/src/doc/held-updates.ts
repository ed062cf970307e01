/** The clock a Yjs client must reach before a held update can be decided. */
export interface Awaited {
  client: number
  resumeAt: number
}

interface Held {
  update: Uint8Array
  waiting: readonly Awaited[]
}

/**
 * Remote updates that arrived before the structs they build on, kept (up to
 * a byte budget) until those structs arrive. Dropping the oldest when over
 * budget is safe: a peer resends missing structs on its next sync.
 */
export class HeldUpdates {
  readonly #maxBytes: number
  #held: Held[] = []
  #bytes = 0

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes
  }

  get count(): number {
    return this.#held.length
  }

  add(update: Uint8Array, waiting: readonly Awaited[]): void {
    this.#held.push({ update, waiting })
    this.#bytes += update.byteLength
    while (this.#bytes > this.#maxBytes && this.#held.length > 1) this.#bytes -= (this.#held.shift() as Held).update.byteLength
  }

  /**
   * Offers `retry` every held update whose awaited structs have arrived (by
   * `stateOf`), again and again while that makes progress: re-checking (and
   * decoding) only those keeps a long catch-up linear. `retry` answers
   * 'hold' to keep an update; anything else removes it. Returns how many
   * were applied.
   */
  release(stateOf: (client: number) => number, retry: (update: Uint8Array) => 'applied' | 'hold' | 'dropped'): number {
    let released = 0
    for (let progress = true; progress; ) {
      progress = false
      for (let i = 0; i < this.#held.length; i++) {
        const { update, waiting } = this.#held[i] as Held
        if (waiting.some((w) => stateOf(w.client) < w.resumeAt)) continue
        const outcome = retry(update)
        if (outcome === 'hold') continue
        this.#held.splice(i--, 1)
        this.#bytes -= update.byteLength
        if (outcome === 'applied') {
          released++
          progress = true
        }
      }
    }
    return released
  }
}
