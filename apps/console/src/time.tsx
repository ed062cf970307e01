/** A time in the viewer's zone; the exact value (ISO 8601 UTC and milliseconds) on hover. */
export function Time({ ms, compact = false }: { ms: number | null | undefined; compact?: boolean }) {
  if (ms === null || ms === undefined) return <span class="muted">–</span>
  const date = new Date(ms)
  // In a list, today's times need no date: the row stays narrow and the hover still says everything.
  const today = compact && date.toDateString() === new Date().toDateString()
  const local = today
    ? date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' })
    : date.toLocaleString(undefined, {
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
      })
  const iso = date.toISOString()
  return (
    <time dateTime={iso} title={`${iso} (${ms} ms)`}>
      {local}
    </time>
  )
}

/** The first characters of a hex id, the whole of it on hover. */
export function Short({ hex, n = 8 }: { hex: string; n?: number }) {
  return (
    <code title={hex} class="id">
      {hex.slice(0, n)}
    </code>
  )
}
