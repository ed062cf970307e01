// `ylog forward` following sources against a real node: a file rotated by rename and one truncated while followed,
// a new file appearing in a watched directory, stdin, --metrics-port, and SIGTERM finishing the batch in flight.
import { spawn } from 'node:child_process'
import { appendFileSync, mkdirSync, renameSync, truncateSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { waitFor } from '@ylog/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkpointPath, readCheckpoint } from '../apps/cli/src/forward/checkpoint.js'
import type { LineSource } from '../apps/cli/src/forward/forwarder.js'
import { lineToEvent } from '../apps/cli/src/forward/line-event.js'
import { runForward, type RunOptions } from '../apps/cli/src/forward/run.js'
import { FollowedFile, StdinSource } from '../apps/cli/src/forward/sources.js'
import { readAll, ROOT, startNode, tempDir, type RunningNode } from './support/node-process.js'

let node: RunningNode

beforeAll(async () => {
  node = await startNode(['--data', tempDir(), '--store', 'memory'])
})
afterAll(async () => {
  await node.stop()
})

const lines = (topic: string, from: number, to: number): string =>
  Array.from({ length: to - from }, (_, k) => `${JSON.stringify({ topic, data: { i: from + k } })}\n`).join('')

async function held(topic: string): Promise<number[]> {
  return (await readAll(node.url)).filter((e) => e.topic === topic).map((e) => (e.data as { i: number }).i)
}

/** Runs the forwarder in this process until `stop()`; notices and progress collected. */
function follow(sources: LineSource[], dir: string, extra: Partial<RunOptions> = {}, add?: (a: (s: LineSource) => void) => void) {
  const controller = new AbortController()
  const notices: string[] = []
  const done = runForward(
    sources,
    {
      url: node.url,
      timeoutMs: 5000,
      retry: { maxRetries: 3, baseMs: 10, capMs: 50 },
      batchCount: 100,
      batchBytes: 512 * 1024,
      lingerMs: 20,
      follow: true,
      fromEnd: false,
      toEvent: (text) => lineToEvent(text, { timeField: 'time' }),
      checkpointDir: join(dir, 'ckpt'),
      signal: controller.signal,
      onNotice: (t) => notices.push(t),
      onProgress: () => undefined,
      ...extra,
    },
    add,
  )
  return {
    notices,
    done,
    stop: async () => {
      controller.abort()
      return done
    },
  }
}

describe('ylog forward, following', () => {
  it('a file rotated by rename, then the new one truncated: every line once, both announced', async () => {
    const dir = tempDir()
    const file = join(dir, 'app.ndjson')
    writeFileSync(file, lines('fol.rot', 0, 5))
    const notices: string[] = []
    const again = follow([new FollowedFile(file, (t) => notices.push(t))], dir)
    await waitFor(async () => (await held('fol.rot')).length === 5, 'the first 5')
    appendFileSync(file, lines('fol.rot', 5, 7))
    renameSync(file, `${file}.1`)
    appendFileSync(`${file}.1`, lines('fol.rot', 7, 8))
    writeFileSync(file, lines('fol.rot', 8, 10))
    await waitFor(
      async () => (await held('fol.rot')).length === 10,
      async () => JSON.stringify(await held('fol.rot')),
    )
    truncateSync(file, 0)
    writeFileSync(file, lines('fol.rot', 10, 11))
    await waitFor(
      async () => (await held('fol.rot')).length === 11,
      async () => JSON.stringify(await held('fol.rot')),
    )
    await again.stop()
    expect(await held('fol.rot')).toEqual(Array.from({ length: 11 }, (_, i) => i))
    expect(notices.join('\n')).toMatch(/has been replaced; following the new file\n.*file truncated; reading it from 0/)
  })

  it('a new file in a watched directory becomes a source; stdin is one too', async () => {
    const dir = tempDir()
    const watched = join(dir, 'in')
    mkdirSync(watched)
    writeFileSync(join(watched, 'a.ndjson'), lines('fol.dir', 0, 2))
    const stdin = new PassThrough()
    let addSource: ((s: LineSource) => void) | undefined
    const sources = [new FollowedFile(join(watched, 'a.ndjson'), () => undefined), new StdinSource(stdin)]
    const run = follow(sources, dir, {}, (a) => (addSource = a))
    stdin.write(lines('fol.stdin', 0, 3))
    await waitFor(async () => (await held('fol.dir')).length === 2 && (await held('fol.stdin')).length === 3, 'a and stdin')
    writeFileSync(join(watched, 'b.ndjson'), lines('fol.dir', 2, 4))
    // What the command's directory watch does when it sees b.ndjson.
    addSource?.(new FollowedFile(join(watched, 'b.ndjson'), () => undefined))
    stdin.end(lines('fol.stdin', 3, 4).trimEnd())
    const all = async (): Promise<boolean> => (await held('fol.dir')).length === 4 && (await held('fol.stdin')).length === 4
    await waitFor(all, 'b and the last stdin line')
    await run.stop()
    expect((await held('fol.dir')).sort()).toEqual([0, 1, 2, 3])
    expect(await held('fol.stdin')).toEqual([0, 1, 2, 3])
  })
})

describe('ylog forward, the command', () => {
  it('serves --metrics-port, and SIGTERM finishes the batch in flight and writes the checkpoint', async () => {
    const dir = tempDir()
    const file = join(dir, 'app.ndjson')
    writeFileSync(file, lines('fol.term', 0, 50))
    const port = await freePort()
    const args = ['forward', '--linger', '0', '--batch', '10', '--checkpoint-dir', join(dir, 'ckpt'), '--metrics-port', String(port), file]
    const main = join(ROOT, 'apps', 'cli', 'src', 'main.ts')
    const child = spawn(process.execPath, ['--conditions=ylog-source', '--import', 'tsx', main, ...args], {
      cwd: ROOT,
      env: { ...process.env, YLOG_URL: node.url, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    await waitFor(async () => (await held('fol.term')).length === 50, 'the 50 lines')
    let metrics = ''
    await waitFor(
      async () => {
        metrics = (await (await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined))?.text()) ?? ''
        return /ylog_forward_forwarded_total\{source="[^"]+"\} 50/.test(metrics)
      },
      () => metrics,
    )
    expect(metrics).toMatch(/ylog_forward_lag_bytes\{source="[^"]+"\} 0/)
    // A batch is in flight when the signal comes: the lines just appended.
    appendFileSync(file, lines('fol.term', 50, 60))
    await new Promise((resolve) => setTimeout(resolve, 30))
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
    const ckpt = readCheckpoint(checkpointPath(join(dir, 'ckpt'), file, node.url))
    const forwarded = await held('fol.term')
    expect(ckpt?.inflight).toBeUndefined()
    expect(forwarded).toEqual(Array.from({ length: forwarded.length }, (_, i) => i))
    // The checkpoint is right where the node's entries end: a restart neither repeats nor skips.
    const ends = [50, 60].map((n) => Buffer.byteLength(lines('fol.term', 0, n)))
    expect(ends).toContain(ckpt?.offset)
    expect(ckpt?.offset).toBe(Buffer.byteLength(lines('fol.term', 0, forwarded.length)))
  })
})

/** A port nothing listens on now (the forwarder binds it a moment later). */
async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}
