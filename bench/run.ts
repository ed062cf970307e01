// `npm run bench [filter]`: runs every suite (or those whose name contains
// the filter) in its own process, prints a table, and merges the figures
// into bench-results.json at the repository root.
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { writeJson, type Figures } from './harness.js'

const SUITES = ['core', 'store', 'http', 'sync', 'consumers', 'context', 'cli', 'console', 'forward']
const root = join(import.meta.dirname, '..')
const filter = process.argv[2]
const resultsPath = join(root, 'bench-results.json')
const results: Record<string, number | string> = existsSync(resultsPath) ? JSON.parse(readFileSync(resultsPath, 'utf8')) : {}

let failed = false
for (const suite of SUITES.filter((s) => filter === undefined || s.includes(filter) || filter.startsWith(`${s}.`))) {
  const file = join(import.meta.dirname, 'suites', `${suite}.ts`)
  if (!existsSync(file)) continue
  console.error(`== ${suite}`)
  const started = performance.now()
  const child = spawnSync(
    process.execPath,
    ['--conditions=ylog-source', '--import', 'tsx', '--expose-gc', '--max-old-space-size=12000', file],
    {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 1 << 26,
    },
  )
  const last = child.stdout.trim().split('\n').at(-1) ?? ''
  if (child.status !== 0 || !last.startsWith('{')) {
    console.error(`suite ${suite} failed (exit ${child.status})`)
    failed = true
    continue
  }
  const figures = JSON.parse(last) as Figures
  Object.assign(results, figures)
  console.error(`   ${((performance.now() - started) / 1000).toFixed(1)} s`)
  for (const [name, value] of Object.entries(figures)) console.log(`${name.padEnd(44)} ${String(value).padStart(14)}`)
}
results.at = new Date().toISOString()
results.node = process.version
writeJson(resultsPath, results)
console.error(`wrote ${resultsPath}`)
process.exit(failed ? 1 : 0)
