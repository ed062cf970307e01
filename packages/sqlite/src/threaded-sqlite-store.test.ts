import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describeUpdateStore } from '@ylog/core/testing'
import { expect, it } from 'vitest'
import { ThreadedSqliteStore } from './threaded-sqlite-store.js'

describeUpdateStore('ThreadedSqliteStore', () => {
  let path = ''
  return {
    create: () => ThreadedSqliteStore.open((path = join(mkdtempSync(join(tmpdir(), 'ylog-threaded-')), 'ylog.db'))),
    reopen: () => ThreadedSqliteStore.open(path),
  }
})

it('rejects at open with the same STORE_CORRUPT error, naming the file', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'ylog-threaded-')), 'notes.db')
  writeFileSync(path, 'not a database\n'.repeat(100))
  await expect(ThreadedSqliteStore.open(path)).rejects.toMatchObject({ code: 'STORE_CORRUPT', message: expect.stringContaining(path) })
})

it('refuses calls after close', async () => {
  const store = await ThreadedSqliteStore.open(join(mkdtempSync(join(tmpdir(), 'ylog-threaded-')), 'ylog.db'))
  await store.close()
  await expect(store.load()).rejects.toMatchObject({ code: 'CLOSED' })
})
