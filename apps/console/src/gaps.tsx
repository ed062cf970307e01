import type { Entry, Nodes } from '@ylog/client'
import { client } from './api.js'
import { GapTimeline } from './gap-timeline.js'
import { ranges } from './nodes.js'
import { usePoll } from './poll.js'
import { NotLoaded } from './token.js'
import { Short, Time } from './time.js'

type GapEntry = Extract<Entry, { kind: 'gap' }>

async function load(): Promise<{ gaps: GapEntry[]; nodes: Nodes }> {
  const [page, nodes] = await Promise.all([client().last(1000, { kind: 'gap' }), client().nodes()])
  return { gaps: page.entries.filter((e): e is GapEntry => e.kind === 'gap').reverse(), nodes }
}

/** Losses recorded as gap entries (events dropped before the log), and holes (seqs not arrived here). */
export function GapsPage() {
  const loaded = usePoll(load, 2000)
  if (loaded.state !== 'ok') return <NotLoaded loaded={loaded} />
  const { gaps, nodes } = loaded.value
  const streams = new Map<string, { node: string; stream: string; entries: number; dropped: number; last: number }>()
  for (const g of gaps) {
    const k = `${g.node}/${g.data.stream}`
    const s = streams.get(k) ?? { node: g.node, stream: g.data.stream, entries: 0, dropped: 0, last: 0 }
    s.entries++
    s.dropped += g.data.to - g.data.from + 1
    s.last = Math.max(s.last, g.at)
    streams.set(k, s)
  }
  const holes = nodes.nodes.filter((n) => n.holes.length > 0)
  return (
    <section aria-labelledby="gaps-title">
      <h1 id="gaps-title">Gaps</h1>
      <h2>Current holes</h2>
      {holes.length === 0 ? (
        <p class="muted" data-holes="0">
          No holes: this node holds every seq it knows of.
        </p>
      ) : (
        <ul data-holes={holes.length}>
          {holes.map((n) => (
            <li key={n.node}>
              <Short hex={n.node} />: seqs <mark>{ranges(n.holes)}</mark> exist elsewhere, not here yet
            </li>
          ))}
        </ul>
      )}
      <h2>Over time</h2>
      <GapTimeline gaps={gaps} now={Date.now()} />
      <h2>By node and stream</h2>
      <div class="scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">node</th>
              <th scope="col">stream</th>
              <th scope="col">gap entries</th>
              <th scope="col">events dropped</th>
              <th scope="col">latest</th>
            </tr>
          </thead>
          <tbody>
            {streams.size === 0 && (
              <tr>
                <td colSpan={5} class="muted">
                  No gap entries: no events were dropped before the log (newest 1000 looked at).
                </td>
              </tr>
            )}
            {[...streams.values()].map((s) => (
              <tr key={`${s.node}/${s.stream}`}>
                <th scope="row">
                  <Short hex={s.node} />
                </th>
                <td>
                  <code>{s.stream}</code>
                </td>
                <td class="num">{s.entries}</td>
                <td class="num">{s.dropped}</td>
                <td>
                  <Time ms={s.last} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2>Gap entries, newest first</h2>
      <div class="scroll">
        <table class="gaps">
          <thead>
            <tr>
              <th scope="col">when</th>
              <th scope="col">entry</th>
              <th scope="col">topic</th>
              <th scope="col">stream</th>
              <th scope="col">dropped</th>
              <th scope="col">count</th>
            </tr>
          </thead>
          <tbody>
            {gaps.map((g) => (
              <tr key={`${g.node}:${g.seq}`} data-gap={`${g.node}:${g.seq}`}>
                <td>
                  <Time ms={g.at} />
                </td>
                <th scope="row">
                  <a href={`#/entry/${g.node}/${g.seq}`}>
                    <Short hex={g.node} />:{g.seq}
                  </a>
                </th>
                <td>{g.topic}</td>
                <td>
                  <code>{g.data.stream}</code>
                </td>
                <td>
                  {g.data.from}–{g.data.to}
                </td>
                <td class="num">{g.data.to - g.data.from + 1}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  )
}
