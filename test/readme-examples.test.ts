// The READMEs' programs, run exactly as written the way a newcomer runs them:
// saved in the repository root after `npm ci`, then `npx tsx example.ts` (or,
// being plain JavaScript too, `node example.mjs`). Nothing of the test runner
// reaches them: no ylog-source condition, no loader, so `@ylog/core` resolves
// as it does for anyone, to the packages' dist/ that npm ci's prepare step
// builds. The blocks are read from the READMEs here, so a README that drifts
// from the code breaks this test.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT, startNode, tempDir, type RunningNode } from './support/node-process.js'
import { blocks, commands, plainEnv, READMES } from './support/readme.js'

const RUN_MS = 60_000

/** A block that starts with an import is a whole program; the others are API summaries. */
const programs = READMES.flatMap((file) => blocks(file, 'ts')).filter((b) => b.code.trimStart().startsWith('import '))

/** Saves `code` as `name` in a fresh directory inside the repository (where `@ylog/*` resolve) and runs `command` there. */
function runSaved(code: string, name: string, command: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const dir = mkdtempSync(join(ROOT, '.readme-example-'))
  try {
    writeFileSync(join(dir, name), code)
    // The client's programs talk to a node: YLOG_URL names the one started below (the others ignore it).
    const env = { ...plainEnv(), ...(node === undefined ? {} : { YLOG_URL: node.url }) }
    const r = spawnSync(command, args, { cwd: dir, env, encoding: 'utf8', timeout: RUN_MS })
    return { status: r.status, stdout: r.stdout, stderr: r.stderr }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

let node: RunningNode | undefined

describe('README programs', () => {
  beforeAll(async () => {
    node = await startNode(['--data', tempDir(), '--durability', 'normal'])
    // What npm ci runs after installing. Turbo replays its cache when the sources are unchanged since the last build,
    // so this costs a second after npm ci and only rebuilds what a source change made stale.
    const r = spawnSync('npm', ['run', 'prepare', '--silent'], { cwd: ROOT, env: plainEnv(), encoding: 'utf8', timeout: 180_000 })
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/error/i)
    expect(r.status).toBe(0)
  }, 200_000)
  afterAll(async () => {
    await node?.stop()
  })

  it('finds the programs: the root README example and core’s two', () => {
    expect(programs.filter((b) => b.file === 'README.md')).toHaveLength(1)
    expect(programs.filter((b) => b.file === 'packages/core/README.md').length).toBeGreaterThanOrEqual(2)
  })

  it.each(programs)(
    '$file:$line runs with `npx tsx example.ts`',
    (block) => {
      const r = runSaved(block.code, 'example.ts', 'npx', ['tsx', 'example.ts'])
      expect(r.stderr).toBe('')
      expect(r.status).toBe(0)
      // The root README's comment says what its first line prints: the entry count and a cursor.
      if (block.file === 'README.md') expect(r.stdout.split('\n')[0]).toMatch(/^2 c1\.[A-Za-z0-9_-]+$/)
    },
    RUN_MS + 5_000,
  )

  it.each(programs)(
    '$file:$line runs with `node example.mjs`',
    (block) => {
      const r = runSaved(block.code, 'example.mjs', process.execPath, ['example.mjs'])
      expect(r.stderr).toBe('')
      expect(r.status).toBe(0)
    },
    RUN_MS + 5_000,
  )
})

describe('README commands', () => {
  const shell = READMES.flatMap((file) => blocks(file, 'sh').flatMap((b) => commands(b).map((command) => ({ ...b, command }))))
  const starts = shell.filter((c) => /\bnpm start\b/.test(c.command))

  it('pass options to npm start after `--`, where npm does not take them for its own', () => {
    expect(starts.length).toBeGreaterThan(0)
    for (const { file, line, command } of starts) {
      const args =
        (command.split(/\bnpm start\b/)[1] ?? '')
          .split(/\s+(?:#|&&|\|)/)[0]
          ?.trim()
          .split(/\s+/)
          .filter((a) => a !== '') ?? []
      if (args.length > 0) expect(`${file}:${line} ${command}`).toMatch(/npm start -- /)
    }
  })

  it('keep the data directories they create out of git', () => {
    const dirs = new Set(['.ylog'])
    for (const { command } of starts)
      for (const m of command.matchAll(/--data (\S+)/g)) if (!m[1]?.startsWith('/')) dirs.add(m[1] as string)
    expect([...dirs]).toEqual(expect.arrayContaining(['./a', './b', './c']))
    for (const dir of dirs) {
      const r = spawnSync('git', ['check-ignore', '-q', join(dir, 'ylog.db')], { cwd: ROOT })
      expect(`${dir} ${r.status === 0 ? 'ignored' : 'not ignored'}`).toBe(`${dir} ignored`)
    }
  })
})
