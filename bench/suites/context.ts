// Context figures: assembling LLM context from a 1M-entry log in process
// (default options, 8,000 tokens; one subject's history), the tokenizer's
// own rate as the ceiling, and GET /api/context against the real daemon.
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { assembleContext, entryLine, tokenCounter } from '@ylog/context'
import { DurableLog, NodeIdentity, type EntryInput } from '@ylog/core'
import { ThreadedSqliteStore } from '@ylog/sqlite'
import { percentile, rate, report, sampleData, tempDir, type Figures } from '../harness.js'
import { startNode } from '../../test/support/node-process.js'

const ENTRIES = Number(process.env.YLOG_BENCH_CONTEXT_ENTRIES ?? 1_000_000)
const SECONDS = Number(process.env.YLOG_BENCH_HTTP_SECONDS ?? 10)
const CALLS = 20
const label = ENTRIES >= 1_000_000 ? '1m' : String(ENTRIES)
const figures: Figures = {}

// Every 10th entry is a transition, of 10,000 subjects; `story-target` gets 100 of them, spread over the whole log.
// Every 50,000th entry is a gap entry, so the context always has losses to name.
function input(i: number): EntryInput {
  const at = T0 + i
  if (i % 50_000 === 49_999) return { topic: 'ylog.gaps', kind: 'gap', data: { stream: 'feeder', from: i, to: i + 9 }, at }
  if (i % 10 !== 0) return { topic: `stage-${i % 7}`, kind: 'event', data: sampleData(i), at }
  const subject = i % (ENTRIES / 100) === 0 ? 'story-target' : `story-${(i / 10) % 10_000}`
  return { topic: 'pipeline', kind: 'transition', data: { subject, from: `s${i % 5}`, to: `s${(i % 5) + 1}`, event: 'Next' }, at }
}

const T0 = 1_700_000_000_000
const data = tempDir('ylog-bench-')
const { identity } = NodeIdentity.loadOrCreate(join(data, 'node.key'))
{
  const durable = await DurableLog.open({
    identity,
    store: await ThreadedSqliteStore.open(join(data, 'ylog.db'), { durability: 'normal' }),
    signing: 'thread',
    now: () => T0 + ENTRIES,
  })
  const started = performance.now()
  for (let i = 0; i < ENTRIES; i += 1000)
    await durable.appendBatch(Array.from({ length: Math.min(1000, ENTRIES - i) }, (_, k) => input(i + k)))
  figures['context.setup_rate'] = rate(ENTRIES, performance.now() - started)

  const median = async (options: Parameters<typeof assembleContext>[1]): Promise<{ ms: number; tokens: number; included: number }> => {
    let last = await assembleContext(durable, options) // loads the encoding, warms the caches
    const times: number[] = []
    for (let i = 0; i < CALLS; i++) {
      const started = performance.now()
      last = await assembleContext(durable, options)
      times.push(performance.now() - started)
    }
    times.sort((a, b) => a - b)
    return { ms: Number(percentile(times, 50).toFixed(2)), tokens: last.tokens, included: last.manifest.counts.included }
  }
  const all = await median({ budget: 8000 })
  figures[`context.assemble_${label}_ms`] = all.ms
  figures[`context.assemble_${label}_tokens`] = all.tokens
  figures[`context.assemble_${label}_entries`] = all.included
  const subject = await median({ budget: 8000, subject: 'story-target' })
  figures[`context.assemble_subject_${label}_ms`] = subject.ms
  figures[`context.assemble_subject_${label}_entries`] = subject.included

  // The ceiling: the tokenizer alone on the lines assembly renders.
  const count = await tokenCounter()
  const lines: string[] = []
  for (let seq = ENTRIES - 10_000; seq < ENTRIES; seq++) lines.push(`${entryLine(durable.get(identity.id, seq) as never)}\n`)
  const countStarted = performance.now()
  let tokens = 0
  for (const line of lines) tokens += count(line)
  figures['context.tokenizer_rate'] = rate(tokens, performance.now() - countStarted)
  await durable.close()
}

const node = await startNode(['--data', data], { LOG_LEVEL: 'warn' }, 120_000)
try {
  const result = await autocannon({ url: `${node.url}/api/context?budget=8000`, connections: 1, duration: SECONDS })
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`context: ${result.non2xx} non-2xx answers and ${result.errors} errors`)
  figures['http.context_p50_ms'] = result.latency.p50
  figures['http.context_p99_ms'] = result.latency.p99
  figures['http.context_rate'] = Math.round(result.requests.average)
} finally {
  await node.stop()
  rmSync(data, { recursive: true, force: true })
}
report(figures)
