// Shared by every benchmark suite: a suite is a script that measures and
// prints one JSON object (figure name -> number) as its last stdout line.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export type Figures = Record<string, number>

/** Called by a suite at its end. */
export function report(figures: Figures): void {
  process.stdout.write(`\n${JSON.stringify(figures)}\n`)
}

/** Forces a full collection, twice, so heap figures are not noise. */
export function settleHeap(): void {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run with --expose-gc')
  gc()
  gc()
}

export function rate(count: number, ms: number): number {
  return Math.round((count / ms) * 1000)
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number
}

export function writeJson(path: string, value: unknown): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`)
}

/** ~300 bytes of JSON data, varied per entry. */
export function sampleData(i: number): { step: string; status: string; attempt: number; detail: string } {
  return {
    step: `stage-${i % 17}`,
    status: i % 3 === 0 ? 'ok' : 'running',
    attempt: i % 5,
    detail: `${'payload-'.repeat(30)}${i}`.slice(0, 240),
  }
}

export function tempDir(prefix = 'ylog-bench-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}
