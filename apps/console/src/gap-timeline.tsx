import type { Entry } from '@ylog/client'

type GapEntry = Extract<Entry, { kind: 'gap' }>

const WIDTH = 1000
const LABELS = 230
const LANE = 26
const AXIS = 34
/** A span shorter than this is widened, so that one gap is not drawn across the whole width. */
const MIN_SPAN_MS = 60_000

/**
 * Gap entries over time: one lane per node and stream, one mark per gap
 * entry at its time, larger for more events dropped (log scale); each mark
 * links to its entry and names it on hover.
 */
export function GapTimeline({ gaps, now }: { gaps: readonly GapEntry[]; now: number }) {
  if (gaps.length === 0) return null
  const lanes = [...new Set(gaps.map(laneOf))].sort()
  const first = Math.min(...gaps.map((g) => g.at))
  const last = Math.max(now, ...gaps.map((g) => g.at))
  const start = Math.min(first, last - MIN_SPAN_MS)
  const span = last - start
  const x = (at: number): number => LABELS + ((at - start) / span) * (WIDTH - LABELS - 20)
  const height = lanes.length * LANE + AXIS
  const ticks = [start, start + span / 2, last]
  const between = `${new Date(start).toLocaleString()} to ${new Date(last).toLocaleString()}`
  const label = `${gaps.length} gap entries in ${lanes.length} streams, ${between}`
  return (
    <figure class="timeline">
      <svg viewBox={`0 0 ${WIDTH} ${height}`} role="img" aria-label={label}>
        {lanes.map((lane, i) => {
          const [node, stream] = splitLane(lane)
          const y = i * LANE + LANE / 2
          return (
            <g key={lane} class="lane">
              <text x={0} y={y + 4}>
                <title>{`${node} ${stream}`}</title>
                {`${node.slice(0, 8)} ${stream.length > 22 ? `${stream.slice(0, 21)}…` : stream}`}
              </text>
              <line x1={LABELS} x2={WIDTH - 10} y1={y} y2={y} />
            </g>
          )
        })}
        {gaps.map((g) => {
          const count = g.data.to - g.data.from + 1
          const when = new Date(g.at)
          return (
            <a key={`${g.node}:${g.seq}`} href={`#/entry/${g.node}/${g.seq}`} data-gap={`${g.node}:${g.seq}`}>
              <circle cx={x(g.at)} cy={lanes.indexOf(laneOf(g)) * LANE + LANE / 2} r={Math.min(10, 3 + 2 * Math.log10(count))}>
                <title>
                  {`${when.toLocaleString()} (${when.toISOString()}): ${count} events (${g.data.from}–${g.data.to}) of ` +
                    `${g.data.stream} dropped; entry ${g.node.slice(0, 8)}:${g.seq}`}
                </title>
              </circle>
            </a>
          )
        })}
        {ticks.map((t, i) => (
          <text key={t} class="tick" x={x(t)} y={height - 8} text-anchor={i === 0 ? 'start' : i === ticks.length - 1 ? 'end' : 'middle'}>
            {new Date(t).toLocaleTimeString()}
          </text>
        ))}
      </svg>
      <figcaption class="muted">
        Each mark is a gap entry, larger for more events dropped; hover for the exact time, follow to the entry.
      </figcaption>
    </figure>
  )
}

function laneOf(g: GapEntry): string {
  return `${g.node}\n${g.data.stream}`
}

function splitLane(lane: string): [string, string] {
  const cut = lane.indexOf('\n')
  return [lane.slice(0, cut), lane.slice(cut + 1)]
}
