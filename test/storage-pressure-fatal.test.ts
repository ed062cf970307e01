// A store failure that cannot pass (a failed fsync, permissions) stops the real daemon: exit code 1, the cause on
// stderr naming the file, and a restart keeps every acknowledged entry. The failure is injected by a preload module
// (test/support/faulty-store-preload.ts) that wraps the node's SQLite store in @ylog/core/testing's FaultyStore.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { attach, readAll, ROOT, startNode, tempDir, type RunningNode } from './support/node-process.js'

const MAIN = join(ROOT, 'apps', 'node', 'src', 'main.ts')
const PRELOAD = join(ROOT, 'test', 'support', 'faulty-store-preload.ts')
const nodes: RunningNode[] = []
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)))
})

function startFaultyNode(data: string, fault: 'fsync' | 'permission', failAppend: number): Promise<RunningNode> {
  const child = spawn(
    process.execPath,
    ['--conditions=ylog-source', '--import', 'tsx', '--import', PRELOAD, MAIN, '--port', '0', '--data', data],
    {
      cwd: ROOT,
      env: { ...process.env, YLOG_TEST_FAULT: fault, YLOG_TEST_FAIL_APPEND: String(failAppend) },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  return attach(child, 30_000)
}

async function post(url: string, i: number): Promise<Response> {
  return fetch(`${url}/api/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ topic: 'fatal', kind: 'event', data: { i } }),
  })
}

describe('a node whose store fails for a reason that does not pass', () => {
  for (const [fault, cause] of [
    ['fsync', /SQLITE_IOERR_FSYNC/],
    ['permission', /SQLITE_READONLY/],
  ] as const) {
    it(`exits 1 after a ${fault} failure, says why on stderr, and a restart keeps every acknowledged entry`, async () => {
      const data = join(tempDir('ylog-fatal-'), 'node')
      const node = await startFaultyNode(data, fault, 4)
      nodes.push(node)
      const acked: number[] = []
      for (let i = 0; i < 3; i++) {
        const res = await post(node.url, i)
        expect(res.status, await res.clone().text()).toBe(201)
        acked.push(((await res.json()) as { seq: number }).seq)
      }
      const refused = await post(node.url, 3)
      expect(refused.status).toBeGreaterThanOrEqual(500)
      expect(await node.exited).toBe(1)
      const file = join(data, 'ylog.db')
      expect(node.stderr()).toContain(file)
      expect(node.stderr()).toMatch(cause)
      expect(node.stderr()).toMatch(/stopping; fix the cause and start the node again/)

      const again = await startNode(['--data', data])
      nodes.push(again)
      const seqs = (await readAll(again.url)).map((e) => e.seq)
      // A failed fsync may have kept the refused entry (its bytes reached the file); a refused write did not.
      expect(seqs.slice(0, acked.length)).toEqual(acked)
      expect(seqs.length).toBe(fault === 'fsync' ? acked.length + 1 : acked.length)
      const res = await post(again.url, 4)
      expect(((await res.json()) as { seq: number }).seq).toBe(seqs.length)
      expect(await again.stop()).toBe(0)
    }, 60_000)
  }
})
