import { useEffect, useState } from 'preact/hooks'
import { describe, needsToken, onTokenChange } from './api.js'

export type Loaded<T> =
  | { state: 'loading' }
  | { state: 'ok'; value: T; at: number }
  | { state: 'error'; message: string; needsToken: boolean }

/** Loads now and every `everyMs` while the page is shown; again at once when the token changes. */
export function usePoll<T>(load: () => Promise<T>, everyMs: number, deps: readonly unknown[] = []): Loaded<T> {
  const [loaded, setLoaded] = useState<Loaded<T>>({ state: 'loading' })
  useEffect(() => {
    let live = true
    let timer: ReturnType<typeof setTimeout> | undefined
    const run = (): void => {
      clearTimeout(timer)
      load()
        .then(
          (value) => live && setLoaded({ state: 'ok', value, at: Date.now() }),
          (err: unknown) => live && setLoaded({ state: 'error', message: describe(err), needsToken: needsToken(err) }),
        )
        .finally(() => {
          if (live) timer = setTimeout(run, everyMs)
        })
    }
    run()
    const off = onTokenChange(run)
    return () => {
      live = false
      clearTimeout(timer)
      off()
    }
  }, deps)
  return loaded
}
