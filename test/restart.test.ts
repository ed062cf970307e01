// A node stopped and started again serves exactly what it served before.
import { closeSync, openSync, readSync, statSync, truncateSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { failingStart, postEvent, readAll, startNode, tempDir } from './support/node-process.js'

async function heads(url: string): Promise<unknown> {
  return (await fetch(`${url}/api/heads`)).json()
}

/** A data directory holding a compacted store of `n` entries, written by a real node. */
async function filledDataDir(n: number): Promise<string> {
  const data = tempDir()
  const node = await startNode(['--data', data, '--compact-after', '100'])
  for (let i = 0; i < n; i += 50) await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, k) => postEvent(node.url, { i: i + k, pad: 'x'.repeat(200) })))
  expect(await node.stop()).toBe(0)
  return data
}

describe('restart', () => {
  it('serves identical entries, heads and holes after a graceful restart, and continues the seqs', async () => {
    const data = await filledDataDir(400)
    const first = await startNode(['--data', data])
    const before = { entries: await readAll(first.url), heads: await heads(first.url) }
    expect(await first.stop()).toBe(0)
    const second = await startNode(['--data', data])
    expect(await readAll(second.url)).toEqual(before.entries)
    expect(await heads(second.url)).toEqual(before.heads)
    expect(second.node).toBe(first.node)
    expect((await postEvent(second.url, 'next')).seq).toBe(400)
    expect(await second.stop()).toBe(0)
  })
})

describe('a damaged data directory stops the node with a clear error', () => {
  it('refuses a truncated database', async () => {
    const data = await filledDataDir(300)
    const db = join(data, 'ylog.db')
    truncateSync(db, Math.floor(statSync(db).size / 2))
    const { code, stderr } = await failingStart(['--data', data])
    expect(code).not.toBe(0)
    expect(stderr).toMatch(/^ylog: /m)
    expect(stderr).toContain(db)
  })

  it('refuses a database with bytes flipped in the middle', async () => {
    const data = await filledDataDir(300)
    const db = join(data, 'ylog.db')
    const size = statSync(db).size
    const fd = openSync(db, 'r+')
    const at = Math.floor(size / 2)
    const buf = Buffer.alloc(256)
    readSync(fd, buf, 0, buf.length, at)
    for (let i = 0; i < buf.length; i++) buf[i] = (buf[i] as number) ^ 0x5a
    writeSync(fd, buf, 0, buf.length, at)
    closeSync(fd)
    const { code, stderr } = await failingStart(['--data', data])
    expect(code).not.toBe(0)
    expect(stderr).toMatch(/^ylog: /m)
    expect(stderr).toContain(db)
  })

  it('refuses a SQLite file that is not a ylog store', async () => {
    const data = tempDir()
    const db = new Database(join(data, 'ylog.db'))
    db.exec('CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices (total) VALUES (12.5)')
    db.close()
    const { code, stderr } = await failingStart(['--data', data])
    expect(code).toBe(1)
    expect(stderr).toMatch(/not a ylog store/)
    expect(stderr).toContain(join(data, 'ylog.db'))
  })

  it('refuses a file that is not a database at all', async () => {
    const data = tempDir()
    const fd = openSync(join(data, 'ylog.db'), 'w')
    writeSync(fd, 'these are my notes, not a database\n'.repeat(200))
    closeSync(fd)
    const { code, stderr } = await failingStart(['--data', data])
    expect(code).toBe(1)
    expect(stderr).toMatch(/not a SQLite database/)
  })
})
