import type { Entry } from '@ylog/client'
import { useEffect, useRef, useState } from 'preact/hooks'
import { EntryView } from './entry-view.js'
import { live, ROW_CAP, type Filters } from './live-store.js'
import { Short, Time } from './time.js'
import { TokenForm } from './token.js'
import { VirtualList } from './virtual-list.js'

function useLive(): number {
  const [version, setVersion] = useState(0)
  useEffect(() => live.subscribe(() => setVersion((v) => v + 1)), [])
  return version
}

function summary(entry: Entry): string {
  if (entry.kind === 'transition') return `${entry.data.subject}: ${entry.data.from} → ${entry.data.to} (${entry.data.event})`
  if (entry.kind === 'gap') return `dropped ${entry.data.stream} ${entry.data.from}–${entry.data.to}`
  const text = JSON.stringify(entry.data)
  return text.length > 160 ? `${text.slice(0, 160)}…` : text
}

export function LivePage() {
  const version = useLive()
  const state = live.state
  const rows = live.visible()
  const [selected, setSelected] = useState(-1)
  const [open, setOpen] = useState<Entry | undefined>(undefined)
  const newest = useRef<string | undefined>(undefined)
  const key = (e: Entry): string => `${e.node}:${e.seq}`
  const top = rows[0] === undefined ? undefined : key(rows[0])
  const addedOnTop =
    newest.current === undefined
      ? 0
      : Math.max(
          0,
          rows.slice(0, 1000).findIndex((e) => key(e) === newest.current),
        )
  newest.current = top

  return (
    <section class="live" aria-labelledby="live-title">
      <h1 id="live-title">Live log</h1>
      <FilterBar />
      <div class="toolbar">
        {state.paused ? (
          <button type="button" onClick={() => live.resume()}>
            Resume{state.pending > 0 ? ` (${state.pending} new)` : ''}
          </button>
        ) : (
          <button type="button" onClick={() => live.pause()}>
            Pause
          </button>
        )}
        <span
          class="status"
          role="status"
          data-rows={rows.length}
          data-received={state.received + state.missed}
          data-skipped={state.missed}
        >
          {state.loading ? 'loading… ' : ''}
          {rows.length} rows{state.rows.length >= ROW_CAP ? ` (cap ${ROW_CAP}: oldest dropped)` : ''}
          {state.paused ? ' · paused' : ' · live'}
          {state.missed > 0 ? ` · ${state.missed} skipped: this tab fell behind the stream` : ''}
        </span>
      </div>
      {state.needsToken ? (
        <TokenForm />
      ) : (
        state.error !== undefined && (
          <p class="error" role="alert">
            {state.error}
          </p>
        )
      )}
      <div class="split">
        <div class="list-pane">
          <div class="row head" aria-hidden="true">
            <span>time</span>
            <span>node:seq</span>
            <span>topic</span>
            <span>kind</span>
            <span>data</span>
          </div>
          <VirtualList
            items={rows}
            version={version}
            keyOf={key}
            label="entries, newest first"
            selected={selected}
            addedOnTop={addedOnTop}
            onSelect={setSelected}
            onOpen={(i) => setOpen(rows[i])}
            row={(e) => (
              <>
                <Time ms={e.at} compact />
                <span data-id={key(e)}>
                  <Short hex={e.node} />:{e.seq}
                </span>
                <span>{e.topic}</span>
                <span class={`kind ${e.kind}`}>{e.kind}</span>
                <span class="summary">{summary(e)}</span>
              </>
            )}
          />
          <div class="toolbar">
            {state.prev === null ? (
              <span class="muted" data-start="true">
                start of the log reached
              </span>
            ) : (
              <button type="button" onClick={() => void live.older()} disabled={state.loading}>
                {state.prev === undefined ? 'Older (reload: the cap dropped rows)' : 'Older entries'}
              </button>
            )}
          </div>
        </div>
        <aside class="detail-pane" aria-label="entry details">
          {open === undefined ? (
            <p class="muted">Select a row (arrows, Enter) to see the entry and check its signature.</p>
          ) : (
            <EntryView entry={open} />
          )}
        </aside>
      </div>
    </section>
  )
}

function FilterBar() {
  const f = live.filters
  const [draft, setDraft] = useState<Filters>(f)
  const field = (name: keyof Filters) => (e: Event) => setDraft({ ...draft, [name]: (e.currentTarget as HTMLInputElement).value })
  return (
    <form
      class="filters"
      aria-label="filters"
      onSubmit={(e) => {
        e.preventDefault()
        live.setFilters({ ...draft, topic: draft.topic.trim(), node: draft.node.trim().toLowerCase(), subject: draft.subject.trim() })
      }}
    >
      <label>
        topic <input name="topic" value={draft.topic} onInput={field('topic')} placeholder="any" />
      </label>
      <label>
        kind
        <select name="kind" value={draft.kind} onChange={field('kind')}>
          <option value="">any</option>
          <option value="event">event</option>
          <option value="transition">transition</option>
          <option value="gap">gap</option>
        </select>
      </label>
      <label>
        node <input name="node" value={draft.node} onInput={field('node')} placeholder="id prefix" />
      </label>
      <label>
        subject <input name="subject" value={draft.subject} onInput={field('subject')} placeholder="any" />
      </label>
      <button type="submit">Apply</button>
    </form>
  )
}
