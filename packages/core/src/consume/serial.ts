/**
 * Runs async jobs one at a time, in call order: each starts when the one
 * before it has settled, whether it resolved or failed (a failure is its
 * caller's to handle, and does not stop the jobs after it).
 */
export class Serial {
  #tail: Promise<unknown> = Promise.resolve()
  #pending = 0

  /** Jobs queued or running. */
  get pending(): number {
    return this.#pending
  }

  run<T>(job: () => T | Promise<T>): Promise<T> {
    this.#pending++
    const result = this.#tail.then(job)
    const settled = (): void => {
      this.#pending--
    }
    this.#tail = result.then(settled, settled)
    return result
  }
}

/** A Serial per key (one consumer's acks, say), forgotten when it goes idle so keys do not pile up. */
export class KeyedSerial<K> {
  readonly #serials = new Map<K, Serial>()

  run<T>(key: K, job: () => T | Promise<T>): Promise<T> {
    let serial = this.#serials.get(key)
    if (serial === undefined) {
      serial = new Serial()
      this.#serials.set(key, serial)
    }
    const own = serial
    const result = own.run(job)
    const forget = (): void => {
      if (own.pending === 0 && this.#serials.get(key) === own) this.#serials.delete(key)
    }
    result.then(forget, forget)
    return result
  }

  /** Keys with jobs queued or running. */
  get size(): number {
    return this.#serials.size
  }
}
