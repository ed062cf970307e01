import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { YlogError } from '@ylog/core'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { loadConfig } from './config.js'
import { startNode, StartupError } from './node.js'

const silent = pino({ level: 'silent' })

function configIn(data: string, extra: string[] = []) {
  return loadConfig(['--data', data, '--port', '0', '--durability', 'normal', ...extra], {})
}

async function append(url: string, n: number): Promise<{ seq: number; node: string }> {
  const res = await fetch(`${url}/api/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ topic: 't', kind: 'event', data: { n } }) })
  expect(res.status).toBe(201)
  return (await res.json()) as { seq: number; node: string }
}

describe('startNode', () => {
  it('creates the data directory and a private key, serves over HTTP, and keeps everything across a restart', async () => {
    const data = join(mkdtempSync(join(tmpdir(), 'ylog-node-')), 'nested', 'data')
    const first = await startNode(configIn(data), silent)
    expect(first.url).toBe(`http://127.0.0.1:${first.port}`)
    expect(statSync(join(data, 'node.key')).mode & 0o777).toBe(0o600)
    expect(existsSync(join(data, 'ylog.db'))).toBe(true)
    expect(existsSync(join(data, 'ylog.lock'))).toBe(true)
    for (let i = 0; i < 3; i++) expect((await append(first.url, i)).seq).toBe(i)
    await first.close()
    await first.close() // idempotent
    expect(existsSync(join(data, 'ylog.lock'))).toBe(false)

    const second = await startNode(configIn(data), silent)
    expect(second.node).toBe(first.node)
    expect((await append(second.url, 3)).seq).toBe(3)
    const page = (await (await fetch(`${second.url}/api/events`)).json()) as { entries: Array<{ seq: number }> }
    expect(page.entries.map((e) => e.seq)).toEqual([0, 1, 2, 3])
    await second.close()
  })

  it('refuses a data directory another live process holds', async () => {
    const data = mkdtempSync(join(tmpdir(), 'ylog-node-'))
    const first = await startNode(configIn(data), silent)
    // Pretend the lock belongs to another live process (our parent).
    writeFileSync(join(data, 'ylog.lock'), `${process.ppid}\n`)
    const err = await startNode(configIn(data), silent).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StartupError)
    expect((err as StartupError).message).toContain(`is in use by process ${process.ppid}`)
    writeFileSync(join(data, 'ylog.lock'), `${process.pid}\n`)
    await first.close()
  })

  it('takes over a stale lock left by a dead process', async () => {
    const data = mkdtempSync(join(tmpdir(), 'ylog-node-'))
    writeFileSync(join(data, 'ylog.lock'), '2147483646\n')
    const node = await startNode(configIn(data), silent)
    await node.close()
  })

  it('reports a port in use as a StartupError and releases everything', async () => {
    const data = mkdtempSync(join(tmpdir(), 'ylog-node-'))
    const first = await startNode(configIn(data), silent)
    const other = mkdtempSync(join(tmpdir(), 'ylog-node-'))
    const err = await startNode(configIn(other, ['--port', String(first.port)]), silent).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StartupError)
    expect((err as StartupError).message).toContain(`cannot listen on 127.0.0.1:${first.port}: the address is already in use`)
    expect(existsSync(join(other, 'ylog.lock'))).toBe(false)
    await first.close()
    // The failed start closed its store, so the directory can be used at once.
    const retry = await startNode(configIn(other), silent)
    await retry.close()
  })

  it('reports a foreign database file as STORE_CORRUPT', async () => {
    const data = mkdtempSync(join(tmpdir(), 'ylog-node-'))
    writeFileSync(join(data, 'ylog.db'), 'this is not a database, just some text that is long enough to look like a file header'.repeat(20))
    const err = await startNode(configIn(data), silent).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(YlogError)
    expect((err as YlogError).code).toBe('STORE_CORRUPT')
    expect((err as YlogError).message).toContain(join(data, 'ylog.db'))
    expect(existsSync(join(data, 'ylog.lock'))).toBe(false)
  })
})
