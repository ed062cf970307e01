import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { networkInterfaces, tmpdir } from 'node:os'
import type { Duplex } from 'node:stream'
import { Writable } from 'node:stream'
import { join } from 'node:path'
import { YlogError } from '@ylog/core'
import { waitFor } from '@ylog/core/testing'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { loadConfig } from './config.js'
import { startNode } from './node.js'

const silent = pino({ level: 'silent' })

function configIn(data: string, extra: string[] = []) {
  return loadConfig(['--data', data, '--port', '0', '--durability', 'normal', ...extra], {})
}

async function append(url: string, n: number): Promise<{ seq: number; node: string }> {
  const res = await fetch(`${url}/api/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ topic: 't', kind: 'event', data: { n } }),
  })
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
    expect(err).toMatchObject({ code: 'LOCKED', message: expect.stringContaining(`is in use by process ${process.ppid}`) })
    writeFileSync(join(data, 'ylog.lock'), `${process.pid}\n`)
    await first.close()
  })

  it('takes over a stale lock left by a dead process', async () => {
    const data = mkdtempSync(join(tmpdir(), 'ylog-node-'))
    writeFileSync(join(data, 'ylog.lock'), '2147483646\n')
    const node = await startNode(configIn(data), silent)
    await node.close()
  })

  it('reports a port in use as ADDRESS_IN_USE and releases everything', async () => {
    const data = mkdtempSync(join(tmpdir(), 'ylog-node-'))
    const first = await startNode(configIn(data), silent)
    const other = mkdtempSync(join(tmpdir(), 'ylog-node-'))
    const err = await startNode(configIn(other, ['--port', String(first.port)]), silent).catch((e: unknown) => e)
    expect(err).toMatchObject({
      code: 'ADDRESS_IN_USE',
      message: expect.stringContaining(`cannot listen on 127.0.0.1:${first.port}: the address is already in use`),
    })
    expect(existsSync(join(other, 'ylog.lock'))).toBe(false)
    await first.close()
    // The failed start closed its store, so the directory can be used at once.
    const retry = await startNode(configIn(other), silent)
    await retry.close()
  })

  it('reports a foreign database file as NOT_A_STORE', async () => {
    const data = mkdtempSync(join(tmpdir(), 'ylog-node-'))
    writeFileSync(join(data, 'ylog.db'), 'this is not a database, just some text that is long enough to look like a file header'.repeat(20))
    const err = await startNode(configIn(data), silent).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(YlogError)
    expect((err as YlogError).code).toBe('NOT_A_STORE')
    expect((err as YlogError).message).toContain(join(data, 'ylog.db'))
    expect(existsSync(join(data, 'ylog.lock'))).toBe(false)
  })
})

/** A pino logger that keeps its records, for checking warnings. */
function recordingLogger(): { logger: ReturnType<typeof pino>; records: Array<Record<string, unknown>> } {
  const records: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') records.push(JSON.parse(line) as Record<string, unknown>)
      done()
    },
  })
  return { logger: pino({ level: 'info' }, stream), records }
}

const until = (check: () => boolean | Promise<boolean>, what: string): Promise<void> => waitFor(check, what, { intervalMs: 50 })

/** A bare WebSocket upgrade (no client library); resolves with the socket and its first bytes from the server. */
function upgrade(port: number, path: string, target: string): Promise<{ socket: Duplex; first: Promise<Buffer> }> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: target,
      port,
      path,
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
      },
    })
    // Bytes that came with the 101 response arrive as `head`, not as 'data'.
    req.on('upgrade', (_res, socket, head: Buffer) =>
      resolve({ socket, first: head.length > 0 ? Promise.resolve(head) : new Promise((r) => socket.once('data', (d: Buffer) => r(d))) }),
    )
    req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)))
    req.on('error', reject)
    req.end()
  })
}

describe('startNode in a cluster', () => {
  it('builds the membership, syncs with its peers, counts connections, and closes peers before the log', async () => {
    const a = await startNode(configIn(mkdtempSync(join(tmpdir(), 'ylog-node-')), ['--open-membership']), silent)
    const b = await startNode(
      configIn(mkdtempSync(join(tmpdir(), 'ylog-node-')), ['--open-membership', '--peer', `ws://127.0.0.1:${a.port}/sync`]),
      silent,
    )
    try {
      expect(a.durable.membership.describe()).toEqual({ mode: 'open' })
      await append(a.url, 1)
      await append(b.url, 2)
      await until(() => a.durable.committedLength(b.node) === 1 && b.durable.committedLength(a.node) === 1, 'both entries on both nodes')
      expect(b.cluster.peers()).toEqual([expect.objectContaining({ url: `ws://127.0.0.1:${a.port}/sync`, state: 'open', node: a.node })])
      expect(a.cluster.connections()).toEqual([expect.objectContaining({ node: b.node })])
      const scrape = async (url: string) => await (await fetch(`${url}/metrics`)).text()
      expect(await scrape(a.url)).toMatch(/^ylog_sync_connections 1$/m)
      expect(await scrape(b.url)).toMatch(/^ylog_sync_connections 1$/m)
    } finally {
      await b.close()
      await a.close()
    }
  })

  it('is the only member without --member or --open-membership, adds itself to a list, and warns about peers without members', async () => {
    const lonely = recordingLogger()
    const node = await startNode(configIn(mkdtempSync(join(tmpdir(), 'ylog-node-')), ['--peer', 'ws://127.0.0.1:9/sync']), lonely.logger)
    expect(node.durable.membership.describe()).toEqual({ mode: 'list', members: [node.node] })
    expect(lonely.records.some((r) => r.level === 40 && String(r.msg).startsWith('peers are configured but no members'))).toBe(true)
    await node.close()

    const other = 'ab'.repeat(32)
    const listed = recordingLogger()
    const second = await startNode(
      configIn(mkdtempSync(join(tmpdir(), 'ylog-node-')), ['--member', other, '--peer', 'ws://127.0.0.1:9/sync']),
      listed.logger,
    )
    expect(second.durable.membership.describe()).toEqual({ mode: 'list', members: [other, second.node].sort() })
    expect(listed.records.some((r) => r.level === 40)).toBe(false)
    await second.close()
  })

  it('counts a refused peer in ylog_refused_updates_total', async () => {
    const a = await startNode(configIn(mkdtempSync(join(tmpdir(), 'ylog-node-'))), silent)
    const b = await startNode(
      configIn(mkdtempSync(join(tmpdir(), 'ylog-node-')), ['--open-membership', '--peer', `ws://127.0.0.1:${a.port}/sync`]),
      silent,
    )
    try {
      // A lists only itself, so B's handshake fails there.
      const refused = async () =>
        /^ylog_refused_updates_total\{reason="auth-failed"\} [1-9]/m.test(await (await fetch(`${a.url}/metrics`)).text())
      await until(refused, 'a refusal on A')
      expect(b.cluster.peers()[0]?.state).not.toBe('open')
    } finally {
      await b.close()
      await a.close()
    }
  })

  const external = Object.values(networkInterfaces())
    .flat()
    .find((i) => i !== undefined && i.family === 'IPv4' && !i.internal)?.address
  it.skipIf(external === undefined)(
    'with --read-only-sync loopback, serves unauthenticated readers on loopback only',
    { timeout: 20_000 },
    async () => {
      const node = await startNode(configIn(mkdtempSync(join(tmpdir(), 'ylog-node-')), ['--host', '0.0.0.0', '--write-token', 't']), silent)
      try {
        const local = await upgrade(node.port, '/sync/ylog', '127.0.0.1')
        // A reader gets the node's sync step 1 at once: a binary frame.
        expect(((await local.first)[0] ?? 0) & 0x0f).toBe(0x2)
        const remote = await upgrade(node.port, '/sync/ylog', external as string)
        // From elsewhere nothing is sent until the handshake timeout closes it (a close frame).
        expect(((await remote.first)[0] ?? 0) & 0x0f).toBe(0x8)
        expect(await (await fetch(`${node.url.replace('0.0.0.0', '127.0.0.1')}/metrics`)).text()).toMatch(
          /^ylog_refused_updates_total\{reason="auth-timeout"\} 1$/m,
        )
        local.socket.destroy()
        remote.socket.destroy()
      } finally {
        await node.close()
      }
    },
  )
})
