// `ylog tail` and gap entries on a real node: a gap the node signed (POST /api/gaps, as `ylog forward
// --dead-letter` records a skipped line) is printed inline as its own GAP line, between its neighbours; a data
// directory as a source is refused with what to do instead.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LinePrinter, type TailItem } from '../apps/cli/src/tail/lines.js'
import { parseSource, tail } from '../apps/cli/src/tail/tail.js'
import { postEvent, startNode, tempDir, type RunningNode } from './support/node-process.js'

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

  it('refuses a data directory as a source, naming the way to tail it', () => {
    const dir = tempDir()
    expect(() => parseSource(dir)).toThrow(/is a directory: ylog tail reads nodes over HTTP.*ylog serve --data/)
  })
})
