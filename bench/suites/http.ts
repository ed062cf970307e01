// HTTP figures: POST /api/events against a running node (a child process,
// default options: fsync per group commit) from autocannon, 64 connections.
import { rmSync } from 'node:fs'
import autocannon from 'autocannon'
import { report, type Figures } from '../harness.js'
import { startNode, tempDir } from '../../test/support/node-process.js'

const SECONDS = Number(process.env.YLOG_BENCH_HTTP_SECONDS ?? 15)
const figures: Figures = {}
const data = tempDir('ylog-bench-')
const node = await startNode(['--data', data], { LOG_LEVEL: 'warn' })
try {
  const body = JSON.stringify({ topic: 'pipeline/stages', kind: 'event', data: { step: 'build', status: 'ok', detail: 'x'.repeat(200) } })
  const result = await autocannon({
    url: `${node.url}/api/events`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections: 64,
    duration: SECONDS,
  })
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${result.non2xx} non-2xx answers and ${result.errors} errors`)
  figures['node.http.append_rate'] = Math.round(result.requests.average)
  figures['node.http.append_p50_ms'] = result.latency.p50
  figures['node.http.append_p99_ms'] = result.latency.p99
} finally {
  await node.stop()
  rmSync(data, { recursive: true, force: true })
}
report(figures)
