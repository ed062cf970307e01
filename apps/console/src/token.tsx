import { useState } from 'preact/hooks'
import { setToken } from './api.js'
import { live } from './live-store.js'
import type { Loaded } from './poll.js'

/** Asked once per tab when the node wants a read token; kept in sessionStorage, so closing the tab forgets it. */
export function TokenForm() {
  const [value, setValue] = useState('')
  return (
    <form
      class="token"
      aria-label="read token"
      onSubmit={(e) => {
        e.preventDefault()
        setToken(value.trim())
        void live.start()
      }}
    >
      <p role="alert">This node needs a read token (--read-token). It is kept for this tab only.</p>
      <label>
        token{' '}
        <input
          type="password"
          name="token"
          autoComplete="off"
          value={value}
          onInput={(e) => setValue((e.currentTarget as HTMLInputElement).value)}
        />
      </label>
      <button type="submit">Use token</button>
    </form>
  )
}

/** What a polled page shows until its data is there: a wait, the token form when the node wants one, or the error. */
export function NotLoaded({ loaded }: { loaded: Exclude<Loaded<unknown>, { state: 'ok' }> }) {
  if (loaded.state === 'loading') return <p>Loading…</p>
  if (loaded.needsToken) return <TokenForm />
  return (
    <p class="error" role="alert">
      {loaded.message}
    </p>
  )
}
