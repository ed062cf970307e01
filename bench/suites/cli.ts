// CLI figures against a node process holding N entries (YLOG_BENCH_CLI_ENTRIES, default 1M): `ylog export`
// (entries/s to NDJSON), `ylog import` of that file (verified, then into an empty node process, and into an
// empty data directory), `GET /api/events?last=100` p99 through the client, and `ylog verify --data` offline.
import { spawnSync } from 'node:child_process'
import { rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { YlogClient } from '@ylog/client'
import { percentile, rate, report, sampleData, tempDir, type Figures } from '../harness.js'
import { ROOT, startNode } from '../../test/support/node-process.js'

const ENTRIES = Number(process.env.YLOG_BENCH_CLI_ENTRIES ?? 1_000_000)
const CLI = join(ROOT, 'apps', 'cli', 'src', 'main.ts')
const figures: Figures = {}
const data = tempDir('ylog-bench-cli-')

function ylog(args: string[]): number {
  const started = performance.now()
  const argv = ['--conditions=ylog-source', '--import', 'tsx', CLI, ...args]
  const r = spawnSync(process.execPath, argv, { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 26 })
  if (r.status !== 0) throw new Error(`ylog ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  return performance.now() - started
}

const node = await startNode(['--data', data, '--durability', 'normal'], { LOG_LEVEL: 'warn' })
try {
  const client = new YlogClient({ url: node.url })
  // Eight writers of 1000-entry batches keep the node's group commit full.
  let next = 0
  const writer = async (): Promise<void> => {
    while (next < ENTRIES) {
      const from = next
      next += 1000
      const event = (i: number) => ({ topic: `bench/${(from + i) % 10}`, kind: 'event' as const, data: sampleData(from + i) })
      await client.appendBatch(Array.from({ length: Math.min(1000, ENTRIES - from) }, (_, i) => event(i)))
    }
  }
  await Promise.all(Array.from({ length: 8 }, writer))

  // The bulk load leaves commits and compaction behind it: wait for the node to be idle, warm up, then sample.
  await waitQuiet(client)
  for (let i = 0; i < 50; i++) await client.last(100)
  const samples: number[] = []
  for (let i = 0; i < 300; i++) {
    const started = performance.now()
    const page = await client.last(100)
    samples.push(performance.now() - started)
    if (page.entries.length !== 100) throw new Error(`last=100 answered ${page.entries.length}`)
  }
  samples.sort((a, b) => a - b)
  figures['cli.read_last_p50_ms'] = Math.round(percentile(samples, 50) * 10) / 10
  figures['cli.read_last_p99_ms'] = Math.round(percentile(samples, 99) * 10) / 10

  const out = join(data, 'export.ndjson')
  const exportMs = ylog(['--url', node.url, 'export', '--out', out])
  figures['cli.export_rate'] = rate(ENTRIES, exportMs)
  figures['cli.export_bytes'] = statSync(out).size
} finally {
  await node.stop()
}
const size = ENTRIES >= 1_000_000 ? '1m' : `${ENTRIES / 1000}k`
try {
  const verifyMs = ylog(['verify', '--data', data])
  figures[`cli.verify_${size}_s`] = Math.round(verifyMs / 10) / 100

  const targetArgs = ['--data', join(data, 'import-node'), '--durability', 'normal', '--open-membership']
  const target = await startNode(targetArgs, { LOG_LEVEL: 'warn' })
  try {
    const importMs = ylog(['--url', target.url, 'import', join(data, 'export.ndjson')])
    figures['cli.import_rate'] = rate(ENTRIES, importMs)
    const held = (await new YlogClient({ url: target.url }).heads()).heads.reduce((n, h) => n + h.length, 0)
    if (held !== ENTRIES) throw new Error(`the import left ${held} entries, not ${ENTRIES}`)
  } finally {
    await target.stop()
  }
  const offlineMs = ylog(['import', join(data, 'export.ndjson'), '--data', join(data, 'import-dir')])
  figures['cli.import_offline_rate'] = rate(ENTRIES, offlineMs)
} finally {
  rmSync(data, { recursive: true, force: true })
}
figures['cli.entries'] = ENTRIES
report(figures)

/** Until two readings of the commit, compaction and database metrics a second apart agree. */
async function waitQuiet(client: YlogClient): Promise<void> {
  let last = ''
  for (let i = 0; i < 120; i++) {
    const now = await (await fetch(`${client.url}/metrics`)).text()
    const state = now
      .split('\n')
      .filter((l) => /^ylog_(commit|compaction|database)/.test(l))
      .join('\n')
    if (state === last) return
    last = state
    await new Promise((resolve) => setTimeout(resolve, 1000))
  }
}
