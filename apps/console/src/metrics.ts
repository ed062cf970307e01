/** `ylog_refused_updates_total{reason="…"} n` lines of the Prometheus text, by reason. */
export function refusedByReason(text: string): Array<{ reason: string; count: number }> {
  const out: Array<{ reason: string; count: number }> = []
  for (const line of text.split('\n')) {
    const match = /^ylog_refused_updates_total\{(.*)\}\s+(\S+)/.exec(line)
    if (match === null) continue
    const reason = /reason="([^"]*)"/.exec(match[1] ?? '')?.[1] ?? '?'
    const count = Number(match[2])
    if (count > 0) out.push({ reason, count })
  }
  return out.sort((a, b) => b.count - a.count)
}
