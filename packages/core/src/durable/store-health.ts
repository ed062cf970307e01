import { YlogError } from '../errors.js'

/** Whether the log takes writes, and if not, why and what it is doing about it. */
export interface StoreHealth {
  /** 'ok': takes writes. 'retrying': a commit failed for a reason that can pass; it retries. 'stopped': it cannot, until a restart. */
  state: 'ok' | 'retrying' | 'stopped'
  /** Why writes are refused (absent when ok): what commits are rejected with. */
  error?: YlogError
  /** When writes stopped (ms since the epoch). */
  since?: number
  /** Retries since writes stopped, and when the last one ran and the next will (ms since the epoch). */
  attempts: number
  lastTryAt?: number
  nextTryAt?: number
  /** Since open: commits (or compactions) that failed, and recoveries that brought writes back. */
  failures: number
  recoveries: number
}

/** How often a log whose store failed for a reason that can pass tries again: doubling from the first delay up to the last. */
export interface RetryOptions {
  /** ms before the first retry (default 250). */
  firstDelayMs?: number
  /** ms between retries at most (default 10,000). */
  maxDelayMs?: number
}

export type HealthListener = (health: StoreHealth) => void

/** STORE_FULL and STORE_IO can pass by themselves (space returns, a device recovers); anything else needs an operator. */
export function isPassable(err: unknown): boolean {
  return err instanceof YlogError && (err.code === 'STORE_FULL' || err.code === 'STORE_IO')
}

/**
 * DurableLog's half that decides what a failed commit means: a failure that
 * can pass schedules retries with backoff (each one `attempt`, which probes
 * the store and rebuilds the log from it), anything else stops the log for
 * good. Keeps the figures /readyz and the metrics report.
 */
export class StoreRecovery {
  #health: StoreHealth = { state: 'ok', attempts: 0, failures: 0, recoveries: 0 }
  #timer: NodeJS.Timeout | undefined
  #delay: number
  readonly #first: number
  readonly #max: number
  readonly #attempt: () => Promise<void>
  readonly #listeners = new Set<HealthListener>()

  constructor(attempt: () => Promise<void>, retry: RetryOptions = {}) {
    this.#attempt = attempt
    this.#first = retry.firstDelayMs ?? 250
    this.#max = Math.max(this.#first, retry.maxDelayMs ?? 10_000)
    this.#delay = this.#first
  }

  get health(): StoreHealth {
    return { ...this.#health }
  }

  /** The error writes are refused with, or undefined while the store takes them. */
  get refusal(): YlogError | undefined {
    return this.#health.error
  }

  onChange(listener: HealthListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** A commit or compaction failed: stop writes, and retry if the failure can pass. Returns what writers are refused with. */
  failed(err: unknown): YlogError {
    const current = this.#health
    if (current.state === 'stopped') return current.error as YlogError
    const message = err instanceof Error ? err.message : String(err)
    const failures = current.failures + 1
    if (!isPassable(err)) {
      const why = `commit failed, the log stopped accepting writes (restart the node to replay what was committed): ${message}`
      const error = new YlogError('STORE_FAILED', why, { cause: err })
      this.#set({ ...current, state: 'stopped', error, since: current.since ?? Date.now(), nextTryAt: undefined, failures })
      this.close()
      return error
    }
    const code = (err as YlogError).code
    const why = `commit failed, writes are refused until the store takes them (retrying, every ${this.#max / 1000} s at most): ${message}`
    const error = new YlogError(code, why, { cause: err })
    this.#set({ ...current, state: 'retrying', error, since: current.since ?? Date.now(), failures, nextTryAt: Date.now() + this.#delay })
    this.#schedule()
    return error
  }

  /** Stops retrying (the log is closing, or stopped for good). */
  close(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  #schedule(): void {
    if (this.#timer !== undefined) return
    const delay = this.#delay
    this.#delay = Math.min(this.#max, this.#delay * 2)
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      void this.#retry()
    }, delay)
    this.#timer.unref()
  }

  async #retry(): Promise<void> {
    if (this.#health.state !== 'retrying') return
    const lastTryAt = Date.now()
    try {
      await this.#attempt()
    } catch (err) {
      const failed = this.#health
      if (failed.state !== 'retrying') return
      if (!isPassable(err)) {
        this.#set({ ...failed, attempts: failed.attempts + 1, lastTryAt })
        this.failed(err)
        return
      }
      const error = refreshed(failed.error, err)
      this.#set({ ...failed, attempts: failed.attempts + 1, lastTryAt, nextTryAt: Date.now() + this.#delay, error })
      this.#schedule()
      return
    }
    this.#delay = this.#first
    const { failures, recoveries } = this.#health
    this.#set({ state: 'ok', attempts: 0, failures, recoveries: recoveries + 1, lastTryAt })
  }

  #set(health: StoreHealth): void {
    this.#health = health
    for (const listener of this.#listeners) {
      try {
        listener(this.health)
      } catch (err) {
        process.emitWarning(`a DurableLog health listener threw: ${(err as Error).stack ?? String(err)}`, 'YlogListenerWarning')
      }
    }
  }
}

// Writers see the latest cause (the disk may be full still, or failing otherwise now).
function refreshed(previous: YlogError | undefined, err: unknown): YlogError {
  const code = (err as YlogError).code
  const message = `commit failed, writes are refused until the store takes them again (retrying): ${(err as Error).message}`
  const same = previous !== undefined && previous.code === code && previous.message === message
  return same ? previous : new YlogError(code, message, { cause: err })
}
