// The console's Gaps, Nodes and Context pages in a real browser, against a
// node whose ingest queue drops events (so it writes gap entries).
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BROWSER_TEST_MS, ensureConsoleBuilt, launch, openConsole, screenshot, type ConsolePage } from './support/console-browser.js'
import { startNode, tempDir, type RunningNode } from './support/node-process.js'

let node: RunningNode
let browser: Browser
let ui: ConsolePage
let page: Page

beforeAll(async () => {
  ensureConsoleBuilt()
  ;[node, browser] = await Promise.all([
    startNode(['--data', tempDir(), '--store', 'memory', '--ingest-capacity', '2', '--ingest-policy', 'drop']),
    launch(),
  ])
  ui = await openConsole(browser, `${node.url}/#/gaps`)
  page = ui.page
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await node?.stop()
})

const post = (body: unknown): Promise<Response> =>
  fetch(`${node.url}/api/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })

describe('console: gaps, nodes, context', { timeout: BROWSER_TEST_MS }, () => {
  it('shows a gap entry written by the ingest queue on the Gaps page', async () => {
    await page.locator('h1', { hasText: 'Gaps' }).waitFor()
    // 200 events at once against a queue of 2: most are dropped, and a gap entry names them.
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => post({ topic: 'burst', kind: 'event', data: { i } })))
    const dropped = answers.filter((r) => r.status === 503).length
    expect(dropped).toBeGreaterThan(0)
    await page.locator('tr[data-gap]').first().waitFor()
    const counts = await page.locator('table.gaps td.num').allTextContents()
    // Gap entries may still be committing when the page polled: wait until they account for every drop.
    let total = counts.reduce((sum, c) => sum + Number(c), 0)
    while (total < dropped) {
      await page.waitForResponse((r) => r.url().includes('kind=gap'))
      await page.locator('tr[data-gap]').first().waitFor()
      total = (await page.locator('table.gaps td.num').allTextContents()).reduce((sum, c) => sum + Number(c), 0)
    }
    expect(total).toBe(dropped)
    // The timeline has one mark per gap entry, each linking to its entry.
    const rows = await page.locator('table.gaps tr[data-gap]').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-gap')))
    const marks = await page.locator('figure.timeline a[data-gap]').evaluateAll((as) => as.map((a) => a.getAttribute('data-gap')))
    expect(marks.sort()).toEqual(rows.sort())
    await screenshot(page, 'gaps.png', { fullPage: true })
  })

  it('shows this node on the Nodes page with its gap entries and no holes', async () => {
    await post({ topic: 'pipeline', kind: 'transition', data: { subject: 'story-7', from: 'backlog', to: 'coding', event: 'DepsMet' } })
    await page.goto(`${node.url}/#/nodes`)
    const mine = page.locator(`table.nodes tr[data-node="${node.node}"]`)
    await mine.waitFor()
    expect(await mine.locator('td[data-holes]').textContent()).toBe('none')
    expect(await mine.textContent()).toContain('(self)')
    await screenshot(page, 'nodes-single.png', { fullPage: true })
  })

  it('assembles context on the Context page with its manifest, dropped ranges marked', async () => {
    await page.goto(`${node.url}/#/context`)
    await page.fill('input[name="budget"]', '3000')
    await page.click('button[type="submit"]')
    const manifest = page.locator('table.manifest')
    await manifest.waitFor()
    expect(await manifest.locator('mark').count()).toBeGreaterThan(0)
    expect(await page.locator('pre.context-text').textContent()).toContain('burst')
    await screenshot(page, 'context.png', { fullPage: true })
    expect(ui.problems).toEqual([])
  })
})
