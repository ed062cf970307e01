// `ylog tail` and gap entries on a real node: a gap the node signed (POST /api/gaps, as `ylog forward
// --dead-letter` records a skipped line) is printed inline as its own GAP line, between its neighbours; a
// `ylog tail -f` process that stalls gets "missed" lines for exactly what the node dropped for it.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { waitFor } from '@ylog/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LinePrinter, type TailItem } from '../apps/cli/src/tail/lines.js'
import { parseSource, tail } from '../apps/cli/src/tail/tail.js'
import { postEvent, ROOT, startNode, tempDir, type RunningNode } from './support/node-process.js'

let node: RunningNode

beforeAll(async () => {
  node = await startNode(['--data', tempDir(), '--store', 'memory'])
})
afterAll(async () => {
  await node.stop()
})

describe('ylog tail, gap entries', () => {
  it('prints a real gap entry inline, as its own line, between the entries around it', async () => {
    await postEvent(node.url, { n: 1 }, 'mk.gap')
    const res = await fetch(`${node.url}/api/gaps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ topic: 'mk.gap', stream: 'forward:/var/log/app.ndjson', from: 200, count: 100 }),
    })
    expect(res.status).toBe(201)
    await postEvent(node.url, { n: 2 }, 'mk.gap')
    const items: TailItem[] = []
    await tail({
      sources: [parseSource(`n=${node.url}`)],
      last: 10,
      follow: false,
      topic: 'mk.gap',
      signal: new AbortController().signal,
      onItem: (i) => items.push(i),
      onPresence: () => undefined,
    })
    const printer = new LinePrinter({ json: false, color: false, prefix: true })
    const lines = items.map((i) => printer.line(i).replace(/^\[n\] [0-9a-f]{8}:\d+ /, ''))
    expect(lines).toHaveLength(3)
    expect(lines[0]).toMatch(/ mk\.gap event \{"n":1\}$/)
    expect(lines[1]).toBe('GAP mk.gap: events 200-299 of forward:/var/log/app.ndjson were dropped before the log')
    expect(lines[2]).toMatch(/ mk\.gap event \{"n":2\}$/)
  })

  it('a tail -f process that stops reading: "missed" lines name exactly the seqs the node dropped, the rest is printed once', async () => {
    const args = ['tail', '-f', '-n', '0', '--buffer', '1000', '--json', '--topic', 'mk.lag', node.url]
    const main = join(ROOT, 'apps', 'cli', 'src', 'main.ts')
    const child = spawn(process.execPath, ['--conditions=ylog-source', '--import', 'tsx', main, ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    try {
      let stderr = ''
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
      await waitFor(
        () => stderr.includes('"up":true'),
        () => `the tail to connect (stderr: ${stderr})`,
        { timeoutMs: 30_000 },
      )
      const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
      // A first entry printed: the node's stream for this reader is live (it has read everything committed), the mode in
      // which a reader that falls behind its buffer loses entries. (A reader behind from the start reads history at its
      // own pace and loses nothing.)
      // "+ source" comes before the tail has read its starting cursor, so an entry appended at once may fall before it:
      // appends go on, 100 ms apart, until one is printed.
      const firstLine = lines.next()
      let printedFirst = false
      void firstLine.then(() => (printedFirst = true))
      for (let i = 0; !printedFirst && i < 300; i++) {
        await postEvent(node.url, { i: -1 }, 'mk.lag')
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      expect(JSON.parse((await firstLine).value as string)).toMatchObject({ topic: 'mk.lag', data: { i: -1 } })
      // Then the tail stops (SIGSTOP) while 60 MB of entries commit: it reads nothing, the sockets fill, and the node
      // must drop what does not fit in the 1,000 entries it holds for this reader (five batches).
      child.kill('SIGSTOP')
      const seqs: number[] = []
      const pad = 'x'.repeat(2400)
      for (let b = 0; b < 125; b++) {
        const batch = Array.from({ length: 200 }, (_, k) => ({ topic: 'mk.lag', kind: 'event', data: { i: b * 200 + k, pad } }))
        const res = await fetch(`${node.url}/api/events/batch`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(batch),
        })
        expect(res.status).toBe(201)
        const receipts = (await res.json()) as { entries: Array<{ seq: number }> }
        seqs.push(...receipts.entries.map((e) => e.seq))
      }
      child.kill('SIGCONT')
      const printed: number[] = []
      const missed: Array<{ from: number; to: number }> = []
      const inMissed = (seq: number): boolean => missed.some((m) => m.from <= seq && seq <= m.to)
      // Read until every appended seq is accounted for, printed or inside a missed range.
      const open = new Set(seqs)
      for (let next = await lines.next(); !next.done; next = await lines.next()) {
        const text = next.value as string
        const line = JSON.parse(text) as { marker?: string; seq?: number; from?: number; to?: number }
        if (line.marker === 'lag') {
          missed.push({ from: line.from as number, to: line.to as number })
          for (const seq of open) if (inMissed(seq)) open.delete(seq)
        } else if ((line as { data?: { i?: number } }).data?.i !== -1) {
          // (Lines of the starting appends still on their way are not part of the count.)
          printed.push(line.seq as number)
          open.delete(line.seq as number)
        }
        if (open.size === 0) break
      }
      expect(missed.length).toBeGreaterThan(0)
      // Printed once each, in order; none inside a range called missed; printed and missed together are every entry.
      expect(printed).toEqual([...printed].sort((x, y) => x - y))
      expect(new Set(printed).size).toBe(printed.length)
      expect(printed.filter(inMissed)).toEqual([])
      expect(printed.length + seqs.filter(inMissed).length).toBe(seqs.length)
    } finally {
      // SIGKILL: a process still stopped (a failure between SIGSTOP and SIGCONT) would keep a SIGTERM pending forever.
      child.kill('SIGKILL')
    }
  }, 120_000)
})
