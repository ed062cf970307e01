// The backup and restore recipe of the root README, run as written: export a 3-node cluster's log,
// wipe one node, import into its stopped data directory, verify, restart it, converge. Then import
// into a running node: verified first, nothing written on a forged line, twice changes nothing.
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { YlogClient } from '@ylog/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sortedHeads, waitConverged } from './support/cluster.js'
import { runYlog } from './support/cli.js'
import { startNode, tempDir, type RunningNode } from './support/node-process.js'

const syncUrl = (n: RunningNode): string => `${n.url.replace('http', 'ws')}/sync`
const dirs = { a: tempDir(), b: tempDir(), c: tempDir() }
const backup = join(tempDir(), 'backup.ndjson')
let a: RunningNode
let b: RunningNode
let c: RunningNode

async function append(node: RunningNode, n: number, topic: string): Promise<void> {
  await new YlogClient({ url: node.url }).appendBatch(Array.from({ length: n }, (_, i) => ({ topic, kind: 'event' as const, data: { i } })))
}

beforeAll(async () => {
  // A chain: b dials a, c dials b, so c can come back on any port.
  a = await startNode(['--data', dirs.a, '--open-membership'])
  b = await startNode(['--data', dirs.b, '--open-membership', '--peer', syncUrl(a)])
  c = await startNode(['--data', dirs.c, '--open-membership', '--peer', syncUrl(b)])
  await Promise.all([append(a, 300, 'a'), append(b, 200, 'b'), append(c, 100, 'c')])
  await waitConverged([a.url, b.url, c.url], 600)
}, 60_000)
afterAll(async () => {
  await Promise.all([a, b, c].map((n) => n?.stop()))
})

describe('backup and restore', () => {
  it('exports the log, restores a wiped node offline, verifies it, and the cluster converges', async () => {
    const exported = await runYlog(a.url, ['export', '--out', backup, '--json'])
    expect(exported.status).toBe(0)
    expect(exported.lines).toEqual([{ exported: 600, file: backup }])
    const before = await sortedHeads(c.url)

    await c.stop()
    for (const file of ['ylog.db', 'ylog.db-wal', 'ylog.db-shm', 'ylog.db-appends']) rmSync(join(dirs.c, file), { force: true })
    await append(a, 50, 'a') // written while c is down: c must catch up after the restore
    const restored = await runYlog(a.url, ['import', backup, '--data', dirs.c, '--json'])
    expect(restored.status).toBe(0)
    expect(restored.lines[0]).toMatchObject({ entries: 600, imported: 600, present: 0 })
    const again = await runYlog(a.url, ['import', backup, '--data', dirs.c, '--json'])
    expect(again.lines[0]).toMatchObject({ imported: 0, present: 600 })
    const verified = await runYlog(a.url, ['verify', '--data', dirs.c, '--json'])
    expect([verified.status, verified.lines[0]]).toMatchObject([0, { ok: true, entries: 600, nodes: 3 }])

    c = await startNode(['--data', dirs.c, '--open-membership', '--peer', syncUrl(b)])
    expect((await sortedHeads(c.url)).find((h) => h.node === c.node)).toEqual(before.find((h) => h.node === c.node))
    // Its own chain came back whole, so its next entry continues it: seq 100, no fork.
    const receipt = await new YlogClient({ url: c.url }).append({ topic: 'c', kind: 'event', data: 'after' })
    expect(receipt.seq).toBe(100)
    const heads = await waitConverged([a.url, b.url, c.url], 651)
    expect(heads.every((h) => !h.forked)).toBe(true)
  })

  it('imports into a running node: verified before anything is written, twice changes nothing', async () => {
    const fresh = await startNode(['--data', tempDir(), '--store', 'memory', '--open-membership'])
    try {
      const lines = readFileSync(backup, 'utf8').trim().split('\n')
      // One flipped byte in the last entry's signature: nothing of the file may be written.
      const forged = join(tempDir(), 'forged.ndjson')
      const last = JSON.parse(lines.at(-1) as string) as { bytes: string }
      const bytes = Buffer.from(last.bytes, 'base64')
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1
      writeFileSync(forged, [...lines.slice(0, -1), JSON.stringify({ ...last, bytes: bytes.toString('base64') })].join('\n'))
      const refused = await runYlog(fresh.url, ['import', forged, '--json'])
      expect(refused.status).toBe(1)
      expect(refused.lines[0]).toMatchObject({ error: { code: 'BAD_SIGNATURE' } })
      expect(await sortedHeads(fresh.url)).toEqual([])

      const first = await runYlog(fresh.url, ['import', '-', '--batch', '250', '--json'], lines.join('\n'))
      expect(first.status).toBe(0)
      expect(first.lines).toHaveLength(1)
      expect(first.lines[0]).toMatchObject({ entries: 600, imported: 600, present: 0 })
      // --json progress goes to stderr as JSON lines, never to stdout.
      expect(
        first.stderr
          .split('\n')
          .filter(Boolean)
          .map((l) => Object.keys(JSON.parse(l) as object)),
      ).toContainEqual(['progress'])
      const second = await runYlog(fresh.url, ['import', backup, '--json'])
      expect(second.lines[0]).toMatchObject({ imported: 0, present: 600 })
      const served = Object.fromEntries((await sortedHeads(fresh.url)).map((h) => [h.node, h.length]))
      expect(served).toEqual({ [a.node]: 300, [b.node]: 200, [c.node]: 100 })
    } finally {
      await fresh.stop()
    }
  })
})
