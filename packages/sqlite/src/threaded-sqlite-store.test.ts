import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as Y from 'yjs'
import { LogDoc, NodeIdentity, type JsonValue } from '@ylog/core'
import { describeNodeStore } from '@ylog/core/testing'
import Database from 'better-sqlite3'
import { expect, it } from 'vitest'
import { ThreadedSqliteStore } from './threaded-sqlite-store.js'

const newPath = (): string => join(mkdtempSync(join(tmpdir(), 'ylog-threaded-')), 'ylog.db')

/** `count` signed entries of one writer, one Yjs update each. */
function writes(count: number, data: (i: number) => JsonValue): { doc: Y.Doc; updates: Uint8Array[] } {
  const w = new LogDoc({ identity: NodeIdentity.generate() })
  const updates: Uint8Array[] = []
  w.onUpdate((u) => updates.push(u))
  for (let i = 0; i < count; i++) w.append({ topic: 't', kind: 'event', data: data(i) })
  return { doc: w.doc, updates }
}

describeNodeStore('ThreadedSqliteStore', () => {
  let path = ''
  return {
    create: () => ThreadedSqliteStore.open((path = newPath())),
    reopen: () => ThreadedSqliteStore.open(path),
  }
})

it('rejects at open with the same NOT_A_STORE error, naming the file', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'ylog-threaded-')), 'notes.db')
  writeFileSync(path, 'not a database\n'.repeat(100))
  await expect(ThreadedSqliteStore.open(path)).rejects.toMatchObject({ code: 'NOT_A_STORE', message: expect.stringContaining(path) })
})

it('refuses calls after close', async () => {
  const store = await ThreadedSqliteStore.open(newPath())
  await store.close()
  await expect(store.load()).rejects.toMatchObject({ code: 'CLOSED' })
  await expect(store.compact([], 0)).rejects.toMatchObject({ code: 'CLOSED' })
})

it('commits writes made during a compaction after it, in call order, and loses none', async () => {
  const path = newPath()
  const store = await ThreadedSqliteStore.open(path)
  const { doc, updates } = writes(40, () => 'x'.repeat(2000))
  const covered = await store.append(updates.slice(0, 20).map((update) => ({ update, entries: [] })))

  const order: string[] = []
  const compaction = store.compact([Y.encodeStateAsUpdateV2(doc)], covered).then(() => order.push('compact'))
  const appends = updates
    .slice(20)
    .map((update) => store.append([{ update, entries: [] }]).then((id) => order.push(`append ${id - covered - 1}`) && id))
  const consumer = store.writeConsumer({ name: 'c', cursor: 'x', ackedAt: 1 }).then(() => order.push('consumer'))
  await Promise.all([compaction, ...appends, consumer])

  expect(order).toEqual(['compact', ...Array.from({ length: 20 }, (_, i) => `append ${i}`), 'consumer'])
  await store.close()
  const again = await ThreadedSqliteStore.open(path)
  const state = await again.load()
  expect(state.tail).toHaveLength(20)
  expect(state.lastId).toBe(40)
  const replica = new LogDoc()
  replica.loadTrusted(state.snapshot, 'v2')
  for (const u of state.tail) replica.loadTrusted(u)
  expect(replica.verifyChains()).toEqual({ ok: true, entries: 40 })
  expect(await again.readConsumer('c')).toMatchObject({ cursor: 'x' })
  await again.close()
})

it('runs the deep check on its second connection and reports damage with the file name', async () => {
  const path = newPath()
  // Straight into the database, where the other connection below damages one.
  const store = await ThreadedSqliteStore.open(path, { appendJournal: false })
  const { updates } = writes(3, (i) => i)
  await store.append(updates.map((update) => ({ update, entries: [] })))
  expect(await store.checkIntegrity()).toEqual({ ok: true, problems: [] })

  // Another process changes a stored update behind the store's back.
  const other = new Database(path)
  other.prepare('UPDATE updates SET bytes = zeroblob(length(bytes)) WHERE id = 2').run()
  other.close()
  const report = await store.checkIntegrity()
  expect(report.ok).toBe(false)
  expect(report.problems).toEqual([expect.stringMatching(new RegExp(`^${path}: update 2 \\(\\d+ bytes\\) fails its CRC-32 check`))])
  await store.close()
})

it('refuses a compaction beyond the last update id without touching the file', async () => {
  const store = await ThreadedSqliteStore.open(newPath())
  await expect(store.compact([new Uint8Array([0])], 5)).rejects.toMatchObject({
    code: 'BAD_ARGUMENT',
    message: expect.stringContaining('last id 0'),
  })
  expect((await store.stats()).snapshotBytes).toBe(0)
  await store.close()
})
