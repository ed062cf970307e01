import { isTransient } from '@ylog/client'

export interface RetryPolicy {
  /** Attempts after the first; Infinity retries a transient failure for as long as it lasts. */
  maxRetries: number
  baseMs: number
  capMs: number
  random?: () => number
}

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: Number.POSITIVE_INFINITY, baseMs: 200, capMs: 30_000 }

/**
 * Runs `attempt` until it succeeds, a failure is permanent (isTransient:
 * network errors, timeouts, 408, 429 with Retry-After and 503 are the ones
 * a retry can fix), or the retries are used up. Waits are capped
 * exponential with full jitter, and never shorter than a Retry-After.
 */
export async function withRetry<T>(
  attempt: () => Promise<T>,
  policy: RetryPolicy,
  onRetry: (err: unknown, waitMs: number) => void,
  signal?: AbortSignal,
): Promise<T> {
  const random = policy.random ?? Math.random
  for (let n = 0; ; n++) {
    try {
      return await attempt()
    } catch (err) {
      if (!isTransient(err) || n >= policy.maxRetries || signal?.aborted === true) throw err
      const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(n, 30))
      const asked = (err as { retryAfterMs?: number }).retryAfterMs ?? 0
      const wait = Math.max(asked, Math.round(random() * ceiling))
      onRetry(err, wait)
      await new Promise((resolve) => setTimeout(resolve, wait))
    }
  }
}
