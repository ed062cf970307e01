import type { Entry } from '@ylog/client'
import { useEffect, useState } from 'preact/hooks'
import { client, describe } from './api.js'
import { Time } from './time.js'
import { fetchAndVerify, type Verdict } from './verify.js'

type Check = { state: 'checking' } | { state: 'done'; verdict: Verdict } | { state: 'error'; message: string }

/** Every field of one entry and the browser's own verdict on its signature and chain link. */
export function EntryView({ entry }: { entry: Entry }) {
  const [check, setCheck] = useState<Check>({ state: 'checking' })
  useEffect(() => {
    let live = true
    setCheck({ state: 'checking' })
    fetchAndVerify(entry).then(
      (verdict) => live && setCheck({ state: 'done', verdict }),
      (err: unknown) => live && setCheck({ state: 'error', message: describe(err) }),
    )
    return () => {
      live = false
    }
  }, [entry.node, entry.seq, entry.hash])
  return (
    <article class="entry" aria-label={`entry ${entry.node.slice(0, 8)}:${entry.seq}`}>
      <header>
        <h2>
          Entry <code>{entry.node.slice(0, 8)}</code>:{entry.seq}
        </h2>
        <Badge check={check} />
      </header>
      {check.state === 'done' && (
        <p class="checks">
          {check.verdict.ok
            ? check.verdict.checks.join(' · ')
            : `${check.verdict.reason}${check.verdict.checks.length > 0 ? ` (passed: ${check.verdict.checks.join(', ')})` : ''}`}
        </p>
      )}
      <dl>
        <dt>node</dt>
        <dd>
          <code class="wrap">{entry.node}</code>
        </dd>
        <dt>seq</dt>
        <dd>{entry.seq}</dd>
        <dt>appended</dt>
        <dd>
          <Time ms={entry.at} />
        </dd>
        {entry.time !== undefined && <dt>happened</dt>}
        {entry.time !== undefined && (
          <dd>
            <Time ms={entry.time} />
          </dd>
        )}
        <dt>topic</dt>
        <dd>{entry.topic}</dd>
        <dt>kind</dt>
        <dd>{entry.kind}</dd>
        <dt>hash</dt>
        <dd>
          <code class="wrap">{entry.hash}</code>
        </dd>
        <dt>prev</dt>
        <dd>
          <code class="wrap">{entry.prev}</code>
        </dd>
        <dt>signature</dt>
        <dd>
          <code class="wrap">{entry.sig}</code>
        </dd>
      </dl>
      <h3>data</h3>
      <pre class="data">{JSON.stringify(entry.data, null, 2)}</pre>
    </article>
  )
}

function Badge({ check }: { check: Check }) {
  if (check.state === 'checking')
    return (
      <span class="badge pending" role="status">
        checking…
      </span>
    )
  if (check.state === 'error')
    return (
      <span class="badge invalid" role="status" title={check.message}>
        not checked: {check.message}
      </span>
    )
  return check.verdict.ok ? (
    <span class="badge verified" role="status" data-verdict="verified">
      verified
    </span>
  ) : (
    <span class="badge invalid" role="status" data-verdict="invalid" title={check.verdict.reason}>
      invalid
    </span>
  )
}

/** The entry page (#/entry/<node>/<seq>): a link to one entry. */
export function EntryPage({ node, seq }: { node: string; seq: number }) {
  const [entry, setEntry] = useState<Entry | string | undefined>(undefined)
  useEffect(() => {
    client()
      .get(node, seq)
      .then(setEntry, (err: unknown) => setEntry(describe(err)))
  }, [node, seq])
  if (entry === undefined) return <p>Loading…</p>
  if (typeof entry === 'string')
    return (
      <p class="error" role="alert">
        {entry}
      </p>
    )
  return <EntryView entry={entry} />
}
