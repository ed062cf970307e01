import { render } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { onTokenChange, setToken, storedToken } from './api.js'
import { ContextPage } from './context.js'
import { EntryPage } from './entry-view.js'
import { GapsPage } from './gaps.js'
import { live } from './live-store.js'
import { LivePage } from './live.js'
import { NodesPage } from './nodes.js'
import './style.css'

const PAGES = [
  { hash: '#/', label: 'Live log' },
  { hash: '#/nodes', label: 'Nodes' },
  { hash: '#/gaps', label: 'Gaps' },
  { hash: '#/context', label: 'Context' },
] as const

function useHash(): string {
  const [hash, setHash] = useState(location.hash === '' ? '#/' : location.hash)
  useEffect(() => {
    const on = (): void => setHash(location.hash === '' ? '#/' : location.hash)
    addEventListener('hashchange', on)
    return () => removeEventListener('hashchange', on)
  }, [])
  return hash
}

function Page({ hash }: { hash: string }) {
  const entry = /^#\/entry\/([0-9a-f]{64})\/(\d+)$/.exec(hash)
  if (entry !== null) return <EntryPage node={entry[1] as string} seq={Number(entry[2])} />
  if (hash === '#/nodes') return <NodesPage />
  if (hash === '#/gaps') return <GapsPage />
  if (hash === '#/context') return <ContextPage />
  return <LivePage />
}

function App() {
  const hash = useHash()
  const [, setTokenVersion] = useState(0)
  useEffect(() => onTokenChange(() => setTokenVersion((v) => v + 1)), [])
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <strong class="brand">ylog</strong>
        <nav aria-label="pages">
          <ul>
            {PAGES.map((p) => (
              <li key={p.hash}>
                <a href={p.hash} aria-current={hash === p.hash ? 'page' : undefined}>
                  {p.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        {storedToken() !== undefined && (
          <button type="button" class="link" onClick={() => setToken('')}>
            Forget token
          </button>
        )}
      </header>
      <main id="main" tabIndex={-1}>
        <Page hash={hash} />
      </main>
    </>
  )
}

void live.start()
render(<App />, document.getElementById('app') as HTMLElement)
