// Debian's Chromium driven by playwright-core for the console's tests: no
// browser download (only package registries are reachable), see
// shared notes and .ci/run, which installs it with apt-get when missing.
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { ROOT } from './node-process.js'

export const CHROMIUM = process.env.YLOG_CHROMIUM ?? '/usr/bin/chromium'
const CONSOLE = join(ROOT, 'apps', 'console')
export const DOCS = join(ROOT, 'docs', 'console')

/**
 * Takes a page's screenshot: into docs/console/ (the README shows them) when
 * YLOG_SCREENSHOTS=1, else only in memory, so a test run renders the page
 * the same way but leaves the working tree as it was.
 */
export async function screenshot(page: Page, name: string, options: { fullPage?: boolean } = {}): Promise<void> {
  await page.screenshot({ ...options, ...(process.env.YLOG_SCREENSHOTS === '1' ? { path: join(DOCS, name) } : {}) })
}

// Without the background-networking flags Chromium keeps dialing Google's hosts, which this network refuses.
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

export function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does this), or set YLOG_CHROMIUM`)
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS })
}

function newest(dir: string): number {
  return Math.max(
    0,
    ...readdirSync(dir, { withFileTypes: true }).map((d) =>
      d.isDirectory() ? newest(join(dir, d.name)) : statSync(join(dir, d.name)).mtimeMs,
    ),
  )
}

/** Builds the console when its build is missing or older than its sources (npm ci builds it; an edit since would not show). */
export function ensureConsoleBuilt(): void {
  const index = join(CONSOLE, 'dist', 'index.html')
  if (existsSync(index) && statSync(index).mtimeMs >= Math.max(newest(join(CONSOLE, 'src')), statSync(join(CONSOLE, 'index.html')).mtimeMs))
    return
  execFileSync('npm', ['run', 'build', '-w', '@ylog/console'], { cwd: ROOT, stdio: 'pipe' })
}

export interface ConsolePage {
  page: Page
  /** Uncaught errors and CSP violations the page reported: a test ends by expecting none. */
  problems: string[]
}

/**
 * How long a browser test and each of its waits may take. The CI machine runs two test files at once on two cores,
 * each with its node processes, and a browser beside them: a page's first request has taken over 20 s there.
 */
export const BROWSER_TEST_MS = 90_000

export async function openConsole(browser: Browser, url: string, viewport = { width: 1280, height: 800 }): Promise<ConsolePage> {
  const page = await browser.newPage({ viewport })
  page.setDefaultTimeout(BROWSER_TEST_MS - 15_000)
  const problems: string[] = []
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`))
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content.Security.Policy|Refused to/i.test(m.text())) problems.push(`csp: ${m.text()}`)
  })
  await page.goto(url)
  return { page, problems }
}
