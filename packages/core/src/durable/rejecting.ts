/**
 * Runs `write` so that what it throws becomes the rejection of the promise
 * it returns: methods that return a promise never throw, and
 * `append(x).catch(…)` sees every refusal. A try/catch rather than an async
 * function, which would add a promise and its ticks to every append.
 */
export function rejecting<T>(write: () => Promise<T>): Promise<T> {
  try {
    return write()
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)))
  }
}
