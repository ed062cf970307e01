import { describe, expect, it } from 'vitest'
import { Progress } from './progress.js'

/** A stream that records what is written to it. */
function sink(isTTY: boolean): { isTTY: boolean; written: string[]; write: (text: string) => boolean } {
  const written: string[] = []
  return { isTTY, written, write: (text: string) => written.push(text) > 0 }
}

describe('Progress', () => {
  it('draws a status line only when stdout and stderr are terminals, and clears it at the end', () => {
    const stderr = sink(true)
    const progress = new Progress({ json: false, command: 'export', phase: 'exporting', total: 10, stdout: { isTTY: true }, stderr })
    progress.add(5)
    expect(stderr.written[0]).toMatch(/^\rexporting 5 of 10 \(50%\), [0-9,]+\/s$/)
    progress.end()
    expect(stderr.written.at(-1)).toMatch(/^\r +\r$/)
    for (const [out, err] of [
      [false, true],
      [true, false],
    ] as const) {
      const quiet = sink(err)
      const off = new Progress({ json: false, command: 'export', phase: 'exporting', stdout: { isTTY: out }, stderr: quiet })
      off.add(1)
      off.end()
      expect(quiet.written).toEqual([])
    }
  })

  it('with --json writes JSON lines, never a status line, and a last one per phase', () => {
    const stderr = sink(true)
    const progress = new Progress({ json: true, command: 'import', phase: 'verifying', stdout: { isTTY: true }, stderr })
    progress.add(3)
    progress.end()
    progress.phase('importing', 3)
    progress.add(3)
    progress.end()
    const lines = stderr.written.map((l) => JSON.parse(l) as { progress: Record<string, unknown> })
    expect(stderr.written.every((l) => !l.includes('\r'))).toBe(true)
    expect(lines.map((l) => l.progress.phase)).toEqual(['verifying', 'verifying', 'importing', 'importing'])
    expect(lines.at(-1)?.progress).toMatchObject({ command: 'import', done: 3, total: 3, end: true })
  })
})
