// A node stopped and started again serves exactly what it served before.
import { spawn } from 'node:child_process'
import { closeSync, openSync, readSync, statSync, truncateSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { failingStart, postEvent, readAll, ROOT, startNode, tempDir } from './support/node-process.js'

async function heads(url: string): Promise<unknown> {
  return (await fetch(`${url}/api/heads`)).json()
}

/** A data directory holding a compacted store of `n` entries, written by a real node. */
/**
 * A stopped node's directory holding `n` entries. `compactAfter` 100 leaves snapshot parts; how many updates the
 * tail keeps depends on how the appends were grouped into commits.
 */
async function filledDataDir(n: number, compactAfter = 100): Promise<string> {
  const data = tempDir()
  const node = await startNode(['--data', data, '--compact-after', String(compactAfter)])
  for (let i = 0; i < n; i += 50)
    await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, k) => postEvent(node.url, { i: i + k, pad: 'x'.repeat(200) })))
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

interface PageStat {
  pageno: number
  pagetype: string
  payload: number
  pgsize: number
}

/** The page of `table` (or index) holding the most payload, read through SQLite's dbstat table. */
function largestPage(file: string, table: string): PageStat {
  const db = new Database(file, { readonly: true })
  const page = db.prepare('SELECT pageno, pagetype, payload, pgsize FROM dbstat WHERE name = ? ORDER BY payload DESC LIMIT 1').get(table) as
    | PageStat
    | undefined
  db.close()
  if (page === undefined || page.payload < 512) throw new Error(`${file} has no page of ${table} with 512 bytes of payload to damage`)
  return page
}

/**
 * XORs 256 bytes of a page: its header (the first bytes after any file
 * header), or live content. A b-tree leaf packs its cells at the end of the
 * page and an overflow page fills from byte 4, so those bytes are payload.
 */
function flipBytes(file: string, page: PageStat, where: 'header' | 'content'): void {
  // From the page number: dbstat's pgoffset column gives an overflow page its leaf's offset.
  const start = (page.pageno - 1) * page.pgsize
  const at =
    where === 'header'
      ? start + (page.pageno === 1 ? 100 : 0)
      : page.pagetype === 'overflow'
        ? start + 4 + (page.payload >> 1) - 128
        : start + page.pgsize - 384
  const fd = openSync(file, 'r+')
  const buf = Buffer.alloc(256)
  readSync(fd, buf, 0, buf.length, at)
  for (let i = 0; i < buf.length; i++) buf[i] = (buf[i] as number) ^ 0x5a
  writeSync(fd, buf, 0, buf.length, at)
  closeSync(fd)
}

/** Runs `npm start -- --check` (the daemon with --check) on a data directory. */
async function check(data: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(
    process.execPath,
    ['--conditions=ylog-source', '--import', 'tsx', join(ROOT, 'apps', 'node', 'src', 'main.ts'), '--check', '--data', data],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)))
  return { code, stdout, stderr }
}

describe('--check', () => {
  it('reports an intact data directory with exit 0, and damage with exit 1 and what is wrong', async () => {
    // No compaction: one that fell on the last commit would leave no update after the snapshot to damage.
    const data = await filledDataDir(300, 1_000_000)
    const good = await check(data)
    expect(good.code, good.stderr).toBe(0)
    expect(JSON.parse(good.stdout)).toMatchObject({ ok: true, entries: 300, nodes: 1, problems: [] })
    // A flipped signature byte in the tail, its CRC-32 recomputed (as a forger
    // would): SQLite and the checksum are intact, the chain is not.
    const db = new Database(join(data, 'ylog.db'))
    const row = db.prepare('SELECT id, bytes FROM updates ORDER BY id DESC LIMIT 1').get() as { id: number; bytes: Buffer } | undefined
    if (row === undefined) throw new Error('the filled data directory has no update after its snapshot to damage')
    row.bytes[row.bytes.length - 10] = (row.bytes[row.bytes.length - 10] as number) ^ 1
    db.prepare('UPDATE updates SET bytes = ?, crc32 = ? WHERE id = ?').run(row.bytes, crc32(row.bytes), row.id)
    db.close()
    const bad = await check(data)
    expect(bad.code).toBe(1)
    const report = JSON.parse(bad.stdout) as { ok: boolean; problems: string[] }
    expect(report.ok).toBe(false)
    expect(report.problems.join('\n')).toMatch(/does not verify/)
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

  // Where in the file damage lands decides who must notice it, so each case
  // picks its page through SQLite's dbstat table instead of a file offset
  // (the middle of the file may be a free page, or a page's unused space,
  // where flipped bytes harm nothing and the node rightly starts).
  it('refuses a database with bytes flipped inside a stored update (caught by its CRC-32)', async () => {
    // No compaction: every update stays in the tail, whatever the commits were (on a loaded machine, one entry
    // each, and three compactions at 100 updates could leave the tail empty).
    const data = await filledDataDir(300, 1_000_000)
    const db = join(data, 'ylog.db')
    flipBytes(db, largestPage(db, 'updates'), 'content')
    const { code, stderr } = await failingStart(['--data', data])
    expect(code, stderr).toBe(1)
    expect(stderr).toMatch(/^ylog: .*(CRC-32|damaged|malformed)/m)
    expect(stderr).toContain(db)
  })

  it('refuses a database with a b-tree page header overwritten (caught by quick_check)', async () => {
    const data = await filledDataDir(300)
    const db = join(data, 'ylog.db')
    flipBytes(db, largestPage(db, 'entries_by_time'), 'header')
    const { code, stderr } = await failingStart(['--data', data])
    expect(code, stderr).toBe(1)
    expect(stderr).toMatch(/^ylog: .*damaged/m)
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
