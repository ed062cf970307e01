// docs/document-shape.md's example, run exactly as written (saved as example.mjs, `node example.mjs`)
// against a real node: the stock-client view of the log (issue 12, 4).
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { postEvent, readAll, ROOT, startNode, tempDir } from './support/node-process.js'
import { blocks, plainEnv } from './support/readme.js'

const DOC = 'docs/document-shape.md'
const cleanup: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
})

it(`${DOC}: the example decodes and verifies every entry a stock client receives`, async () => {
  const [example, ...more] = blocks(DOC, 'js')
  expect(more).toEqual([])
  const node = await startNode(['--data', tempDir()])
  cleanup.push(() => node.stop())
  const post = (body: object): Promise<Response> =>
    fetch(`${node.url}/api/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  const transition = { subject: 'story-7', from: 'backlog', to: 'coding', event: 'DepsMet' }
  expect((await post({ topic: 'pipeline', kind: 'transition', data: transition })).status).toBe(201)
  expect((await post({ topic: 'agents', kind: 'event', data: { step: 'plan' }, time: Date.now() - 5000 })).status).toBe(201)
  // Past one segment (512 entries), so the example walks several.
  for (let i = 0; i < 600; i++) await postEvent(node.url, { i }, 'bulk')

  // Saved where a newcomer saves it: inside the repository after npm ci, where its imports resolve.
  const dir = mkdtempSync(join(ROOT, '.document-shape-'))
  cleanup.push(async () => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'example.mjs'), example?.code ?? '')
  const env = { ...plainEnv(), YLOG_SYNC_URL: `${node.url.replace(/^http/, 'ws')}/sync` }
  const run = spawnSync(process.execPath, ['example.mjs'], { cwd: dir, env, encoding: 'utf8', timeout: 30_000 })
  expect(run.stderr).toBe('')
  expect(run.status).toBe(0)

  const entries = await readAll(node.url)
  expect(entries).toHaveLength(602)
  const expected = entries.map((e) => {
    const time = (e as { time?: number }).time
    const at = new Date(e.at).toISOString()
    return { id: `${e.node.slice(0, 8)}:${e.seq}`, at, topic: e.topic, kind: e.kind, data: e.data, time: String(time ?? '') }
  })
  // A line: id, at, topic, kind, data as JSON (keys in CBOR's canonical order), event time or nothing.
  const printed = run.stdout
    .split('\n')
    .slice(0, -1)
    .map((line) => {
      const [id, at, topic, kind, ...rest] = line.split(' ')
      return { id, at, topic, kind, data: JSON.parse(rest.slice(0, -1).join(' ')) as unknown, time: rest.at(-1) }
    })
  expect(printed).toEqual(expected)
})
