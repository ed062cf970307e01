// The README's first command, run the way a new user runs it.
import { spawn } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { attach, ROOT, tempDir } from './support/node-process.js'

it('`npm start` comes up ready on a fresh data directory and serves an append', async () => {
  const data = join(tempDir(), '.ylog')
  const child = spawn('npm', ['start', '--silent'], {
    cwd: ROOT,
    env: { ...process.env, YLOG_DATA: data, YLOG_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  const node = await attach(child, 60_000)
  try {
    expect(node.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(statSync(join(data, 'node.key')).mode & 0o777).toBe(0o600)
    const res = await fetch(`${node.url}/api/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ topic: 'hello', kind: 'event', data: { from: 'readme' } }),
    })
    expect(res.status).toBe(201)
    expect(await res.json()).toMatchObject({ node: node.node, seq: 0 })
    expect((await fetch(`${node.url}/readyz`)).status).toBe(200)
  } finally {
    process.kill(-(child.pid as number), 'SIGTERM')
    await node.exited
  }
  expect(existsSync(join(data, 'ylog.db'))).toBe(true)
})
