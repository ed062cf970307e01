import { YlogClient, type Nodes } from '@ylog/client'
import { DEFAULT_MAX_CLOCK_SKEW_MS } from '@ylog/core'
import type { GlobalOptions } from '../context.js'
import { request } from '../http.js'
import { ok, problem, seconds, warning, type Finding } from './finding.js'

/** A clock this far off is worth a look long before the node refuses entries for it (DEFAULT_MAX_CLOCK_SKEW_MS). */
const SKEW_WARN_MS = 2_000
const SLOW_REPLAY_S = 10
/** A peer link silent this long while open is stuck, or its peer is. */
const SILENT_MS = 60_000

const ADVICE = {
  start: 'start the node (ylog serve, npm start), or give its address with --url',
  ntp: 'run NTP (chrony, systemd-timesyncd) on both',
  members: "list the cluster's node ids with --member (ylog id --data <dir> prints one)",
  onlyMember: "list the peers' ids with --member, or use --open-membership",
  formerMember: 'nothing to do if it left the cluster; they stay (the log is grow-only)',
  unreachable: 'check that it runs, its address and port, and any firewall between; the node keeps dialing',
  silent: "check the peer's log; a restart of either side reconnects",
  forked: 'take that node out of the cluster: its key or its data directory was copied; see /api/nodes',
  holes: 'wait for sync; if they stay, the peers holding them are unreachable (see peers)',
  ahead: "that node's clock runs ahead: run NTP there",
  slowReplay: 'a node compacts as it runs; restarts after that are faster',
} as const

/**
 * Checks a running node through its API: readiness, membership against its
 * peers and the nodes it holds, peer links, holes and forks, clocks (its own
 * against the monotonic clock, against this machine's, and every node's
 * newest entry against now), and its last replay.
 */
export async function checkNode(globals: GlobalOptions): Promise<Finding[]> {
  const client = new YlogClient({ url: globals.url, token: globals.token })
  const started = Date.now()
  let answer: Response
  try {
    answer = await request(globals, 'GET', '/readyz')
  } catch (err) {
    const code = (err as { code?: string }).code
    if (code === 'NETWORK' || code === 'TIMEOUT') {
      return [problem('node', `${globals.url} does not answer: ${(err as Error).message}`, ADVICE.start)]
    }
    const reason = (err as Error).message
    return [problem('node', `${globals.url} is not ready: ${reason}`, "see the node's log; a store failure needs a restart")]
  }
  const findings: Finding[] = [ok('node', `${globals.url} is ready`)]
  findings.push(...clockAgainstHere(answer, started))
  const nodes = await client.nodes()
  findings.push(...membership(nodes), ...peers(nodes), ...chains(nodes))
  const metrics = await (await request(globals, 'GET', '/metrics')).text()
  findings.push(...fromMetrics(metrics))
  return findings
}

function clockAgainstHere(res: Response, started: number): Finding[] {
  const date = Date.parse(res.headers.get('date') ?? '')
  if (Number.isNaN(date)) return []
  // The Date header has whole seconds: only an offset beyond one second plus the round trip means anything.
  const mid = (started + Date.now()) / 2
  const off = date - mid
  if (Math.abs(off) <= SKEW_WARN_MS + (Date.now() - started)) return [ok('clock', "the node's clock agrees with this machine's within 2 s")]
  const where = off > 0 ? 'ahead of' : 'behind'
  return [warning('clock', `the node's clock is ${seconds(Math.abs(off))} ${where} this machine's`, ADVICE.ntp)]
}

function membership(nodes: Nodes): Finding[] {
  const m = nodes.membership
  if (m.mode === 'open') {
    return [warning('membership', 'open membership: any key may write to this log', ADVICE.members)]
  }
  const members = new Set(m.members)
  const findings: Finding[] = []
  for (const peer of nodes.peers) {
    if (peer.node !== null && !members.has(peer.node)) {
      const what = `peer ${peer.url} is node ${peer.node}, which is not a member here: nothing syncs with it`
      findings.push(problem('membership', what, `add --member ${peer.node} to this node (and this node's id to it)`))
    }
  }
  if (nodes.peers.length > 0 && m.members.length <= 1) {
    findings.push(problem('membership', 'peers are configured but this node is its only member', ADVICE.onlyMember))
  }
  for (const held of nodes.nodes) {
    if (members.has(held.node)) continue
    findings.push(warning('membership', `the log holds ${held.length} entries of node ${held.node}, not a member now`, ADVICE.formerMember))
  }
  return findings.length > 0 ? findings : [ok('membership', `${m.members.length} members; every peer is one`)]
}

function peers(nodes: Nodes): Finding[] {
  if (nodes.peers.length === 0) return [ok('peers', 'no peers configured')]
  return nodes.peers.map((peer) => {
    if (peer.state !== 'open' && peer.state !== 'reading') {
      return problem('peers', `peer ${peer.url} is unreachable (${peer.state})`, ADVICE.unreachable)
    }
    const silent = peer.lastMessageAt === null ? 0 : Date.now() - peer.lastMessageAt
    if (silent > SILENT_MS) return warning('peers', `peer ${peer.url} has been silent for ${seconds(silent)}`, ADVICE.silent)
    return ok('peers', `peer ${peer.url} connected${peer.lag > 0 ? `, ${peer.lag} entries behind` : ''}`)
  })
}

/** Holes, forks, and newest entries from the future: a node whose clock runs ahead. */
function chains(nodes: Nodes): Finding[] {
  const findings: Finding[] = []
  for (const n of nodes.nodes) {
    if (n.forked) findings.push(problem('forks', `node ${n.node} signed two different entries for one seq`, ADVICE.forked))
    if (n.holes.length > 0) {
      const ranges = n.holes.map((h) => `${h.from}-${h.to - 1}`).join(', ')
      findings.push(warning('holes', `node ${n.node}: seqs ${ranges} exist elsewhere but are not here yet`, ADVICE.holes))
    }
    const ahead = n.at === null ? 0 : n.at - Date.now()
    if (ahead > SKEW_WARN_MS) {
      const level = ahead > DEFAULT_MAX_CLOCK_SKEW_MS / 2 ? problem : warning
      findings.push(level('clock-skew', `node ${n.node}'s newest entry is ${seconds(ahead)} ahead of this machine's clock`, ADVICE.ahead))
    }
  }
  if (!findings.some((f) => f.check === 'forks')) findings.push(ok('forks', 'no node forked'))
  return findings
}

function fromMetrics(text: string): Finding[] {
  const value = (name: string): number | undefined => {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
    return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  const findings: Finding[] = []
  const offset = value('ylog_clock_offset_seconds')
  if (offset !== undefined && Math.abs(offset) * 1000 > SKEW_WARN_MS) {
    const what = `the node's system clock moved ${offset.toFixed(1)} s against its monotonic clock since it started`
    findings.push(warning('clock', what, 'run NTP, and check nothing sets the clock by hand'))
  }
  const replay = value('ylog_replay_seconds')
  if (replay !== undefined) {
    findings.push(
      replay > SLOW_REPLAY_S
        ? warning('replay', `its last start replayed for ${replay.toFixed(1)} s`, ADVICE.slowReplay)
        : ok('replay', `its last start replayed in ${replay.toFixed(2)} s`),
    )
  }
  return findings
}
