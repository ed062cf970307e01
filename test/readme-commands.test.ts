// The READMEs' commands against a running node, as written: the root README's
// curl lines (only the port is the test's own), its `npx ylog` lines (YLOG_URL
// names the test's node) and the systemd unit's command.
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { attach, ROOT, startNode, tempDir, type RunningNode } from './support/node-process.js'
import { blocks, commands, plainEnv } from './support/readme.js'

const DEADLINE_MS = 15_000

describe('the root README’s curl lines', () => {
  let node: RunningNode | undefined
  beforeAll(async () => {
    node = await startNode(['--data', join(tempDir(), 'data')])
  })
  afterAll(async () => {
    await node?.stop()
  })

  const curl = blocks('README.md', 'sh')
    .flatMap(commands)
    .filter((c) => c.startsWith('curl '))
  const onPort = (command: string): string => command.replaceAll(':4747', `:${new URL(node?.url ?? '').port}`)
  const find = (pattern: RegExp): string => {
    const found = curl.find((c) => pattern.test(c))
    if (found === undefined) throw new Error(`no curl line in README.md matches ${pattern}`)
    return found
  }

  it('append, then read', () => {
    const post = spawnSync('sh', ['-c', onPort(find(/-XPOST/))], { encoding: 'utf8', env: plainEnv(), timeout: DEADLINE_MS })
    expect(JSON.parse(post.stdout)).toMatchObject({ node: node?.node, seq: 0 })
    const read = spawnSync('sh', ['-c', onPort(find(/api\/events\?/))], { encoding: 'utf8', env: plainEnv(), timeout: DEADLINE_MS })
    expect((JSON.parse(read.stdout) as { entries: unknown[] }).entries).toHaveLength(1)
  })

  it('the event stream line shows only entries that commit after it connects', async () => {
    const line = find(/api\/events\/stream/)
    const stream = spawn('sh', ['-c', `exec ${onPort(line)}`], { env: plainEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    try {
      let text = ''
      const seen = (pattern: RegExp): Promise<void> =>
        new Promise((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`no ${pattern} from \`${line}\` in ${DEADLINE_MS} ms; got: ${text}`)),
            DEADLINE_MS,
          )
          const check = (): void => {
            if (!pattern.test(text)) return
            clearTimeout(timer)
            stream.stdout.off('data', onData)
            resolve()
          }
          const onData = (d: Buffer): void => {
            text += d.toString()
            check()
          }
          stream.stdout.on('data', onData)
          check()
        })
      await seen(/: ylog stream[^\n]*\n\n/)
      // The node already holds entry 0 (the test above); the README promises only new ones.
      const res = await fetch(`${node?.url}/api/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"topic":"t","kind":"event","data":"new"}',
      })
      expect(res.status).toBe(201)
      await seen(/event: entry\ndata: .*\n\n/)
      const first = /event: entry\ndata: (.*)\n/.exec(text)?.[1] ?? ''
      expect(JSON.parse(first)).toMatchObject({ seq: 1, data: 'new' })
    } finally {
      stream.kill()
    }
  })
})

describe('the root README’s `ylog` lines', () => {
  let node: RunningNode | undefined
  // `export --out backup.ndjson` writes beside where it runs: the repository root, where npx finds the command.
  const backup = join(ROOT, 'backup.ndjson')
  beforeAll(async () => {
    node = await startNode(['--data', join(tempDir(), 'data')])
  })
  afterAll(async () => {
    rmSync(backup, { force: true })
    await node?.stop()
  })

  const lines = blocks('README.md', 'sh')
    .filter((b) => b.code.includes('npx ylog append'))
    .flatMap(commands)

  it('run as written against a node (YLOG_URL names it), each exiting 0 with what its comment promises', { timeout: 120_000 }, () => {
    expect(lines.map((l) => l.split(/\s+/).slice(0, 3).join(' '))).toEqual([
      'npx ylog append',
      'npx ylog read',
      'npx ylog verify',
      'npx ylog export',
      'npx ylog doctor',
      'npx ylog consumers',
    ])
    const expected = [/^[0-9a-f]{64}:0$/m, /pipeline event \{"step":"plan"\}/, /0\.\.0 ok/, /exported 1/, /doctor: healthy/, /builds c1\./]
    lines.forEach((line, i) => {
      const r = spawnSync('sh', ['-c', line], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...plainEnv(), YLOG_URL: node?.url, NO_COLOR: '1' },
        timeout: 60_000,
      })
      expect([line, r.status, r.stderr]).toEqual([line, 0, expect.any(String)])
      expect(r.stdout + r.stderr).toMatch(expected[i] as RegExp)
    })
    expect(readFileSync(backup, 'utf8').trim().split('\n')).toHaveLength(1)
  })
})

describe('apps/node README’s systemd unit', () => {
  const [unit] = blocks('apps/node/README.md', 'ini')
  const setting = (key: string): string => {
    const line = unit?.code.split('\n').find((l) => l.startsWith(`${key}=`))
    if (line === undefined) throw new Error(`apps/node/README.md has no systemd unit with ${key}=`)
    return line.slice(key.length + 1)
  }

  /** ExecStart with this machine's node, the checkout for WorkingDirectory's /opt/ylog, a temporary data directory and port 0. */
  function execStart(data: string): { cwd: string; argv: string[] } {
    const cwd = setting('WorkingDirectory').replace('/opt/ylog', ROOT)
    const argv = setting('ExecStart').split(/\s+/)
    expect(argv[0]).toBe('/usr/bin/node')
    argv[0] = process.execPath
    const port = argv.indexOf('--port')
    if (port >= 0) argv[port + 1] = '0'
    return { cwd, argv: argv.map((a) => (a === '/var/lib/ylog' ? data : a)) }
  }

  it('runs the node itself, which stops cleanly on SIGTERM as systemd sends it', async () => {
    const data = join(tempDir(), 'data')
    const { cwd, argv } = execStart(data)
    const child = spawn(argv[0] as string, argv.slice(1), { cwd, env: plainEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    const node = await attach(child, 60_000)
    // Nothing in between: the process systemd starts and signals is the node.
    expect(node.logs.find((r) => r.msg === 'ready')?.pid).toBe(child.pid)
    expect(await node.stop()).toBe(0)
  })

  it('tells systemd not to restart after a configuration error', () => {
    const { cwd, argv } = execStart(join(tempDir(), 'data'))
    const r = spawnSync(argv[0] as string, [...argv.slice(1), '--durability', 'sometimes'], {
      cwd,
      env: plainEnv(),
      encoding: 'utf8',
      timeout: DEADLINE_MS,
    })
    expect(r.stderr).toMatch(/^ylog: /)
    expect(String(r.status)).toBe(setting('RestartPreventExitStatus'))
  })
})
