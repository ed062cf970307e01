// A real disk that fills up: a 6 MB tmpfs (needs root to mount), the real daemon as a child process, and a ballast file
// to delete when the test "frees space". Without root the cases say why they did not run, and pass.
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { waitFor } from '@ylog/core/testing'
import { readAll, startNode, type RunningNode } from './support/node-process.js'
import { mountSmallDisk, SKIPPED, unmountSmallDisks } from './support/small-disk.js'

const nodes: RunningNode[] = []

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)))
  unmountSmallDisks()
})

const body = (i: number): string => JSON.stringify({ topic: 'pressure', kind: 'event', data: { i, pad: 'x'.repeat(1000) } })

async function post(url: string, i: number): Promise<Response> {
  return fetch(`${url}/api/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(i) })
}

async function readyz(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/readyz`)
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

describe('a node whose disk fills up (6 MB tmpfs)', () => {
  it('refuses writes with STORE_FULL while full, recovers by itself when space returns, and loses nothing acknowledged', async () => {
    const disk = mountSmallDisk()
    if (disk === undefined) return console.warn(SKIPPED)
    // Ballast, so the test can free space the way an operator would.
    writeFileSync(join(disk, 'ballast'), Buffer.alloc(1536 * 1024, 1))
    const data = join(disk, 'node')
    const node = await startNode(['--data', data])
    nodes.push(node)
    const acked: number[] = []
    let refused: { status: number; error: { code: string; message: string } } | undefined
    for (let i = 0; i < 20_000 && refused === undefined; i++) {
      const res = await post(node.url, i)
      if (res.status === 201) acked.push(((await res.json()) as { seq: number }).seq)
      else refused = { status: res.status, ...((await res.json()) as { error: { code: string; message: string } }) }
    }
    expect(refused).toMatchObject({ status: 503, error: { code: 'STORE_FULL' } })
    // The error names the file and the cause.
    expect(refused?.error.message).toContain(join(data, 'ylog.db'))
    expect(refused?.error.message).toMatch(/disk is full/)
    await waitFor(async () => ((await readyz(node.url)).body.attempts as number) >= 1, 'a retry while still full')
    const notReady = await readyz(node.url)
    expect(notReady).toMatchObject({ status: 503, body: { ok: false, store: 'retrying', code: 'STORE_FULL' } })
    expect(typeof notReady.body.lastTryAt).toBe('string')
    // Nothing half-written is served: exactly the acknowledged entries.
    expect((await readAll(node.url)).map((e) => e.seq)).toEqual(acked)

    rmSync(join(disk, 'ballast'))
    await waitFor(async () => (await readyz(node.url)).status === 200, 'ready again once space returned', { timeoutMs: 20_000 })
    const res = await post(node.url, -1)
    expect(res.status, await res.clone().text()).toBe(201)
    // The failed entry's seq is signed again: the chain stays contiguous.
    expect(((await res.json()) as { seq: number }).seq).toBe(acked.length)
    const metrics = await (await fetch(`${node.url}/metrics`)).text()
    expect(metrics).toMatch(/ylog_store_failures_total\{code="STORE_FULL"\} [1-9]/)
    expect(metrics).toMatch(/ylog_store_recoveries_total [1-9]/)

    expect(await node.stop(), node.stderr()).toBe(0)
    const again = await startNode(['--data', data])
    nodes.push(again)
    const entries = await readAll(again.url)
    expect(entries.map((e) => e.seq)).toEqual([...acked, acked.length])
    const verify = await (await fetch(`${again.url}/api/heads`)).json()
    expect(verify).toMatchObject({ heads: [{ length: acked.length + 1 }] })
    await again.stop()
  }, 40_000)
})
