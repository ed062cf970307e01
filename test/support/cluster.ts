// Helpers for tests that run several real daemons as a cluster.
import { readAll, type WireEntry } from './node-process.js'

export interface Head {
  node: string
  length: number
  hash: string
  at: number
  forked: boolean
}

export interface NodesBody {
  self: string
  cluster: string
  membership: { mode: 'open' } | { mode: 'list'; members: string[] }
  nodes: Array<Head & { at: number | null; holes: Array<{ from: number; to: number }> }>
  peers: Array<{ url: string; state: string; node: string | null; lastMessageAt: number | null; lag: number }>
  connections: Array<{ remoteAddress: string | undefined; node: string | null; lastMessageAt: number | null; messagesIn: number; messagesOut: number }>
}

export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url)
  if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}: ${await res.text()}`)
  return (await res.json()) as T
}

export async function heads(url: string): Promise<Head[]> {
  return (await getJson<{ heads: Head[] }>(`${url}/api/heads`)).heads
}

export function nodes(url: string): Promise<NodesBody> {
  return getJson<NodesBody>(`${url}/api/nodes`)
}

/** The sum of a metric's samples whose labels contain `labels` (all samples when none are given). */
export async function metric(url: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text()
  let total = 0
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line)
    if (m === null || m[1] !== name) continue
    const set = m[2] ?? ''
    if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) total += Number(m[3])
  }
  return total
}

/** Polls `check` until it returns true; throws with the last `describe()` once the deadline passes. */
export async function waitUntil(check: () => Promise<boolean>, describe: () => Promise<string> | string, deadlineMs = 10_000, intervalMs = 100): Promise<void> {
  const until = Date.now() + deadlineMs
  for (;;) {
    if (await check()) return
    if (Date.now() > until) throw new Error(`not reached within ${deadlineMs} ms: ${await describe()}`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

/** Heads sorted by node, for comparing nodes. */
export async function sortedHeads(url: string): Promise<Head[]> {
  return (await heads(url)).sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0))
}

/** Waits until every node serves the same heads with `total` entries in all. */
export async function waitConverged(urls: readonly string[], total: number, deadlineMs = 10_000): Promise<Head[]> {
  let last: Head[][] = []
  await waitUntil(
    async () => {
      last = await Promise.all(urls.map((u) => sortedHeads(u)))
      const first = JSON.stringify(last[0])
      return last.every((h) => JSON.stringify(h) === first) && (last[0] ?? []).reduce((n, h) => n + h.length, 0) === total
    },
    () => `heads per node: ${JSON.stringify(last.map((hs) => hs.map((h) => `${h.node.slice(0, 8)}:${h.length}`)))}`,
    deadlineMs,
  )
  return last[0] ?? []
}

/** Entries as a comparable set of ids and hashes. */
export async function entrySet(url: string): Promise<string[]> {
  return (await readAll(url)).map((e: WireEntry) => `${e.node}:${e.seq}:${e.hash}`).sort()
}
