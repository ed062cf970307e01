// The store on a real 6 MB tmpfs (needs root to mount; otherwise the cases say why they did not run, and pass): a
// compaction and a replay that find the disk full. Complements test/storage-pressure.test.ts (a commit that finds it full,
// through the daemon) and the FaultyStore cases in packages/core (failures at chosen points).
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { DurableLog, NodeIdentity, type EntryInput } from '@ylog/core'
import { waitFor } from '@ylog/core/testing'
import { ThreadedSqliteStore } from '@ylog/sqlite'
import { fillDisk, mountSmallDisk, SKIPPED, unmountSmallDisks } from './support/small-disk.js'

afterAll(unmountSmallDisks)

const FAST = { firstDelayMs: 20, maxDelayMs: 100 }
const NO_AUTO_COMPACTION = { compactAfterUpdates: 1_000_000, compactAfterBytes: 1 << 30 }
const event = (i: number): EntryInput => ({ topic: 'pressure', kind: 'event', data: { i, pad: 'x'.repeat(1000) } })

async function open(file: string, identity: NodeIdentity): Promise<DurableLog> {
  return DurableLog.open({ identity, store: await ThreadedSqliteStore.open(file), retry: FAST, ...NO_AUTO_COMPACTION })
}

/** Appends entries from..to (exclusive) in group commits of 50. */
async function appendRange(durable: DurableLog, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i += 50)
    await Promise.all(Array.from({ length: Math.min(50, to - i) }, (_, k) => durable.append(event(i + k))))
}

describe('the SQLite store on a disk that fills up (6 MB tmpfs)', () => {
  it('a compaction that runs out of space leaves the snapshot and tail it had, and goes through once space returns', async () => {
    const disk = mountSmallDisk()
    if (disk === undefined) return console.warn(SKIPPED)
    const file = join(disk, 'ylog.db')
    const identity = NodeIdentity.generate()
    let durable = await open(file, identity)
    await appendRange(durable, 0, 100)
    await durable.compact()
    await appendRange(durable, 100, 400)
    // Closing checkpoints and truncates the WAL, so the compaction below has to grow it on a full disk.
    await durable.close()
    const store = await ThreadedSqliteStore.open(file)
    durable = await DurableLog.open({ identity, store, retry: FAST, ...NO_AUTO_COMPACTION })
    const before = await store.load()
    expect(before.snapshot.length).toBeGreaterThan(0)
    expect(before.tail.length).toBeGreaterThan(0)

    const ballast = join(disk, 'ballast')
    fillDisk(ballast)
    const failure = await durable.compact().then(
      () => undefined,
      (err: unknown) => err as { code: string; message: string },
    )
    expect(failure?.code).toBe('STORE_FULL')
    expect(failure?.message).toContain(file)
    expect(await store.load()).toEqual(before)

    rmSync(ballast)
    await waitFor(() => durable.health.state === 'ok', 'writes resume once space returned', { timeoutMs: 10_000 })
    await durable.compact()
    expect((await store.load()).tail).toEqual([])
    await appendRange(durable, 400, 410)
    await durable.close()
    const again = await open(file, identity)
    expect(again.committedLength(identity.id)).toBe(410)
    expect(again.verifyChains().ok).toBe(true)
    await again.close()
  }, 60_000)

  it('a replay on a full disk serves every committed entry, or fails naming the file; with space back it does', async () => {
    const disk = mountSmallDisk()
    if (disk === undefined) return console.warn(SKIPPED)
    const file = join(disk, 'ylog.db')
    const identity = NodeIdentity.generate()
    const durable = await open(file, identity)
    await appendRange(durable, 0, 200)
    await durable.compact()
    await appendRange(durable, 200, 300)
    await durable.close()

    const ballast = join(disk, 'ballast')
    fillDisk(ballast)
    const opened = await open(file, identity).then(
      (log) => ({ log }),
      (err: unknown) => ({ err: err as { code: string; message: string } }),
    )
    if ('log' in opened) {
      expect(opened.log.committedLength(identity.id)).toBe(300)
      expect(opened.log.verifyChains().ok).toBe(true)
      // Nothing to write at close but a checkpoint of an empty WAL: it must not lose or damage anything.
      await opened.log.close().catch(() => undefined)
    } else {
      // SQLite cannot allocate the -shm index a reader needs: said as what it is, a full disk.
      expect(opened.err).toMatchObject({ code: 'STORE_FULL', message: expect.stringContaining(file) })
      expect(opened.err.message).toMatch(/disk is full \(SQLITE_IOERR_SHMSIZE/)
    }

    rmSync(ballast)
    const again = await open(file, identity)
    expect(again.committedLength(identity.id)).toBe(300)
    expect(again.verifyChains().ok).toBe(true)
    await again.close()
  }, 60_000)
})
