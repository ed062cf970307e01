// Console figures in Debian's Chromium (playwright-core): POST -> row visible
// at 100 events/s, the page's JS heap after 100,000 streamed entries, and the
// first load of the live log against a node holding 1M entries.
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { DurableLog, NodeIdentity } from '@ylog/core'
import { ThreadedSqliteStore } from '@ylog/sqlite'
import { percentile, rate, report, sampleData, tempDir, type Figures } from '../harness.js'
import { ensureConsoleBuilt, launch } from '../../test/support/console-browser.js'
import { startNode } from '../../test/support/node-process.js'

const SECONDS = Number(process.env.YLOG_BENCH_CONSOLE_SECONDS ?? 30)
const PER_SECOND = 100
const STREAMED = Number(process.env.YLOG_BENCH_CONSOLE_STREAMED ?? 100_000)
const ENTRIES = Number(process.env.YLOG_BENCH_CONSOLE_ENTRIES ?? 1_000_000)
const LOADS = 5
const figures: Figures = {}

async function heapMb(page: Page): Promise<number> {
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('HeapProfiler.collectGarbage')
  const { usedSize } = await cdp.send('Runtime.getHeapUsage')
  await cdp.detach()
  return Number((usedSize / 2 ** 20).toFixed(1))
}

/** Polled from here: waitForFunction evaluates a string in the page, which its CSP (no 'unsafe-eval') refuses. */
async function received(page: Page, atLeast: number): Promise<void> {
  const deadline = Date.now() + 600_000
  while (Number(await page.locator('.live .status').getAttribute('data-received')) < atLeast) {
    if (Date.now() > deadline) throw new Error(`the page did not receive ${atLeast} entries in 10 minutes`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

async function liveFigures(browser: Browser): Promise<void> {
  const node = await startNode(['--data', tempDir(), '--store', 'memory'], { LOG_LEVEL: 'warn' })
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
    await page.goto(`${node.url}/`)
    await page.locator('.live .status[data-rows="0"]').waitFor()
    // Evaluated through the DevTools protocol, which the page's CSP does not govern: the first time each row enters the DOM.
    await page.evaluate(`(() => {
      const seen = (window.__seen = new Map())
      new MutationObserver((records) => {
        const now = Date.now()
        for (const r of records) for (const n of r.addedNodes) {
          const id = n.querySelector?.('[data-id]')?.getAttribute('data-id')
          if (id && !seen.has(id)) seen.set(id, now)
        }
      }).observe(document.querySelector('.rows'), { childList: true, subtree: true })
    })()`)
    // Warm-up, unmeasured: the node's first commits and the page's first renders are slower than the steady state.
    for (let k = 0; k < 200; k++)
      await fetch(`${node.url}/api/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ topic: 'warm', kind: 'event', data: k }),
      })
    await received(page, 200)
    const sent: Array<Promise<{ id: string; t0: number; t1: number }>> = []
    const total = SECONDS * PER_SECOND
    const start = Date.now()
    for (let k = 0; k < total; k++) {
      const due = start + (k * 1000) / PER_SECOND
      if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()))
      const t0 = Date.now()
      const body = JSON.stringify({ topic: 'bench', kind: 'event', data: sampleData(k) })
      sent.push(
        fetch(`${node.url}/api/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then(async (r) => ({
          id: ((await r.json()) as { id: string }).id,
          t0,
          t1: Date.now(),
        })),
      )
    }
    const posts = await Promise.all(sent)
    await received(page, 200 + total)
    const seen = new Map(await page.evaluate<Array<[string, number]>>('[...window.__seen.entries()]'))
    const latencies = posts.map((p) => (seen.get(p.id) ?? Number.POSITIVE_INFINITY) - p.t0).sort((a, b) => a - b)
    figures['console.entry_visible_p50_ms'] = percentile(latencies, 50)
    figures['console.entry_visible_p99_ms'] = percentile(latencies, 99)
    const acks = posts.map((p) => p.t1 - p.t0).sort((a, b) => a - b)
    figures['console.append_ack_p50_ms'] = percentile(acks, 50)
    figures['console.append_ack_p99_ms'] = percentile(acks, 99)

    // Then 100,000 more as fast as batches commit; the page keeps at most its row cap.
    const heapStart = await heapMb(page)
    const started = performance.now()
    let half = 0
    for (let i = 0; i < STREAMED; i += 1000) {
      const batch = Array.from({ length: Math.min(1000, STREAMED - i) }, (_, k) => ({
        topic: 'bench',
        kind: 'event',
        data: sampleData(i + k),
      }))
      const res = await fetch(`${node.url}/api/events/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(batch),
      })
      if (res.status !== 201) throw new Error(`batch answered ${res.status}`)
      if (i + 1000 === STREAMED / 2) {
        await received(page, 200 + total + STREAMED / 2)
        half = await heapMb(page)
      }
    }
    await received(page, 200 + total + STREAMED)
    figures['console.stream_rate'] = rate(STREAMED, performance.now() - started)
    figures['console.heap_start_mb'] = heapStart
    figures['console.heap_half_mb'] = half
    figures['console.heap_after_100k_mb'] = await heapMb(page)
    figures['console.skipped_entries'] = Number(await page.locator('.live .status').getAttribute('data-skipped'))
    await page.close()
  } finally {
    await node.stop()
  }
}

async function loadFigure(browser: Browser): Promise<void> {
  const T0 = 1_700_000_000_000
  const data = tempDir('ylog-bench-')
  const { identity } = NodeIdentity.loadOrCreate(join(data, 'node.key'))
  const durable = await DurableLog.open({
    identity,
    store: await ThreadedSqliteStore.open(join(data, 'ylog.db'), { durability: 'normal' }),
    signing: 'thread',
    now: () => T0 + ENTRIES,
  })
  for (let i = 0; i < ENTRIES; i += 1000) {
    await durable.appendBatch(
      Array.from({ length: Math.min(1000, ENTRIES - i) }, (_, k) => ({
        topic: `stage-${(i + k) % 7}`,
        kind: 'event' as const,
        data: sampleData(i + k),
        at: T0 + i + k,
      })),
    )
  }
  await durable.close()
  const node = await startNode(['--data', data], { LOG_LEVEL: 'warn' }, 300_000)
  try {
    const times: number[] = []
    for (let i = 0; i < LOADS; i++) {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
      const started = performance.now()
      await page.goto(`${node.url}/`)
      await page
        .locator('.live .status[data-rows="200"]')
        .waitFor({ timeout: 60_000 })
        .catch(async (err: unknown) => {
          throw new Error(`${String(err)}; page: ${await page.locator('main').textContent()}`)
        })
      times.push(performance.now() - started)
      await page.close()
    }
    times.sort((a, b) => a - b)
    const label = ENTRIES >= 1_000_000 ? '' : `_${ENTRIES}`
    figures[`console.load_ms${label}`] = Math.round(percentile(times, 50))
    figures[`console.load_max_ms${label}`] = Math.round(times[times.length - 1] as number)
  } finally {
    await node.stop()
    rmSync(data, { recursive: true, force: true })
  }
}

ensureConsoleBuilt()
const browser = await launch()
try {
  await liveFigures(browser)
  await loadFigure(browser)
} finally {
  await browser.close()
}
report(figures)
