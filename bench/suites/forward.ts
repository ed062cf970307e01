// Forward and tail figures against real node processes on loopback:
// forward.rate, `ylog forward`'s pipeline (file source, checkpoints, batches of 100) forwarding 200-byte NDJSON
// lines, against forward.baseline.batch_rate, the same node taking the same batches from @ylog/client's appendBatch
// one after another, in the same run; forward.catchup_1m_s, a backlog (YLOG_BENCH_FORWARD_BACKLOG lines, default
// 1M) forwarded from a checkpoint at 0; tail.latency_p99_ms, append on one node of three → the line printed by a
// `ylog tail -f` process following all three, at 1,000 events/s.
import { spawn } from 'node:child_process'
import { createWriteStream, readFileSync, rmSync } from 'node:fs'
import { once } from 'node:events'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { YlogClient, type EntryInput } from '@ylog/client'
import { checkpointPath, writeCheckpoint } from '../../apps/cli/src/forward/checkpoint.js'
import { lineToEvent } from '../../apps/cli/src/forward/line-event.js'
import { DEFAULT_RETRY } from '../../apps/cli/src/forward/retry.js'
import { runForward } from '../../apps/cli/src/forward/run.js'
import { FollowedFile } from '../../apps/cli/src/forward/sources.js'
import { percentile, rate, report, tempDir, type Figures } from '../harness.js'
import { ROOT, startNode, type RunningNode } from '../../test/support/node-process.js'

const LINES = Number(process.env.YLOG_BENCH_FORWARD_LINES ?? 100_000)
const BACKLOG = Number(process.env.YLOG_BENCH_FORWARD_BACKLOG ?? 1_000_000)
const TAIL_SECONDS = Number(process.env.YLOG_BENCH_TAIL_SECONDS ?? 10)
const BATCH = 100
const CLI = join(ROOT, 'apps', 'cli', 'src', 'main.ts')
const figures: Figures = {}
const dir = tempDir('ylog-bench-forward-')

/** `count` NDJSON lines of 200 bytes each (newline included). */
async function writeLines(path: string, count: number, topic: string): Promise<void> {
  const out = createWriteStream(path)
  for (let i = 0; i < count; i++) {
    const head = JSON.stringify({ topic, data: { i, detail: '' } })
    const line = `${head.slice(0, -3)}${'x'.repeat(199 - head.length)}"}}\n`
    if (!out.write(line)) await once(out, 'drain')
  }
  out.end()
  await once(out, 'finish')
}

async function forwardFile(url: string, file: string, checkpointDir: string): Promise<number> {
  const started = performance.now()
  const [result] = await runForward([new FollowedFile(file, () => undefined)], {
    url,
    timeoutMs: 30_000,
    retry: DEFAULT_RETRY,
    batchCount: BATCH,
    batchBytes: 512 * 1024,
    lingerMs: 0,
    follow: false,
    fromEnd: false,
    toEvent: (text) => lineToEvent(text, { timeField: 'time' }),
    checkpointDir,
    signal: new AbortController().signal,
    onNotice: () => undefined,
    onProgress: () => undefined,
  })
  const ms = performance.now() - started
  if (result?.forwarded !== undefined && result.forwarded + result.duplicates === 0) throw new Error('nothing was forwarded')
  return ms
}

const data = join(dir, 'node')
const node = await startNode(['--data', data], { LOG_LEVEL: 'warn' })
try {
  const client = new YlogClient({ url: node.url })
  const file = join(dir, 'rate.ndjson')
  await writeLines(file, LINES, 'bench.forward')
  // The baseline: the very batches the forwarder cuts (the same lines, 100 a batch), sent one after another.
  const events: EntryInput[] = readFileSync(file, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => lineToEvent(l, { topic: 'bench.baseline', timeField: 'time' }))
  const baseline = async (): Promise<number> => {
    const started = performance.now()
    for (let i = 0; i < events.length; i += BATCH) await client.appendBatch(events.slice(i, i + BATCH))
    return performance.now() - started
  }
  // Warm both paths, then alternate, so neither gets the quieter half of the run.
  await client.appendBatch(events.slice(0, BATCH))
  const baseMs: number[] = []
  const fwdMs: number[] = []
  for (let round = 0; round < 2; round++) {
    baseMs.push(await baseline())
    fwdMs.push(await forwardFile(node.url, file, join(dir, `ckpt-${round}`)))
  }
  figures['forward.baseline.batch_rate'] = rate(LINES, Math.min(...baseMs))
  figures['forward.rate'] = rate(LINES, Math.min(...fwdMs))
  figures['forward.rate_vs_baseline'] = Math.round((figures['forward.rate'] / figures['forward.baseline.batch_rate']) * 100) / 100

  const backlog = join(dir, 'backlog.ndjson')
  await writeLines(backlog, BACKLOG, 'bench.catchup')
  const ckptDir = join(dir, 'ckpt-backlog')
  const source = new FollowedFile(backlog, () => undefined)
  const opened = source.open(undefined, false)
  source.close()
  // A checkpoint at 0 as a previous run leaves it, rather than a first run.
  writeCheckpoint(checkpointPath(ckptDir, source.name, client.url), {
    version: 1,
    source: source.name,
    target: client.url,
    ...opened,
    forwarded: 0,
    duplicates: 0,
    skipped: 0,
  })
  const catchupMs = await forwardFile(node.url, backlog, ckptDir)
  const size = BACKLOG >= 1_000_000 ? '1m' : `${BACKLOG / 1000}k`
  figures[`forward.catchup_${size}_s`] = Math.round(catchupMs / 10) / 100
  figures['forward.lines'] = LINES
} finally {
  await node.stop()
}

figures['tail.latency_p99_ms'] = await tailLatency()
rmSync(dir, { recursive: true, force: true })
report(figures)

/**
 * Three nodes of one cluster, `ylog tail -f` on all three, 1,000 events/s appended to the first (a batch of 10
 * every 10 ms): from the entry's `at` (the node's clock when it signed it; same machine) to the line read here.
 */
async function tailLatency(): Promise<number> {
  const sync = (n: RunningNode): string => `${n.url.replace('http', 'ws')}/sync`
  const a = await startNode(['--data', join(dir, 'a'), '--open-membership'], { LOG_LEVEL: 'warn' })
  const b = await startNode(['--data', join(dir, 'b'), '--open-membership', '--peer', sync(a)], { LOG_LEVEL: 'warn' })
  const c = await startNode(['--data', join(dir, 'c'), '--open-membership', '--peer', sync(b)], { LOG_LEVEL: 'warn' })
  const args = ['--conditions=ylog-source', '--import', 'tsx', CLI, 'tail', '-f', '-n', '0', '--format', '{at} {data}', a.url, b.url, c.url]
  const tail = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] })
  const latencies: number[] = []
  let missed = 0
  createInterface({ input: tail.stdout }).on('line', (line) => {
    const now = Date.now()
    // A "missed" marker: the node dropped entries for this reader (it was too slow); they count as not printed.
    if (!/^\d+ /.test(line)) return void missed++
    latencies.push(now - Number(line.slice(0, line.indexOf(' '))))
  })
  let up = 0
  tail.stderr.on('data', (d: Buffer) => (up += (d.toString().match(/^\+ /gm) ?? []).length))
  try {
    while (up < 3) await new Promise((resolve) => setTimeout(resolve, 50))
    const client = new YlogClient({ url: a.url })
    const total = TAIL_SECONDS * 1000
    const started = performance.now()
    const pending: Array<Promise<unknown>> = []
    // On a schedule: a slow answer does not slow the rate down.
    for (let i = 0; i < total; i += 10) {
      const wait = started + i - performance.now()
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait))
      const batch = Array.from({ length: 10 }, (_, k) => ({ topic: 'bench.tail', kind: 'event' as const, data: { i: i + k } }))
      pending.push(client.appendBatch(batch))
    }
    await Promise.all(pending)
    const deadline = performance.now() + 10_000
    while (latencies.length < total && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
    if (latencies.length < total) throw new Error(`tail printed ${latencies.length} of ${total} lines (${missed} missed markers)`)
    // The first second warms the JIT of four processes; the figure is the steady state.
    const steady = latencies.slice(1000).sort((x, y) => x - y)
    figures['tail.latency_p50_ms'] = percentile(steady, 50)
    return percentile(steady, 99)
  } finally {
    tail.kill('SIGTERM')
    await Promise.all([a.stop(), b.stop(), c.stop()])
  }
}
