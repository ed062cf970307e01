// Helpers for tests that run several real daemons as a cluster.
import { waitFor } from '@ylog/core/testing'
import { FaultProxy } from './fault-proxy.js'
import { readAll, startNode, tempDir, type RunningNode, type WireEntry } from './node-process.js'

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
  nodes: Array<Head & { at: number | null; holes: Array<{ from: number; to: number }>; gaps: number }>
  peers: Array<{ url: string; state: string; node: string | null; lastMessageAt: number | null; lag: number }>
  connections: Array<{
    remoteAddress: string | undefined
    node: string | null
    lastMessageAt: number | null
    messagesIn: number
    messagesOut: number
  }>
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
export function waitUntil(
  check: () => Promise<boolean>,
  describe: () => Promise<string> | string,
  deadlineMs = 10_000,
  intervalMs = 100,
): Promise<void> {
  return waitFor(check, describe, { timeoutMs: deadlineMs, intervalMs })
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

/** Waits until every node serves identical heads (no total known in advance, e.g. after writes that may have failed). */
export async function waitIdentical(urls: readonly string[], deadlineMs = 10_000): Promise<Head[]> {
  let last: Head[][] = []
  await waitUntil(
    async () => {
      last = await Promise.all(urls.map((u) => sortedHeads(u)))
      const first = JSON.stringify(last[0]?.map(headKey))
      return last.every((h) => JSON.stringify(h.map(headKey)) === first)
    },
    () => `heads per node: ${JSON.stringify(last.map((hs) => hs.map((h) => `${h.node.slice(0, 8)}:${h.length}`)))}`,
    deadlineMs,
  )
  return last[0] ?? []
}

const headKey = (h: Head): string => `${h.node}:${h.length}:${h.hash}`

/**
 * Everything the cluster tests demand of a converged cluster, as a list of
 * problems (empty when all holds): identical entry sets and heads on every
 * node, each node's chain contiguous from seq 0 with every `prev` the hash of
 * the entry before, no holes and no forks in /api/nodes, and every
 * acknowledged append present with the hash it was acknowledged with.
 */
export async function clusterProblems(urls: readonly string[], acked: ReadonlyMap<string, string> = new Map()): Promise<string[]> {
  const problems: string[] = []
  const all = await Promise.all(urls.map((u) => readAll(u)))
  const sets = all.map((entries) => entries.map((e) => `${e.node}:${e.seq}:${e.hash}`).sort())
  const first = JSON.stringify(sets[0])
  sets.forEach((set, i) => {
    if (JSON.stringify(set) !== first) problems.push(`${urls[i]} serves ${set.length} entries, ${urls[0]} ${sets[0]?.length}; they differ`)
  })
  const headSets = await Promise.all(urls.map((u) => sortedHeads(u)))
  headSets.forEach((hs, i) => {
    if (JSON.stringify(hs.map(headKey)) !== JSON.stringify(headSets[0]?.map(headKey)))
      problems.push(`${urls[i]} serves other heads than ${urls[0]}`)
  })
  all.forEach((entries, i) => problems.push(...chainProblems(entries).map((p) => `${urls[i]}: ${p}`)))
  for (const [i, status] of (await Promise.all(urls.map((u) => nodes(u)))).entries()) {
    for (const n of status.nodes) {
      if (n.holes.length > 0) problems.push(`${urls[i]}: node ${n.node.slice(0, 8)} has holes ${JSON.stringify(n.holes)}`)
      if (n.forked) problems.push(`${urls[i]}: node ${n.node.slice(0, 8)} forked`)
    }
  }
  const held = new Map((all[0] ?? []).map((e) => [`${e.node}:${e.seq}`, e.hash]))
  let missing = 0
  for (const [id, hash] of acked) if (held.get(id) !== hash) missing++
  if (missing > 0) problems.push(`${missing} of ${acked.size} acknowledged appends are missing or differ`)
  return problems
}

/** Seqs contiguous from 0 per node, each `prev` the hash of the entry before (the zero hash at seq 0). */
function chainProblems(entries: readonly WireEntry[]): string[] {
  const problems: string[] = []
  const last = new Map<string, WireEntry>()
  const sorted = [...entries].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : a.seq - b.seq))
  for (const e of sorted) {
    const before = last.get(e.node)
    const expected = before === undefined ? { seq: 0, prev: '0'.repeat(64) } : { seq: before.seq + 1, prev: before.hash }
    if (e.seq !== expected.seq) problems.push(`node ${e.node.slice(0, 8)}: seq ${e.seq} follows seq ${expected.seq - 1}`)
    else if (e.prev !== expected.prev) problems.push(`node ${e.node.slice(0, 8)} seq ${e.seq}: prev is not the hash of seq ${e.seq - 1}`)
    last.set(e.node, e)
  }
  return problems
}

export interface Member {
  /** The running daemon; replaced on restart (its port changes, its data and id do not). */
  node: RunningNode
  readonly data: string
  readonly args: string[]
  /** Proxies in front of this node (other nodes dial it through them). */
  readonly inbound: FaultProxy[]
}

/**
 * Real daemons that dial each other only through fault proxies: link
 * [from, to] means `from` has `--peer` pointing at a proxy in front of `to`,
 * so faults on that proxy hit exactly that connection. A restarted node
 * comes back on a new port and its inbound proxies are retargeted, so the
 * other nodes' peer urls stay valid.
 */
export class ProxiedCluster {
  readonly members: Member[]
  readonly #links: ReadonlyMap<string, FaultProxy>

  private constructor(members: Member[], links: Map<string, FaultProxy>) {
    this.members = members
    this.#links = links
  }

  /** Every ordered pair: each node dials every other one. */
  static mesh(size: number): Array<[number, number]> {
    const links: Array<[number, number]> = []
    for (let from = 0; from < size; from++) for (let to = 0; to < size; to++) if (from !== to) links.push([from, to])
    return links
  }

  static async start(
    size: number,
    links: ReadonlyArray<readonly [number, number]>,
    extraArgs: readonly string[] = ['--open-membership'],
  ): Promise<ProxiedCluster> {
    // Blackholed until every node is up: early dials then wait instead of failing and backing off.
    const proxies = new Map<string, FaultProxy>()
    for (const [from, to] of links) {
      const proxy = await FaultProxy.start(1)
      proxy.partition('blackhole')
      proxies.set(`${from}>${to}`, proxy)
    }
    const specs = Array.from({ length: size }, (_, i) => {
      const data = tempDir()
      const peers = links
        .filter(([from]) => from === i)
        .flatMap(([, to]) => ['--peer', `ws://127.0.0.1:${proxies.get(`${i}>${to}`)?.port}/sync`])
      return {
        data,
        args: ['--data', data, ...extraArgs, ...peers],
        inbound: links.filter(([, to]) => to === i).map(([from]) => proxies.get(`${from}>${i}`) as FaultProxy),
      }
    })
    const started = await Promise.allSettled(specs.map((spec) => startNode(spec.args)))
    const failed = started.find((r) => r.status === 'rejected')
    if (failed !== undefined) {
      await Promise.all(started.map((r) => (r.status === 'fulfilled' ? r.value.stop() : undefined)))
      await Promise.all([...proxies.values()].map((p) => p.close()))
      throw (failed as PromiseRejectedResult).reason
    }
    const members = specs.map((spec, i) => ({ ...spec, node: (started[i] as PromiseFulfilledResult<RunningNode>).value }))
    for (const m of members) for (const proxy of m.inbound) proxy.target = portOf(m.node)
    for (const proxy of proxies.values()) proxy.heal()
    return new ProxiedCluster(members, proxies)
  }

  /** The proxy `from` dials `to` through, if that link exists. */
  link(from: number, to: number): FaultProxy | undefined {
    return this.#links.get(`${from}>${to}`)
  }

  /** Both directions' proxies between two nodes (those that exist). */
  between(a: number, b: number): FaultProxy[] {
    return [this.link(a, b), this.link(b, a)].filter((p): p is FaultProxy => p !== undefined)
  }

  /** Every proxy on a link of node `i`. */
  around(i: number): FaultProxy[] {
    return this.members.flatMap((_, j) => (j === i ? [] : this.between(i, j)))
  }

  get proxies(): FaultProxy[] {
    return [...this.#links.values()]
  }

  urls(): string[] {
    return this.members.map((m) => m.node.url)
  }

  /** Stops node `i` (SIGTERM, or kill -9 with 'kill'); `start(i)` brings it back. */
  async stop(i: number, how: 'term' | 'kill'): Promise<void> {
    const member = this.members[i] as Member
    if (how === 'kill') await member.node.crash()
    else await member.node.stop()
  }

  /** Starts node `i` again on its data directory, and points its inbound proxies at its new port. */
  async start(i: number): Promise<void> {
    const member = this.members[i] as Member
    member.node = await startNode(member.args)
    for (const proxy of member.inbound) proxy.target = portOf(member.node)
  }

  /** Heals every proxy and ends every delay. */
  healAll(): void {
    for (const proxy of this.#links.values()) {
      proxy.delay(0)
      proxy.heal()
    }
  }

  async close(): Promise<void> {
    await Promise.all(
      this.members.map((m) => (m.node.process.exitCode === null && m.node.process.signalCode === null ? m.node.stop() : undefined)),
    )
    await Promise.all([...this.#links.values()].map((p) => p.close()))
  }
}

function portOf(node: RunningNode): number {
  return Number(new URL(node.url).port)
}
