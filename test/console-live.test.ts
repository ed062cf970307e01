// The web console's live log in a real browser (Debian's Chromium): the
// stream, filters, paging back to the first entry, and the entry view's own
// signature check, including an entry whose bytes were altered on the way.
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BROWSER_TEST_MS, ensureConsoleBuilt, launch, openConsole, screenshot, type ConsolePage } from './support/console-browser.js'
import { postEvent, startNode, tempDir, type RunningNode } from './support/node-process.js'

let node: RunningNode
let browser: Browser
let ui: ConsolePage
let page: Page
const HISTORY = 250

const row = (id: string) => page.locator(`.rows [data-id="${id}"]`)
const status = () => page.locator('.live .status')

async function rowsShown(n: number): Promise<void> {
  await page.locator(`.live .status[data-rows="${n}"]`).waitFor()
}

beforeAll(async () => {
  ensureConsoleBuilt()
  ;[node, browser] = await Promise.all([startNode(['--data', tempDir(), '--store', 'memory']), launch()])
  const batch = Array.from({ length: HISTORY }, (_, i) => ({ topic: i % 2 === 0 ? 'alpha' : 'beta', kind: 'event', data: { i } }))
  const res = await fetch(`${node.url}/api/events/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(batch),
  })
  expect(res.status).toBe(201)
  ui = await openConsole(browser, `${node.url}/`)
  page = ui.page
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await node?.stop()
})

describe('console: live log', { timeout: BROWSER_TEST_MS }, () => {
  it('serves the page with a Content-Security-Policy and no inline script', async () => {
    const res = await fetch(`${node.url}/`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'")
    const html = await res.text()
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/)
    await page.locator('h1', { hasText: 'Live log' }).waitFor()
  })

  it('shows the newest page, then an entry appended over HTTP', async () => {
    await rowsShown(200)
    const started = Date.now()
    const receipt = await postEvent(node.url, { hello: 'console' }, 'alpha')
    await row(`${receipt.node}:${receipt.seq}`).waitFor()
    expect(Date.now() - started).toBeLessThan(5000)
    await expect(status().textContent()).resolves.toContain('201 rows')
  })

  it('filters by topic on the node and by node id in the page', async () => {
    await page.fill('input[name="topic"]', 'beta')
    await page.click('form.filters button[type="submit"]')
    await rowsShown(HISTORY / 2)
    expect(await page.locator('.rows .row', { hasText: 'alpha' }).count()).toBe(0)
    // An alpha entry written before a beta one: once the beta one shows, the alpha one would have too.
    await postEvent(node.url, { late: 'alpha' }, 'alpha')
    const beta = await postEvent(node.url, { late: 'beta' }, 'beta')
    await row(`${beta.node}:${beta.seq}`).waitFor()
    expect(await page.locator('.rows .row', { hasText: 'alpha' }).count()).toBe(0)

    const other = node.node.startsWith('f') ? 'e' : 'f'
    await page.fill('input[name="node"]', other)
    await page.click('form.filters button[type="submit"]')
    await rowsShown(0)
    await page.fill('input[name="node"]', node.node.slice(0, 6))
    await page.fill('input[name="topic"]', '')
    await page.click('form.filters button[type="submit"]')
    await rowsShown(200)
  })

  it('pages backwards to the first entry', async () => {
    const older = page.getByRole('button', { name: 'Older entries' })
    while (!(await page.locator('[data-start="true"]').isVisible())) {
      await older.click()
      await page
        .locator('[data-start="true"]')
        .or(older.and(page.locator(':enabled')))
        .waitFor()
    }
    await expect(status().textContent()).resolves.toContain(`${HISTORY + 3} rows`)
    await page.getByRole('listbox').focus()
    await page.keyboard.press('End')
    await row(`${node.node}:0`).waitFor()
  })

  it('verifies an entry in the browser, and calls altered bytes invalid', async () => {
    await page.getByRole('listbox').focus()
    await page.keyboard.press('Home')
    await page.keyboard.press('ArrowDown')
    await page.keyboard.press('Enter')
    const badge = page.locator('.detail-pane .badge')
    await page.locator('.detail-pane .badge[data-verdict="verified"]').waitFor()
    expect(await page.locator('.detail-pane .checks').textContent()).toContain('Ed25519 signature by the node')
    await screenshot(page, 'live.png')

    // The same bytes with one byte of the data changed, as a tampering server or proxy would serve them.
    await page.route('**/api/export?**', async (route) => {
      const res = await route.fetch()
      const lines = (await res.text()).split('\n').filter((l) => l !== '')
      const last = JSON.parse(lines[lines.length - 1] as string) as { bytes: string }
      const bytes = Buffer.from(last.bytes, 'base64')
      const at = bytes.length - 70 // inside the data, just before the signature
      bytes[at] = (bytes[at] as number) ^ 0x01
      lines[lines.length - 1] = JSON.stringify({ ...last, bytes: bytes.toString('base64') })
      await route.fulfill({ response: res, body: `${lines.join('\n')}\n` })
    })
    await page.keyboard.press('ArrowDown')
    await page.keyboard.press('Enter')
    await page.locator('.detail-pane .badge[data-verdict="invalid"]').waitFor()
    expect(await badge.getAttribute('title')).toMatch(/signature|differ|decode/)
    await page.unroute('**/api/export?**')
    expect(ui.problems).toEqual([])
  })

  it('pauses and resumes, and fits a phone-width screen', async () => {
    // Paging back paused the live log: the reader asked for the past.
    await page.getByRole('button', { name: /^Resume/ }).click()
    await page.getByRole('button', { name: 'Pause' }).click()
    await postEvent(node.url, { while: 'paused' }, 'alpha')
    await page.getByRole('button', { name: /Resume \(1 new\)/ }).click()
    await page.getByRole('button', { name: 'Pause' }).waitFor()
    const phone = await openConsole(browser, `${node.url}/`, { width: 390, height: 844 })
    await phone.page.locator('.live .status[data-rows="200"]').waitFor()
    await screenshot(phone.page, 'live-phone.png')
    expect(phone.problems).toEqual([])
    await phone.page.close()
  })
})
