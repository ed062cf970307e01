// @ylog/sync figures: a three-node cluster on loopback (three daemon
// processes: writer W and follower F both dial hub H), against the stock
// y-websocket server and Hocuspocus relaying the same raw Yjs appends between
// two stock clients (again three processes: writer, server, reader).
//
//   latency      W appends at a paced RATE/s (after 1 s of the same, not counted); append call -> commit on F (2 hops, via H)
//   throughput   W appends as fast as it takes them; entries/s until all hold them
//   catch-up     F is stopped while W writes ENTRIES, then restarts: seconds and bytes until it holds them
//
// YLOG_BENCH_SYNC_QUICK=1 runs 20k entries and 3 s of latency; YLOG_BENCH_SYNC_ENTRIES,
// YLOG_BENCH_SYNC_SECONDS, YLOG_BENCH_SYNC_RATE and YLOG_BENCH_SYNC_SYSTEMS
// (comma-separated: ylog,ywebsocket,hocuspocus) override; YLOG_BENCH_SYNC_PROF=1
// writes a CPU profile of every child to /tmp/ylog-sync-prof.
import { rmSync } from 'node:fs'
import { LogDoc, NodeIdentity } from '@ylog/core'
import * as Y from 'yjs'
import { percentile, rate, report, sampleData, tempDir, type Figures } from '../harness.js'
import { Child, now } from './sync-ipc.js'

const QUICK = process.env.YLOG_BENCH_SYNC_QUICK === '1'
const ENTRIES = Number(process.env.YLOG_BENCH_SYNC_ENTRIES ?? (QUICK ? 20_000 : 100_000))
const SECONDS = Number(process.env.YLOG_BENCH_SYNC_SECONDS ?? (QUICK ? 3 : 10))
const RATE = Number(process.env.YLOG_BENCH_SYNC_RATE ?? 1000)
const SYSTEMS = (process.env.YLOG_BENCH_SYNC_SYSTEMS ?? 'ylog,ywebsocket,hocuspocus').split(',')
/** Appends in flight on the ylog writer (like the store suite); the baseline writer yields every BATCH appends. */
const CONCURRENCY = 1024
const BATCH = 256
const WARMUP = 2000
const label = ENTRIES === 100_000 ? '100k' : String(ENTRIES)
const figures: Figures = {}

const round = (x: number, digits = 2): number => Number(x.toFixed(digits))

interface Latency {
  p50: number
  p99: number
  max: number
}

/** One-way latencies from call times and arrival times (same index = same entry). */
function latency(calls: Float64Array, arrivals: Float64Array): Latency {
  const all: number[] = []
  calls.forEach((call, i) => {
    const at = arrivals[i] as number
    if (Number.isNaN(at)) throw new Error(`entry ${i} of the latency run never arrived`)
    all.push(at - call)
  })
  all.sort((a, b) => a - b)
  return { p50: round(percentile(all, 50)), p99: round(percentile(all, 99)), max: round(all.at(-1) as number) }
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

async function ylog(): Promise<void> {
  const dirs = { hub: tempDir('ylog-bench-sync-'), writer: tempDir('ylog-bench-sync-'), follower: tempDir('ylog-bench-sync-') }
  const children: Child[] = []
  const start = async (data: string, peers: string[], watch?: { node: string; count: number }): Promise<Child> => {
    const child = await Child.start('sync-node.ts', [JSON.stringify({ data, peers, watch })])
    children.push(child)
    return child
  }
  try {
    const hub = await start(dirs.hub, [])
    const peer = `ws://127.0.0.1:${hub.info.port as number}/sync`
    const writer = await start(dirs.writer, [peer])
    let follower = await start(dirs.follower, [peer])
    const node = writer.info.node as string
    const all = (): Child[] => [writer, hub, follower]
    let total = 0
    // Appends `count` on the writer; resolves with the writer's times and when each node holds them.
    const appendEverywhere = async (count: number, nodes: Child[]): Promise<{ t0: number; t1: number; held: number[] }> => {
      const watches = nodes.map((c) => c.call<number>('watch', { node, count: total + count }))
      const { t0, t1 } = await writer.call<{ t0: number; t1: number }>('append', { count, concurrency: CONCURRENCY })
      total += count
      return { t0, t1, held: await Promise.all(watches) }
    }

    // Warm-up (JIT, peer connections open).
    await appendEverywhere(WARMUP, all())

    // Latency at a paced rate: append call on W -> committed on H (1 hop) and on F (2 hops).
    // One second of the same paced appends first, not counted: the bulk
    // warm-up above takes other code paths (batches of 256) than one append a millisecond.
    await sleep(1000)
    const warm = await writer.call<{ seqs: Float64Array }>('paced', { rate: RATE, seconds: 1 })
    total += warm.seqs.length
    await Promise.all([hub, follower].map((c) => c.call('watch', { node, count: total })))
    const paced = await writer.call<{ seqs: Float64Array; calls: Float64Array }>('paced', { rate: RATE, seconds: SECONDS })
    const from = paced.seqs[0] as number
    paced.seqs.forEach((seq, i) => {
      if (seq !== from + i) throw new Error('paced appends got non-contiguous seqs')
    })
    total += paced.seqs.length
    await Promise.all([hub, follower].map((c) => c.call('watch', { node, count: total })))
    const span = { node, from, count: paced.seqs.length }
    const far = latency(paced.calls, await follower.call<Float64Array>('arrivals', span))
    const near = latency(paced.calls, await hub.call<Float64Array>('arrivals', span))
    const local = latency(paced.calls, await writer.call<Float64Array>('arrivals', span))
    figures['sync.latency_p50_ms'] = far.p50
    figures['sync.latency_p99_ms'] = far.p99
    figures['sync.latency_max_ms'] = far.max
    figures['sync.latency_local_commit_p50_ms'] = local.p50
    figures['sync.latency_local_commit_p99_ms'] = local.p99
    figures['sync.latency_1hop_p50_ms'] = near.p50
    figures['sync.latency_1hop_p99_ms'] = near.p99

    // Throughput: W appends as fast as it takes them; until all three hold them.
    await sleep(1000)
    const run = await appendEverywhere(ENTRIES, all())
    figures['sync.throughput_3node'] = rate(ENTRIES, Math.max(...run.held) - run.t0)
    figures['sync.throughput_writer_commit_rate'] = rate(ENTRIES, run.t1 - run.t0)
    figures['sync.throughput_tail_ms'] = Math.round(Math.max(...run.held) - run.t1)

    // Catch-up: F offline while W writes ENTRIES (H takes them), then F restarts and dials H.
    await follower.stop()
    const catchFrom = total
    await appendEverywhere(ENTRIES, [writer, hub])
    const entryBytes = await writer.call<number>('entryBytes', { node, from: catchFrom, count: ENTRIES })
    figures[`sync.catchup_${label}_entry_bytes`] = entryBytes
    follower = await start(dirs.follower, [peer], { node, count: total })
    const caughtUp = await follower.call<number>('initialWatch')
    const bytes = await follower.call<{ read: number; written: number }>('socketBytes')
    figures[`sync.catchup_${label}_s`] = round((caughtUp - (follower.info.startedAt as number)) / 1000, 3)
    figures[`sync.catchup_${label}_bytes`] = bytes.read
    figures[`sync.catchup_${label}_bytes_ratio`] = round(bytes.read / entryBytes, 3)
    figures['sync.catchup_restart_replay_s'] = round(follower.info.replaySeconds as number, 3)
  } finally {
    for (const child of children.reverse()) await child.stop()
    for (const dir of Object.values(dirs)) rmSync(dir, { recursive: true, force: true })
  }
}

async function baseline(kind: 'ywebsocket' | 'hocuspocus'): Promise<void> {
  const children: Child[] = []
  const start = async (args: string[]): Promise<Child> => {
    const child = await Child.start('sync-baseline.ts', args)
    children.push(child)
    return child
  }
  const key = (name: string): string => `sync.baseline.${kind}_${name}`
  try {
    const server = await start(['server', kind])
    const url = server.info.url as string
    const writer = await start(['client', kind, url])
    const reader = await start(['client', kind, url])
    let total = 0
    const appendEverywhere = async (count: number): Promise<{ t0: number; held: number }> => {
      const watch = reader.call<number>('watch', { count: total + count })
      const { t0 } = await writer.call<{ t0: number }>('append', { count, batch: BATCH })
      total += count
      return { t0, held: await watch }
    }

    await appendEverywhere(WARMUP)
    await sleep(1000)
    const warm = await writer.call<{ calls: Float64Array }>('paced', { rate: RATE, seconds: 1 })
    total += warm.calls.length
    await reader.call('watch', { count: total })
    const paced = await writer.call<{ from: number; calls: Float64Array }>('paced', { rate: RATE, seconds: SECONDS })
    total += paced.calls.length
    await reader.call('watch', { count: total })
    const lat = latency(paced.calls, await reader.call<Float64Array>('arrivals', { from: paced.from, count: paced.calls.length }))
    figures[key('p50_ms')] = lat.p50
    figures[key('p99_ms')] = lat.p99
    figures[key('max_ms')] = lat.max

    await sleep(1000)
    const run = await appendEverywhere(ENTRIES)
    figures[key('throughput')] = rate(ENTRIES, run.held - run.t0)

    // Catch-up: the reader disconnects while the writer writes ENTRIES, then reconnects.
    await reader.call('disconnect')
    await sleep(200)
    await writer.call('append', { count: ENTRIES, batch: BATCH })
    total += ENTRIES
    while ((await server.call<number>('held')) < total) await sleep(20)
    const before = await reader.call<{ read: number }>('socketBytes')
    const t0 = now()
    await reader.call('connect')
    await reader.call('watch', { count: total })
    const after = await reader.call<{ read: number }>('socketBytes')
    figures[key(`catchup_${label}_s`)] = round((now() - t0) / 1000, 3)
    figures[key(`catchup_${label}_bytes`)] = after.read - before.read
  } finally {
    for (const child of children.reverse()) await child.stop()
  }
}

// Why hops cost what they cost: the guard on the updates a peer receives live
// (one entry each, as committed) and on the same updates merged 100 at a time.
{
  const source = new LogDoc({ identity: NodeIdentity.generate() })
  const updates: Uint8Array[] = []
  source.onUpdate((u) => updates.push(u))
  for (let i = 0; i < 10_000; i++) source.append({ topic: 'pipeline/stages', kind: 'event', data: sampleData(i) })
  const time = (batch: number): number => {
    const replica = new LogDoc()
    const t = performance.now()
    for (let i = 0; i < updates.length; i += batch) {
      if (replica.applyRemote(batch === 1 ? (updates[i] as Uint8Array) : Y.mergeUpdates(updates.slice(i, i + batch))).status !== 'accepted')
        throw new Error('guard refused')
    }
    return rate(updates.length, performance.now() - t)
  }
  figures['sync.guard.single_update_rate'] = time(1)
  figures['sync.guard.merged_100_rate'] = time(100)
}

const started = now()
if (SYSTEMS.includes('ylog')) await ylog()
for (const kind of ['ywebsocket', 'hocuspocus'] as const) if (SYSTEMS.includes(kind)) await baseline(kind)

const ratio = (a: string, b: string): void => {
  const x = figures[a]
  const y = figures[b]
  if (x !== undefined && y !== undefined)
    figures[`sync.ratio_${a.includes('throughput') ? 'throughput' : 'p99'}_vs_${b.includes('hocuspocus') ? 'hocuspocus' : 'ywebsocket'}`] =
      round(x / y, 3)
}
ratio('sync.throughput_3node', 'sync.baseline.ywebsocket_throughput')
ratio('sync.throughput_3node', 'sync.baseline.hocuspocus_throughput')
ratio('sync.latency_p99_ms', 'sync.baseline.ywebsocket_p99_ms')
ratio('sync.latency_p99_ms', 'sync.baseline.hocuspocus_p99_ms')
console.error(`sync suite: ${((now() - started) / 1000).toFixed(1)} s`)
report(figures)
