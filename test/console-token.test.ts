// The web console against a node started with --read-token, in a real browser: the page asks for the token,
// asks again after a wrong one, shows the live log and the other pages with the right one, keeps it across a
// reload of the tab (sessionStorage) and nowhere else, and a new browser session asks again.
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BROWSER_TEST_MS, ensureConsoleBuilt, launch, openConsole, type ConsolePage } from './support/console-browser.js'
import { postEvent, startNode, tempDir, type RunningNode } from './support/node-process.js'

const TOKEN = 'console-read-token-1'
let node: RunningNode
let browser: Browser
let ui: ConsolePage

beforeAll(async () => {
  ensureConsoleBuilt()
  ;[node, browser] = await Promise.all([startNode(['--data', tempDir(), '--store', 'memory', '--read-token', TOKEN]), launch()])
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await node?.stop()
})

describe('console: a node that wants a read token', { timeout: BROWSER_TEST_MS }, () => {
  it('asks for the token, and asks again after a wrong one', async () => {
    const first = await postEvent(node.url, { hello: 'token' }, 'guarded')
    expect((await fetch(`${node.url}/api/events`)).status).toBe(401)
    ui = await openConsole(browser, `${node.url}/`)
    const { page } = ui
    await page.locator('form.token').waitFor()
    const refused = page.waitForResponse((r) => r.url().includes('/api/') && r.status() === 401)
    await page.locator('form.token input[name="token"]').fill('not-the-token')
    await page.locator('form.token button[type="submit"]').click()
    await refused
    await page.locator('form.token').waitFor()
    expect(await page.locator(`.rows [data-id="${first.node}:${first.seq}"]`).count()).toBe(0)
  })

  it('shows the live log, live entries and the other pages with the right token', async () => {
    const { page } = ui
    await page.locator('form.token input[name="token"]').fill(TOKEN)
    await page.locator('form.token button[type="submit"]').click()
    await page.locator('.live .status[data-rows="1"]').waitFor()
    const live = await postEvent(node.url, { after: 'token' }, 'guarded')
    await page.locator(`.rows [data-id="${live.node}:${live.seq}"]`).waitFor()
    await page.goto(`${node.url}/#/nodes`)
    await page.locator(`table.nodes tr[data-node="${node.node}"]`).waitFor()
    expect(await page.locator('form.token').count()).toBe(0)
  })

  it('keeps the token for the tab only: a reload sends it again, nothing is in localStorage or cookies', async () => {
    const { page } = ui
    await page.goto(`${node.url}/#/`)
    // After the reload the page asks the node again, with the token it kept for the tab.
    const asked = page.waitForRequest((r) => r.url().includes('/api/events') && r.headers().authorization === `Bearer ${TOKEN}`)
    await page.reload()
    await asked
    expect(await page.locator('form.token').count()).toBe(0)
    expect(await page.evaluate('sessionStorage.length')).toBe(1)
    expect(await page.evaluate('localStorage.length')).toBe(0)
    expect(await page.context().cookies()).toEqual([])
    expect(ui.problems).toEqual([])
  })

  it('asks again in a new browser session', async () => {
    const other = await openConsole(browser, `${node.url}/`)
    await other.page.locator('form.token').waitFor()
    expect(await other.page.locator('.rows [data-id]').count()).toBe(0)
    await other.page.context().close()
  })
})
