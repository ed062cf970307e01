// A node stopped and started again serves exactly what it served before.
import { spawn } from 'node:child_process'
import { closeSync, openSync, readSync, statSync, truncateSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { failingStart, postEvent, readAll, ROOT, startNode, tempDir } from './support/node-process.js'

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

/** Runs `npm start -- --check` (the daemon with --check) on a data directory. */
async function check(data: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--conditions=ylog-source', '--import', 'tsx', join(ROOT, 'apps', 'node', 'src', 'main.ts'), '--check', '--data', data], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)))
  return { code, stdout, stderr }
}

describe('--check', () => {
  it('reports an intact data directory with exit 0, and damage with exit 1 and what is wrong', async () => {
    const data = await filledDataDir(300)
    const good = await check(data)
    expect(good.code, good.stderr).toBe(0)
    expect(JSON.parse(good.stdout)).toMatchObject({ ok: true, entries: 300, nodes: 1, problems: [] })
    // A flipped signature byte in the tail: SQLite is intact, the chain is not.
    const db = new Database(join(data, 'ylog.db'))
    const row = db.prepare('SELECT id, bytes FROM updates ORDER BY id DESC LIMIT 1').get() as { id: number; bytes: Buffer } | undefined
    if (row === undefined) throw new Error('the filled data directory has no update after its snapshot to damage')
    row.bytes[row.bytes.length - 10] = (row.bytes[row.bytes.length - 10] as number) ^ 1
    db.prepare('UPDATE updates SET bytes = ? WHERE id = ?').run(row.bytes, row.id)
    db.close()
    const bad = await check(data)
    expect(bad.code).toBe(1)
    expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false })
    expect(bad.stderr).toMatch(/^ylog: /m)
    const missing = await check(tempDir())
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('nothing to check')
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
