// `ylog tail` against real nodes: the seed's tail tests (last N, new events only, nothing new, several sources),
// dedupe across a cluster, 100 forced disconnects through the fault proxy, and 10 resets detected.
import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import { waitFor } from '@ylog/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseSource } from '../apps/cli/src/tail/tail.js'
import { FaultProxy } from './support/fault-proxy.js'
import { postEvent, readAll, startNode, tempDir, type RunningNode } from './support/node-process.js'
import { runTail } from './support/tail-run.js'

let a: RunningNode
let b: RunningNode
let twin: RunningNode
let stranger: RunningNode
const running: RunningNode[] = []

beforeAll(async () => {
  const dirA = tempDir()
  a = await startNode(['--data', dirA, '--store', 'memory'])
  const dirTwin = tempDir()
  // The same key in another process with its own (shorter) log: the node as if restarted on an older copy of its data.
  copyFileSync(join(dirA, 'node.key'), join(dirTwin, 'node.key'))
  ;[b, twin, stranger] = await Promise.all([
    startNode(['--data', tempDir(), '--store', 'memory']),
    startNode(['--data', dirTwin, '--store', 'memory']),
    startNode(['--data', tempDir(), '--store', 'memory']),
  ])
  running.push(a, b, twin, stranger)
})
afterAll(async () => {
  await Promise.all(running.map((n) => n.stop()))
})

describe('ylog tail (the seed tests)', () => {
  it('prints the last N of a source: 20 appended, last 5 → entries 15-19', async () => {
    for (let i = 0; i < 20; i++) await postEvent(a.url, { id: `1.${i}` }, 'seed.lastn')
    const r = runTail({ sources: [parseSource(`main=${a.url}`)], last: 5, topic: 'seed.lastn' })
    await r.done
    expect(r.entries()).toEqual([15, 16, 17, 18, 19].map((i) => `main {"id":"1.${i}"}`))
    expect(r.presence).toEqual(['+ main'])
  })

  it('following, prints only the new events, in order', async () => {
    await postEvent(a.url, { id: 'n.1' }, 'seed.new')
    const r = runTail({ sources: [parseSource(`main=${a.url}`)], follow: true, topic: 'seed.new' })
    await waitFor(() => r.items.length === 1, 'the first entry')
    await postEvent(a.url, { id: 'n.2' }, 'seed.new')
    await postEvent(a.url, { id: 'n.3' }, 'seed.new')
    await waitFor(
      () => r.items.length === 3,
      () => JSON.stringify(r.entries()),
    )
    await r.stop()
    expect(r.entries()).toEqual(['main {"id":"n.1"}', 'main {"id":"n.2"}', 'main {"id":"n.3"}'])
  })

  it('prints nothing new when nothing was appended', async () => {
    await postEvent(a.url, { id: 'q.1' }, 'seed.quiet')
    const r = runTail({ sources: [parseSource(`main=${a.url}`)], follow: true, topic: 'seed.quiet' })
    await waitFor(() => r.items.length === 1, 'the first entry')
    // An append to another topic goes through the same stream: once it is past, nothing new was printed.
    const marker = runTail({ sources: [parseSource(a.url)], follow: true, last: 0 })
    await waitFor(() => marker.presence.length === 1, 'the second tail connected')
    await postEvent(a.url, { other: true }, 'seed.other')
    await waitFor(() => marker.items.length === 1, 'the other append')
    await Promise.all([r.stop(), marker.stop()])
    expect(r.entries()).toEqual(['main {"id":"q.1"}'])
  })

  it('follows several sources, each line labelled, the last N of each', async () => {
    await postEvent(a.url, { from: 'a' }, 'seed.multi')
    await postEvent(b.url, { from: 'b' }, 'seed.multi')
    const r = runTail({ sources: [parseSource(`x=${a.url}`), parseSource(`y=${b.url}`)], follow: true, last: 1, topic: 'seed.multi' })
    await waitFor(() => r.items.length === 2, 'the last of each')
    await postEvent(b.url, { from: 'b', live: true }, 'seed.multi')
    await waitFor(() => r.items.length === 3, 'the live one')
    await r.stop()
    expect(r.entries().sort()).toEqual(['x {"from":"a"}', 'y {"from":"b","live":true}', 'y {"from":"b"}'])
    expect(r.presence.sort()).toEqual(['+ x', '+ y'])
  })

  it('prints an entry once when two sources deliver it, and twice with dedupe off', async () => {
    const once = runTail({ sources: [parseSource(`p=${a.url}`), parseSource(`q=${a.url}`)], last: 3 })
    await once.done
    expect(once.items).toHaveLength(3)
    const twice = runTail({ sources: [parseSource(`p=${a.url}`), parseSource(`q=${a.url}`)], last: 3, dedupe: false })
    await twice.done
    expect(twice.items).toHaveLength(6)
  })
})

describe('ylog tail through faults', () => {
  it('100 forced disconnects while appending: every entry printed once, none missed', async () => {
    const proxy = await FaultProxy.start(new URL(b.url).port as unknown as number)
    try {
      const r = runTail({ sources: [parseSource(`b=http://127.0.0.1:${proxy.port}`)], follow: true, last: 0, topic: 'fault.tail' })
      await waitFor(() => r.presence.length === 1, 'connected')
      for (let i = 0; i < 100; i++) {
        await waitFor(() => r.presence.length === 2 * i + 1, `connected again after ${i} disconnects`)
        await postEvent(b.url, { i }, 'fault.tail')
        // Alternate a FIN and an RST, some with an append in between (the stream is mid-flight), some without.
        if (i % 2 === 0) proxy.cut()
        else proxy.reset()
        if (i % 3 === 0) await postEvent(b.url, { i, extra: true }, 'fault.tail')
      }
      const log = (await readAll(b.url)).filter((e) => e.topic === 'fault.tail')
      await waitFor(
        () => r.items.length >= log.length,
        () => `${r.items.length} of ${log.length} printed`,
        { timeoutMs: 20_000 },
      )
      await r.stop()
      const printed = r.items.map((i) => (i.type === 'entry' ? `${i.entry.node}:${i.entry.seq}` : i.type))
      expect(printed).toEqual(log.map((e) => `${e.node}:${e.seq}`))
      expect(r.presence.filter((p) => p.startsWith('-'))).toHaveLength(100)
    } finally {
      await proxy.close()
    }
  })

  it('10 resets (the node on an older copy of its data, another node at the URL), each announced, then the last N again', async () => {
    const port = (n: RunningNode): number => Number(new URL(n.url).port)
    const proxy = await FaultProxy.start(port(a))
    try {
      const r = runTail({ sources: [parseSource(`s=http://127.0.0.1:${proxy.port}`)], follow: true, last: 1 })
      await waitFor(() => r.items.length === 1, 'the last entry of a')
      // Each step: the URL now answers with another log; something is appended there so the new log has its own last entry.
      const order = [twin, a, stranger, twin, a, twin, stranger, a, twin, a]
      for (const [step, next] of order.entries()) {
        const before = r.items.filter((i) => i.type === 'reset').length
        proxy.target = port(next)
        await postEvent(next.url, { step }, 'reset.step')
        proxy.cut()
        await waitFor(
          () => r.items.filter((i) => i.type === 'reset').length === before + 1,
          () => `reset ${step + 1}: ${JSON.stringify(r.items.slice(-3))}`,
        )
        await waitFor(() => JSON.stringify(r.items.at(-1)).includes(`"step":${step}`), `the last entry after reset ${step + 1}`)
      }
      await r.stop()
      const resets = r.items.flatMap((i) => (i.type === 'reset' ? [i.reason] : []))
      expect(resets).toHaveLength(10)
      expect(resets.some((x) => x.startsWith('another node answers'))).toBe(true)
      expect(resets.some((x) => x.startsWith('shorter heads') || x.includes('another hash'))).toBe(true)
    } finally {
      await proxy.close()
    }
  })
})
