// `npm start` and the `ylog-node` bin, run as npm runs them: the node must stop
// with whatever started it, and give its data directory's lock back.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { attach, ROOT, tempDir, type RunningNode } from './support/node-process.js'

const LAUNCHER = join(ROOT, 'apps', 'node', 'bin', 'ylog-node.js')
const STOP_DEADLINE_MS = 15_000

// Nodes whose launcher did not stop them (the bug these tests are about) must not outlive the run.
const nodePids: number[] = []
afterEach(() => {
  for (const pid of nodePids.splice(0)) if (isAlive(pid)) process.kill(pid, 'SIGKILL')
})

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

interface Started {
  child: ChildProcess
  node: RunningNode
  /** The daemon's own pid, from its ready line. */
  pid: number
  data: string
  stdout: () => string
  stderr: () => string
  /** Resolves once every process holding the output pipe (npm, its shell, the launcher, the node) has closed it. */
  drained: Promise<void>
}

async function start(command: string, args: string[], options: { detached?: boolean } = {}): Promise<Started> {
  const data = join(tempDir(), 'data')
  const child = spawn(command, [...args, '--port', '0', '--data', data], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  })
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
  const drained = Promise.all([ended(child.stdout), ended(child.stderr)]).then(() => undefined)
  const node = await attach(child, 60_000)
  const ready = node.logs.find((r) => r.msg === 'ready')
  const pid = ready?.pid as number
  nodePids.push(pid)
  return { child, node, pid, data, stdout: () => stdout, stderr: () => stderr, drained }
}

function ended(stream: Readable | null): Promise<void> {
  return new Promise((resolve) => (stream === null ? resolve() : stream.once('close', () => resolve())))
}

/** Waits for the node to be gone, or fails naming what is still there. */
async function stopped(run: Started): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), STOP_DEADLINE_MS)))
  const outcome = await Promise.race([run.drained.then(() => 'drained' as const), deadline])
  clearTimeout(timer)
  if (outcome === 'late')
    throw new Error(
      `node ${run.pid} still holds its output ${STOP_DEADLINE_MS} ms after its parent was stopped (alive: ${isAlive(run.pid)})`,
    )
  // Its output closed after its last line; whether an orphan has been reaped yet is up to init, so not asked here.
  expect(run.stdout()).toContain('"msg":"stopped"')
  expect(existsSync(join(run.data, 'ylog.lock'))).toBe(false)
}

describe('npm start', () => {
  it('stops the node and releases the lock when npm alone is sent SIGTERM', async () => {
    const run = await start('npm', ['start', '--'])
    // Only npm: it signals its shell, which dies without passing the signal on.
    run.child.kill('SIGTERM')
    await stopped(run)
  })

  it('stops cleanly when the whole process group gets SIGINT (Ctrl-C): one signal for the node, not two', async () => {
    const run = await start('npm', ['start', '--'], { detached: true })
    process.kill(-(run.child.pid as number), 'SIGINT')
    await stopped(run)
    expect(run.stderr()).not.toContain('second SIGINT')
  })
})

describe('the ylog-node bin', () => {
  it('runs through npx and prints its usage', () => {
    const r = spawnSync('npx', ['ylog-node', '--help'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(r.stdout).toContain('--write-token')
  })

  it('serves under npx and stops when npx is sent SIGTERM', async () => {
    const run = await start('npx', ['ylog-node'])
    const res = await fetch(`${run.node.url}/api/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"topic":"t","kind":"event","data":1}',
    })
    expect(res.status).toBe(201)
    run.child.kill('SIGTERM')
    await stopped(run)
  })

  it('stops the node when the launcher is killed outright', async () => {
    const run = await start(process.execPath, [LAUNCHER])
    run.child.kill('SIGKILL')
    await stopped(run)
  })

  it('exits with the node’s status: 0 after SIGTERM', async () => {
    const run = await start(process.execPath, [LAUNCHER])
    run.child.kill('SIGTERM')
    expect(await run.node.exited).toBe(0)
    await stopped(run)
  })
})
