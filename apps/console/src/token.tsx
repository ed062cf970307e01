import { useState } from 'preact/hooks'
import { setToken } from './api.js'
import { live } from './live-store.js'

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
