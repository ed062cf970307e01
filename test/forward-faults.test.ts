// `ylog forward` through faults, as real processes: a node behind the TCP fault proxy, the forwarder killed with
// SIGKILL at seeded points and restarted with batches cut differently, drops, resets, delayed answers (the node
// commits, the forwarder times out), and the node itself killed. Afterwards the node holds every line exactly
// once, in source order, and the checkpoint's counters add up (forwarded + duplicates = lines).
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { seededRandom } from '@ylog/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readCheckpoint, checkpointPath } from '../apps/cli/src/forward/checkpoint.js'
import { FaultProxy } from './support/fault-proxy.js'
import { readAll, ROOT, startNode, tempDir, type RunningNode } from './support/node-process.js'

const MAIN = join(ROOT, 'apps', 'cli', 'src', 'main.ts')
const SCHEDULES = 20
const LINES = 60
let node: RunningNode
let data: string
let proxy: FaultProxy

beforeAll(async () => {
  data = tempDir()
  node = await startNode(['--data', data])
  proxy = await FaultProxy.start(Number(new URL(node.url).port))
  // Every answer is a little late, so a forwarder run takes long enough to be killed in the middle.
  proxy.delay(15)
})
afterAll(async () => {
  await proxy.close()
  await node.stop()
})

function forwarder(file: string, dir: string, batch: number): { child: ChildProcess; exited: Promise<number | null> } {
  const child = spawn(
    process.execPath,
    [
      '--conditions=ylog-source',
      '--import',
      'tsx',
      MAIN,
      'forward',
      '--exit-at-end',
      '--linger',
      '0',
      '--batch',
      String(batch),
      '--timeout',
      '250',
      '--checkpoint-dir',
      dir,
      file,
    ],
    { cwd: ROOT, env: { ...process.env, YLOG_URL: `http://127.0.0.1:${proxy.port}`, NO_COLOR: '1' }, stdio: ['ignore', 'ignore', 'pipe'] },
  )
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal === 'SIGKILL' ? -9 : code)))
  void exited.then((code) => {
    if (code !== 0 && code !== -9) console.error(`forwarder exited ${code}: ${stderr}`)
  })
  return { child, exited }
}

async function restartNode(): Promise<void> {
  await node.crash()
  node = await startNode(['--data', data])
  proxy.target = Number(new URL(node.url).port)
}

describe('ylog forward through faults', () => {
  it(`${SCHEDULES} seeded schedules: every line exactly once, in order, counters add up`, { timeout: 120_000 }, async () => {
    let duplicates = 0
    for (let seed = 1; seed <= SCHEDULES; seed++) {
      const random = seededRandom(seed)
      const dir = tempDir()
      const file = join(dir, 'events.ndjson')
      const topic = `fwd.fault.${seed}`
      writeFileSync(file, Array.from({ length: LINES }, (_, i) => `${JSON.stringify({ topic, data: { seed, i } })}\n`).join(''))
      const plan: string[] = []
      let done = false
      for (let attempt = 0; !done; attempt++) {
        const run = forwarder(file, join(dir, 'ckpt'), 2 + Math.floor(random() * 9))
        const kill = attempt < 2 && random() < 0.7
        const fault = Math.floor(random() * 5)
        const at = 500 + Math.floor(random() * 500)
        const timer = setTimeout(() => {
          if (kill) {
            plan.push(`kill@${at}`)
            run.child.kill('SIGKILL')
          }
          if (fault === 1) {
            plan.push('reset')
            proxy.reset()
          }
          if (fault === 2) {
            plan.push('cut')
            proxy.cut()
          }
          if (fault === 3) {
            // Answers later than the forwarder's timeout: the node commits, the forwarder retries, the node replays.
            plan.push('slow')
            proxy.delay(400)
            setTimeout(() => proxy.delay(15), 700)
          }
        }, at)
        let nodeKilled: Promise<void> | undefined
        if (fault === 4 && seed % 4 === 0 && attempt === 0) {
          plan.push('node -9')
          nodeKilled = new Promise((resolve) => setTimeout(() => void restartNode().then(resolve), at))
        }
        const code = await run.exited
        clearTimeout(timer)
        await nodeKilled
        proxy.delay(15)
        done = code === 0
        expect(code === 0 || code === -9, `forwarder exit ${code} (seed ${seed}, ${plan.join(' ')})`).toBe(true)
      }
      const entries = (await readAll(node.url)).filter((e) => e.topic === topic)
      expect(
        entries.map((e) => (e.data as { i: number }).i),
        `seed ${seed}: ${plan.join(' ')}`,
      ).toEqual(Array.from({ length: LINES }, (_, i) => i))
      const ckpt = readCheckpoint(checkpointPath(join(dir, 'ckpt'), file, `http://127.0.0.1:${proxy.port}`))
      expect(ckpt?.inflight).toBeUndefined()
      expect((ckpt?.forwarded ?? 0) + (ckpt?.duplicates ?? 0), `seed ${seed}: ${plan.join(' ')}`).toBe(LINES)
      expect(ckpt?.offset).toBe(readFileSync(file).length)
      duplicates += ckpt?.duplicates ?? 0
    }
    // Batches the node committed and the forwarder did not record (killed, or timed out) were sent again and replayed.
    expect(duplicates).toBeGreaterThan(0)
  })
})
