import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { reachableHost } from './node.js'

// What the launcher behind "npm start" (bin/ylog-node.js) runs, without the launcher and npm in between.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')
const main = join(root, 'apps/node/src/main.ts')

interface Run {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

const children: ChildProcess[] = []
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
})

function run(args: string[], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, ['--conditions=ylog-source', '--import', 'tsx', main, ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  let out = ''
  let err = ''
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()))
  child.stderr?.on('data', (b: Buffer) => (err += b.toString()))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.on('exit', (code, signal) => done({ code, signal })),
  )
  return { child, stdout: () => out, stderr: () => err, exited }
}

async function readyLine(r: Run): Promise<Record<string, unknown>> {
  for (let i = 0; i < 300; i++) {
    const line = r
      .stdout()
      .split('\n')
      .find((l) => l.includes('"msg":"ready"'))
    if (line !== undefined) return JSON.parse(line) as Record<string, unknown>
    if (r.child.exitCode !== null) throw new Error(`exited ${r.child.exitCode}: ${r.stderr()}`)
    await new Promise((done) => setTimeout(done, 50))
  }
  throw new Error(`no ready line: ${r.stdout()} ${r.stderr()}`)
}

const dataDir = (): string => join(mkdtempSync(join(tmpdir(), 'ylog-main-')), 'data')

describe('main', () => {
  it('logs one ready line with url, port, node and replaySeconds, serves, and exits 0 on SIGTERM', async () => {
    const r = run(['--port', '0', '--durability', 'normal'], { YLOG_DATA: dataDir() })
    const ready = await readyLine(r)
    expect(ready).toMatchObject({
      msg: 'ready',
      level: 30,
      url: `http://127.0.0.1:${ready.port as number}`,
      node: expect.stringMatching(/^[0-9a-f]{64}$/),
      replaySeconds: expect.any(Number),
    })
    expect(
      r
        .stdout()
        .split('\n')
        .filter((l) => l.includes('"msg":"ready"')),
    ).toHaveLength(1)
    const res = await fetch(`${ready.url as string}/api/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"topic":"t","kind":"event","data":1}',
    })
    expect(res.status).toBe(201)
    r.child.kill('SIGTERM')
    expect(await r.exited).toEqual({ code: 0, signal: null })
    expect(r.stdout()).toContain('"msg":"stopped"')
    expect(r.stderr()).toBe('')
  })

  it('exits 0 on SIGINT too', async () => {
    const r = run(['--port', '0', '--data', dataDir()])
    await readyLine(r)
    r.child.kill('SIGINT')
    expect((await r.exited).code).toBe(0)
  })

  it('exits 2 with one "ylog: " line for a configuration error', async () => {
    const r = run(['--port', 'abc'])
    expect((await r.exited).code).toBe(2)
    expect(r.stderr()).toBe('ylog: --port "abc" is not a port: use an integer 0-65535\nylog: see --help\n')
    expect(r.stdout()).toBe('')
  })

  it('exits 2 for a non-loopback host without a token', async () => {
    const r = run(['--host', '0.0.0.0'])
    expect((await r.exited).code).toBe(2)
    expect(r.stderr()).toMatch(/^ylog: refusing to listen on 0\.0\.0\.0 without a write token/)
  })

  it('exits 1 without a stack for a corrupt store', async () => {
    const data = mkdtempSync(join(tmpdir(), 'ylog-main-'))
    writeFileSync(join(data, 'ylog.db'), 'not a database '.repeat(100))
    const r = run(['--port', '0', '--data', data])
    expect((await r.exited).code).toBe(1)
    const lines = r.stderr().trimEnd().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^ylog: .*ylog\.db/)
    expect(r.stderr()).not.toMatch(/\n\s+at /)
  })

  it('exits 1 without a stack when the port is taken', async () => {
    const first = run(['--port', '0', '--data', dataDir()])
    const ready = await readyLine(first)
    const data = dataDir()
    const second = run(['--port', String(ready.port), '--data', data])
    expect((await second.exited).code).toBe(1)
    expect(second.stderr()).toBe(
      `ylog: cannot listen on 127.0.0.1:${ready.port as number}: the address is already in use (another node?); choose another ` +
        `--port, or 0 for any free one\n`,
    )
    // The address is checked before anything is created: no new key, no database, not even the directory.
    expect(existsSync(data)).toBe(false)
    first.child.kill('SIGTERM')
    expect((await first.exited).code).toBe(0)
  })

  it('shows a URL a user can open in the ready line when it listens on every address', async () => {
    const r = run(['--host', '0.0.0.0', '--write-token', 'secret', '--port', '0', '--data', dataDir()])
    const ready = await readyLine(r)
    expect(ready.url).toBe(`http://127.0.0.1:${ready.port as number}`)
    expect((await fetch(`${ready.url as string}/healthz`)).status).toBe(200)
    r.child.kill('SIGTERM')
    expect((await r.exited).code).toBe(0)
  })

  it('names loopback for wildcard addresses and brackets IPv6 ones', () => {
    expect(reachableHost('0.0.0.0')).toBe('127.0.0.1')
    expect(reachableHost('::')).toBe('[::1]')
    expect(reachableHost('[::]')).toBe('[::1]')
    expect(reachableHost('0:0:0:0:0:0:0:0')).toBe('[::1]')
    expect(reachableHost('::1')).toBe('[::1]')
    expect(reachableHost('fe80::1')).toBe('[fe80::1]')
    expect(reachableHost('127.0.0.1')).toBe('127.0.0.1')
    expect(reachableHost('localhost')).toBe('localhost')
  })

  it('prints usage for --help', async () => {
    const r = run(['--help'])
    expect((await r.exited).code).toBe(0)
    expect(r.stdout()).toContain('--write-token')
    expect(r.stdout()).toContain('--read-only-sync loopback|any|none')
  })
})
