// Child of sync.ts: one ylog node, started by the daemon's own startNode
// (apps/node: SQLite with fsync per commit, compaction on a worker, signing thread, the
// HTTP server, the sync endpoint and peer dialing; what `npm start` runs),
// plus a bench control channel over IPC. Appends go straight to the node's
// DurableLog, not through HTTP, so the figures are about sync.
//
//   argv[2]: JSON { data, peers: string[], watch?: { node, count } }
import { subscribe } from 'node:diagnostics_channel'
import type { Socket } from 'node:net'
import { pino } from 'pino'
import { loadConfig } from '../../apps/node/src/config.js'
import { startNode } from '../../apps/node/src/node.js'
import { sampleData } from '../harness.js'
import { now, pace, serve, type Args } from './sync-ipc.js'

interface Spec {
  data: string
  peers: string[]
  /** Registered before any sync traffic can arrive (catch-up runs). */
  watch?: { node: string; count: number }
}

const spec = JSON.parse(process.argv[2] as string) as Spec

// Every socket this process dials (only its peer connections): bytes on the wire.
const dialed: Socket[] = []
subscribe('net.client.socket', (message) => dialed.push((message as { socket: Socket }).socket))

const logger = pino({ level: 'warn', base: { pid: process.pid } }, pino.destination({ dest: 2, sync: false }))
const argv = ['--data', spec.data, '--port', '0', '--open-membership', ...spec.peers.flatMap((p) => ['--peer', p])]
const openedAt = now()
// The environment applies as for the daemon (YLOG_DURABILITY=normal shows what fsync costs).
const handle = await startNode(loadConfig(argv, process.env), logger)
const startedAt = now()
const { durable } = handle

// Per node: entries held (committed) and the commit time of each seq.
const held = new Map<string, number>()
const arrivals = new Map<string, number[]>()
const watchers: Array<{ node: string; count: number; resolve: (at: number) => void }> = []
for (const [node, head] of durable.heads()) held.set(node, head.length)

durable.onCommit((_info, _updates, entries) => {
  const t = now()
  for (const e of entries) {
    let times = arrivals.get(e.node)
    if (times === undefined) arrivals.set(e.node, (times = []))
    times[e.seq] = t
    if (e.seq + 1 > (held.get(e.node) ?? 0)) held.set(e.node, e.seq + 1)
  }
  for (let i = watchers.length - 1; i >= 0; i--) {
    const w = watchers[i] as (typeof watchers)[number]
    if ((held.get(w.node) ?? 0) >= w.count) {
      watchers.splice(i, 1)
      w.resolve(t)
    }
  }
})

function watch(node: string, count: number): Promise<number> {
  if ((held.get(node) ?? 0) >= count) return Promise.resolve(now())
  return new Promise((resolve) => watchers.push({ node, count, resolve }))
}
const initialWatch = spec.watch === undefined ? undefined : watch(spec.watch.node, spec.watch.count)

const append = (i: number) => durable.append({ topic: 'pipeline/stages', kind: 'event', data: sampleData(i) })

serve(
  { node: handle.node, port: handle.port, url: handle.url, openedAt, startedAt, replaySeconds: handle.replaySeconds },
  {
    /** `count` appends, `concurrency` in flight, as fast as the node takes them; times from first call to last commit. */
    async append(args: Args) {
      const count = Number(args.count)
      const from = held.get(handle.node) ?? 0
      let next = 0
      const t0 = now()
      await Promise.all(
        Array.from({ length: Math.min(Number(args.concurrency), count) }, async () => {
          while (next < count) await append(from + next++)
        }),
      )
      return { from, t0, t1: now() }
    },
    /** Appends at `rate` per second for `seconds`, not waiting for commits; returns each entry's seq and call time. */
    async paced(args: Args) {
      const rate = Number(args.rate)
      const total = Math.round(rate * Number(args.seconds))
      const seqs = new Float64Array(total)
      const done: Array<Promise<unknown>> = []
      const base = held.get(handle.node) ?? 0
      const calls = await pace(rate, total, (i) => done.push(append(base + i).then((entry) => (seqs[i] = entry.seq))))
      await Promise.all(done)
      return { seqs, calls }
    },
    /** Resolves (with the commit time) once this node holds `count` entries of `node`. */
    watch: (args: Args) => watch(String(args.node), Number(args.count)),
    initialWatch: () => initialWatch,
    /** Commit times on this node of `node`'s entries from seq `from`, `count` of them (NaN: not held). */
    arrivals(args: Args) {
      const times = arrivals.get(String(args.node)) ?? []
      const out = new Float64Array(Number(args.count))
      for (let i = 0; i < out.length; i++) out[i] = times[Number(args.from) + i] ?? Number.NaN
      return out
    },
    held: (args: Args) => held.get(String(args.node)) ?? 0,
    /** Encoded size of `count` entries of `node` from seq `from`: what a peer lacking them needs at least. */
    entryBytes(args: Args) {
      let bytes = 0
      for (let seq = Number(args.from); seq < Number(args.from) + Number(args.count); seq++)
        bytes += durable.getBytes(String(args.node), seq)?.byteLength ?? 0
      return bytes
    },
    /** Bytes read and written on the sockets this node dialed (its peer connections, TCP payload incl. WebSocket framing). */
    socketBytes: () => ({ read: dialed.reduce((n, s) => n + s.bytesRead, 0), written: dialed.reduce((n, s) => n + s.bytesWritten, 0) }),
    async stop() {
      await handle.close()
      setTimeout(() => process.exit(0), 20)
    },
  },
)
