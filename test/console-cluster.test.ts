// The Nodes page on a 3-node cluster with node 2 cut off: node 1 gets node 2's
// newest entries before the ones they follow (as a relay would deliver them),
// so it holds a real hole; the page shows it, then shows it gone once the
// partition heals, with every peer open and no lag.
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BROWSER_TEST_MS, ensureConsoleBuilt, launch, openConsole, screenshot } from './support/console-browser.js'
import { ProxiedCluster, waitIdentical } from './support/cluster.js'
import { cutOffWriter, sendAhead } from './support/real-hole.js'

let cluster: ProxiedCluster
let browser: Browser

beforeAll(async () => {
  ensureConsoleBuilt()
  ;[cluster, browser] = await Promise.all([ProxiedCluster.start(3, ProxiedCluster.mesh(3)), launch()])
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await cluster?.close()
})

describe('console: Nodes page on a partitioned cluster', { timeout: BROWSER_TEST_MS }, () => {
  it('shows a hole at node 1 while node 2 is cut off, and clears it after the heal', async () => {
    const [, b] = cluster.urls() as [string, string, string]
    const { node: cNode, base } = await cutOffWriter(cluster, 2, b, 4)

    const ui = await openConsole(browser, `${b}/#/nodes`)
    const row = ui.page.locator(`table.nodes tr[data-node="${cNode}"]`)
    await row.locator('td[data-holes="0"]').waitFor()

    // Node 2's two newest entries alone, sent to node 1 as node 2 itself: node 1 now knows what lies before them.
    const writer = await sendAhead(cluster, 2, b, base + 2)

    const hole = row.locator('td[data-holes="1"]')
    await hole.waitFor()
    expect(await hole.textContent()).toBe(`${base}–${base + 3}`)
    expect(await row.getAttribute('class')).toContain('warn')
    await screenshot(ui.page, 'nodes.png', { fullPage: true })
    writer.ws.close()

    for (const proxy of cluster.around(2)) proxy.heal()
    await waitIdentical(cluster.urls())
    await row.locator('td[data-holes="0"]').waitFor()
    // Every peer of node 1 open again, and none lagging: what the page shows is what /api/nodes says.
    const peers = ui.page.locator('table.peers tr[data-peer]')
    await ui.page.locator('table.peers tr[data-peer].warn').waitFor({ state: 'detached' })
    expect(await peers.count()).toBe(2)
    expect(await ui.page.locator('table.peers td[data-lag="0"]').count()).toBe(2)
    expect(ui.problems).toEqual([])
  }, 60_000)
})
