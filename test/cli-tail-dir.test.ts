// `ylog tail DIR`: a data directory read from outside, beside the node running on it (SQLite store, compactions
// every 4 updates so that the reader meets snapshot parts), and after it stopped: the last N, every new entry once
// and in order, one line per entry when the node's URL is tailed too, a store file replaced underneath announced
// as a reset, and a directory that is not a store refused by name.
import { copyFileSync, renameSync } from 'node:fs'
import { join } from 'node:path'
import { waitFor } from '@ylog/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseSource } from '../apps/cli/src/tail/tail.js'
import { postEvent, startNode, tempDir, type RunningNode } from './support/node-process.js'
import { runTail } from './support/tail-run.js'

let dir: string
let node: RunningNode

beforeAll(async () => {
  dir = tempDir()
  node = await startNode(['--data', dir, '--compact-after', '4'])
  for (let i = 0; i < 20; i++) await postEvent(node.url, { i }, 'dir.t')
})
afterAll(async () => {
  await node.stop()
})

describe('ylog tail DIR', () => {
  it('prints the last N of a data directory a node is running on, labelled by its name', async () => {
    const source = parseSource(dir)
    expect(source).toMatchObject({ dir, label: dir.split('/').at(-1) })
    const r = runTail({ sources: [source], last: 5, topic: 'dir.t' })
    await r.done
    expect(r.data()).toEqual([15, 16, 17, 18, 19])
    expect(r.items.every((i) => i.source === source.label)).toBe(true)
  })

  it('follows what the node commits, through its compactions: every entry once, in order', async () => {
    const compactions = async (): Promise<number> =>
      Number(/^ylog_compaction_seconds_count (\d+)/m.exec(await (await fetch(`${node.url}/metrics`)).text())?.[1] ?? 0)
    const compactedBefore = await compactions()
    const r = runTail({ sources: [parseSource(`d=${dir}`)], last: 0, follow: true, topic: 'dir.t' })
    await waitFor(() => r.presence.includes('+ d'), 'the directory source to open')
    for (let i = 20; i < 50; i++) {
      if (i % 10 === 0) {
        const batch = Array.from({ length: 5 }, (_, k) => ({ topic: 'dir.t', kind: 'event', data: { i: i + k } }))
        const res = await fetch(`${node.url}/api/events/batch`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(batch),
        })
        expect(res.status).toBe(201)
        i += 4
      } else await postEvent(node.url, { i }, 'dir.t')
    }
    await waitFor(
      () => r.data().length >= 30,
      () => `30 entries printed, got ${r.data().join(',')}`,
    )
    await r.stop()
    expect(r.data()).toEqual(Array.from({ length: 30 }, (_, k) => 20 + k))
    // The reader met snapshot parts: the node compacted while it was followed.
    expect(await compactions()).toBeGreaterThan(compactedBefore)
  })

  it('prints an entry once when the node URL and its directory both deliver it', async () => {
    const r = runTail({ sources: [parseSource(`n=${node.url}`), parseSource(`d=${dir}`)], last: 3, topic: 'dir.t' })
    await r.done
    expect(r.data()).toEqual([47, 48, 49])
  })

  it('announces a store file replaced underneath as a reset, then tails the new one', async () => {
    await node.stop()
    const older = join(tempDir(), 'older.db')
    copyFileSync(join(dir, 'ylog.db'), older)
    node = await startNode(['--data', dir, '--compact-after', '4'])
    await postEvent(node.url, { i: 50 }, 'dir.t')
    await node.stop()
    const r = runTail({ sources: [parseSource(`d=${dir}`)], last: 1, follow: true, topic: 'dir.t' })
    await waitFor(() => r.data().includes(50), 'the newest entry printed')
    // A restore from a copy: another file at the path, holding less.
    renameSync(older, join(dir, 'ylog.db'))
    // A reset marker, then the last entry of the file now at the path: the older copy ends at 49.
    await waitFor(() => r.data().includes(49), 'the last entry of the older copy')
    await r.stop()
    const at = r.items.findIndex((i) => i.type === 'reset')
    expect(r.items[at]).toMatchObject({ source: 'd', reason: expect.stringContaining('another file than the one being read') })
    expect(r.items.slice(at + 1).map((i) => i.type === 'entry' && (i.entry.data as { i: number }).i)).toEqual([49])
    expect(r.data()).toEqual([50, 49])
    node = await startNode(['--data', dir, '--compact-after', '4'])
  })

  it('refuses a directory that holds no store, naming it', async () => {
    const empty = tempDir()
    await expect(runTail({ sources: [parseSource(empty)] }).done).rejects.toThrow(/holds no ylog\.db yet: is it a node's data directory/)
  })
})
