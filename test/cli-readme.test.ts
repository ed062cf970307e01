// apps/cli/README.md's block of commands, each run as written by a shell in a directory of its own (its
// node_modules is the repository's, so npx finds the command as it does from the root), against a running node
// that YLOG_URL names. `./.ylog` there is a stopped node's data directory. The two commands that run until stopped
// (`read -f`, `serve`) are stopped once they have shown they work; only serve's port is the test's own.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, symlinkSync } from 'node:fs'
import { constants } from 'node:os'
import { join } from 'node:path'
import { waitFor } from '@ylog/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { postEvent, ROOT, startNode, tempDir, type RunningNode } from './support/node-process.js'
import { blocks, commands, plainEnv } from './support/readme.js'

const lines = blocks('apps/cli/README.md', 'sh').flatMap(commands)
let node: RunningNode
let cwd: string

beforeAll(async () => {
  cwd = tempDir()
  symlinkSync(join(ROOT, 'node_modules'), join(cwd, 'node_modules'))
  const stopped = await startNode(['--data', join(cwd, '.ylog')])
  await postEvent(stopped.url, { kept: 'offline' }, 'offline')
  await stopped.stop()
  node = await startNode(['--data', tempDir()])
}, 60_000)
afterAll(async () => {
  await node?.stop()
})

const env = (): NodeJS.ProcessEnv => ({ ...plainEnv(), YLOG_URL: node.url, NO_COLOR: '1' })

/** Runs a line that ends by itself; returns its exit code and output. */
function sh(line: string): { status: number | null; out: string } {
  const r = spawnSync('sh', ['-c', line], { cwd, env: env(), encoding: 'utf8', timeout: 60_000 })
  return { status: r.status, out: r.stdout + r.stderr }
}

/**
 * Runs a line that runs until stopped: resolves once its output matches, then stops it with `signal` and waits
 * until `after` shows too (the command's own last words).
 */
async function until(line: string, pattern: RegExp, signal: NodeJS.Signals, after?: RegExp): Promise<{ code: number; out: string }> {
  // A process group of its own, signalled whole: what Ctrl-C in a terminal does (npx, the launcher, the command).
  const child = spawn('sh', ['-c', `exec ${line}`], { cwd, env: env(), stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let out = ''
  const shown = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${pattern} from \`${line}\` in 60 s; got: ${out}`)), 60_000)
    const onData = (d: Buffer): void => {
      out += d.toString()
      if (!pattern.test(out)) return
      clearTimeout(timer)
      resolve()
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
  })
  // As a shell reports it: the exit code, or 128 + n for a process the signal ended.
  const exited = new Promise<number>((resolve) => child.on('exit', (code, by) => resolve(code ?? 128 + constants.signals[by ?? 'SIGKILL'])))
  try {
    await shown
  } finally {
    process.kill(-(child.pid as number), signal)
  }
  const code = await exited
  if (after !== undefined)
    await waitFor(
      () => after.test(out),
      () => `no ${after} from \`${line}\` after ${signal}; got: ${out}`,
    )
  return { code, out }
}

describe('apps/cli README’s commands', () => {
  it('lists the commands the test expects, in order', () => {
    expect(
      lines.map((l) =>
        l
          .replace(/^printf .*\| /, '')
          .split(/\s+/)
          .slice(0, 3)
          .join(' '),
      ),
    ).toEqual([
      'npx ylog --help',
      'npx ylog append',
      'npx ylog append',
      'npx ylog read',
      'npx ylog read',
      'npx ylog read',
      'npx ylog heads',
      'npx ylog consumers',
      'npx ylog consumers',
      'npx ylog verify',
      'npx ylog verify',
      'npx ylog export',
      'npx ylog import',
      'npx ylog serve',
    ])
  })

  it('each one does what its comment says', { timeout: 180_000 }, async () => {
    const promises: Array<[RegExp, RegExp]> = [
      [/^npx ylog --help/, /Usage: ylog/],
      [/--data '\{"step":"plan"\}'/, /^[0-9a-f]{64}:0$/m],
      [/^printf /, /"seq":2/],
      [/--last 20/, /pipeline event \{"step":"plan"\}/],
      [/--exit-at-end/, /pipeline event/],
      [/ heads$/, /[0-9a-f]{8}/],
      [/consumers get billing/, /billing/],
      [/consumers ack builds/, /builds c1\./],
      [/^npx ylog verify$/, /0\.\.\d+ ok/],
      [/verify --data \.\/\.ylog/, /ok: 1 entries of 1 nodes intact/],
      [/export --out backup\.ndjson/, /exported \d+/],
      [/import backup\.ndjson/, /imported 0 new of (\d+) entries \(\1 held already\)/],
    ]
    for (const line of lines) {
      if (/ read -f /.test(line)) {
        const followed = until(line, /pipeline event \{"step":"live"\}/, 'SIGINT')
        // It prints only what commits after it started: appends go on until it has shown one.
        let done = false
        void followed.finally(() => (done = true))
        for (let i = 0; !done && i < 300; i++) {
          await postEvent(node.url, { step: 'live' }, 'pipeline')
          await new Promise((resolve) => setTimeout(resolve, 200))
        }
        expect((await followed).code).toBe(130)
        continue
      }
      if (/ serve /.test(line)) {
        // Stopped as a terminal's Ctrl-C would: npx goes by the signal (130), the node shuts down cleanly behind it.
        const served = await until(line.replace('--port 4748', '--port 0'), /"msg":"ready"/, 'SIGINT', /"msg":"stopped"/)
        expect(served.code).toBe(130)
        expect(existsSync(join(cwd, 'b', 'ylog.db'))).toBe(true)
        continue
      }
      // Matched without the trailing comment (the shell ignores it).
      const promise = promises.find(([which]) => which.test(line.replace(/\s+#.*$/, '')))
      if (promise === undefined) throw new Error(`no expectation for \`${line}\``)
      const r = sh(line)
      expect([line, r.status]).toEqual([line, 0])
      expect(r.out).toMatch(promise[1])
    }
    const { heads } = (await (await fetch(`${node.url}/api/heads`)).json()) as { heads: Array<{ length: number }> }
    expect(readFileSync(join(cwd, 'backup.ndjson'), 'utf8').trim().split('\n')).toHaveLength(heads[0]?.length ?? -1)
  })
})
