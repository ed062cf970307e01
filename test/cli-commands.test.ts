// The `ylog` command end to end: real processes against one real node (`--store memory`) shared by the file.
import { spawn, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runYlog, type Run } from './support/cli.js'
import { postEvent, ROOT, startNode, tempDir, type RunningNode } from './support/node-process.js'

let node: RunningNode

beforeAll(async () => {
  node = await startNode(['--data', tempDir(), '--store', 'memory'])
})
afterAll(async () => {
  await node.stop()
})

/** Runs `ylog <args>` against the shared node. */
function ylog(args: string[], input?: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return runYlog(node.url, args, input, env)
}

describe('ylog', () => {
  it('npx ylog --help works from the repository root and lists every command and the exit codes', () => {
    const r = spawnSync('npx', ['ylog', '--help'], { cwd: ROOT, encoding: 'utf8' })
    expect(r.status).toBe(0)
    for (const command of [
      'append',
      'read',
      'get',
      'heads',
      'nodes',
      'topics',
      'consumers',
      'verify',
      'export',
      'import',
      'doctor',
      'serve',
      'keygen',
      'id',
    ])
      expect(r.stdout).toContain(`\n  ${command}`)
    expect(r.stdout).toContain('Exit codes:')
  })

  it('appends from flags and NDJSON stdin in batches; a rerun of the same input writes nothing twice', async () => {
    const one = await ylog(['append', '--json', '--topic', 'cli.a', '--data', '{"n":0}'])
    expect(one.status).toBe(0)
    expect(one.lines[0]).toMatchObject({ node: node.node, id: expect.stringContaining(':') })
    const input = Array.from({ length: 5 }, (_, i) => JSON.stringify({ topic: 'cli.b', data: { i } })).join('\n')
    const first = await ylog(['append', '--json', '--batch', '2'], input)
    expect(first.status).toBe(0)
    expect(first.lines.map((l) => l.seq)).toEqual([2, 3, 4, 5, 6].map((n) => n - 1))
    const again = await ylog(['append', '--json', '--batch', '2'], input)
    expect(again.lines).toEqual(first.lines)
  })

  it('reads a page, to the end, the last n, by topic, and counts; gets one entry', async () => {
    const page = await ylog(['read', '--json', '--limit', '2'])
    expect(page.lines.slice(0, 2).map((l) => l.seq)).toEqual([0, 1])
    expect(page.lines[2]).toEqual({ next: expect.stringMatching(/^c1\./) })
    const all = await ylog(['read', '--json', '--exit-at-end', '--limit', '2', '--topic', 'cli.b'])
    expect(all.lines.filter((l) => l.topic === 'cli.b')).toHaveLength(5)
    const last = await ylog(['read', '--json', '--last', '2'])
    expect(last.lines.slice(0, 2).map((l) => l.seq)).toEqual([4, 5])
    const counted = await ylog(['read', '--json', '--exit-at-end', '--count', '3'])
    expect(counted.lines.filter((l) => 'seq' in l)).toHaveLength(3)
    const got = await ylog(['get', '--json', node.node, '0'])
    expect(got.lines[0]).toMatchObject({ seq: 0, topic: 'cli.a', data: { n: 0 } })
  })

  it('stops quietly with 141 when whoever reads its output stops reading (ylog read | head)', async () => {
    await postEvent(node.url, { to: 'a reader that goes away' }, 'cli.pipe')
    const main = join(ROOT, 'apps', 'cli', 'src', 'main.ts')
    const child = spawn(process.execPath, ['--conditions=ylog-source', '--import', 'tsx', main, 'read', '--last', '5'], {
      cwd: ROOT,
      env: { ...process.env, YLOG_URL: node.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    // The reading end goes away before the command writes: its first write meets a closed pipe.
    child.stdout.destroy()
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)))
    expect(code).toBe(141)
    // Quietly: no EPIPE error, no stack trace (the page's cursor may still reach stderr).
    expect(stderr).not.toMatch(/EPIPE|Error|\n\s+at /)
  })

  it('follows live with -f until --count entries arrived', { timeout: 90_000 }, async () => {
    const following = ylog(['read', '-f', '--json', '--topic', 'cli.live', '--count', '2'])
    // The follower opens its stream after `now`, whenever its process is up (seconds on a loaded machine): appends keep
    // coming, over HTTP so that their pace does not depend on starting processes, until it has seen two.
    let done = false
    void following.then(() => (done = true))
    const deadline = Date.now() + 80_000
    for (let i = 0; !done && Date.now() < deadline; i++) {
      await postEvent(node.url, i, 'cli.live')
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const r = await following
    expect(r.status, `ylog read -f: ${r.stderr} ${JSON.stringify(r.lines.filter((l) => l.error !== undefined))}`).toBe(0)
    expect(r.lines.filter((l) => l.topic === 'cli.live')).toHaveLength(2)
  })

  it('shows heads, nodes, topics and consumers; acks forward and rewinds on request', async () => {
    expect((await ylog(['heads', '--json'])).lines[0]).toMatchObject({ heads: [{ node: node.node }] })
    expect((await ylog(['nodes', '--json'])).lines[0]).toMatchObject({ self: node.node })
    expect((await ylog(['topics', '--json'])).lines.map((l) => l.topic)).toEqual(expect.arrayContaining(['cli.a', 'cli.b']))
    expect((await ylog(['consumers', 'get', 'cli-c', '--json'])).lines[0]).toMatchObject({ cursor: null })
    const next = (await ylog(['read', '--json', '--limit', '1'])).lines.at(-1)?.next as string
    const end = (await ylog(['read', '--json', '--exit-at-end'])).lines.at(-1)?.next as string
    expect((await ylog(['consumers', 'ack', 'cli-c', end, '--json'])).status).toBe(0)
    const back = await ylog(['consumers', 'ack', 'cli-c', next, '--json'])
    expect([back.status, back.lines[0]?.error]).toEqual([1, expect.objectContaining({ code: 'CURSOR_BACKWARDS' })])
    expect((await ylog(['consumers', 'ack', 'cli-c', next, '--rewind', '--json'])).lines[0]).toMatchObject({ cursor: next })
  })

  it('sets a consumer topic/kind filter with ack, shows it with get, clears it with --any-topic/--any-kind', async () => {
    const next = (await ylog(['read', '--json', '--limit', '1'])).lines.at(-1)?.next as string
    const byTopic = await ylog(['consumers', 'ack', 'cli-f', next, '--topic', 'cli.b', '--json'])
    expect(byTopic.lines[0]).toMatchObject({ topic: 'cli.b', kind: null, behind: 5 })
    const both = await ylog(['consumers', 'ack', 'cli-f', next, '--kind', 'transition', '--json'])
    expect(both.lines[0]).toMatchObject({ topic: 'cli.b', kind: 'transition', behind: 0 })
    const shown = await ylog(['consumers', 'get', 'cli-f'])
    expect([shown.status, shown.stdout]).toEqual([0, expect.stringMatching(/^cli-f c1\.\S+ behind=0 topic=cli\.b kind=transition acked /)])
    const cleared = await ylog(['consumers', 'ack', 'cli-f', next, '--any-topic', '--any-kind', '--json'])
    expect(cleared.lines[0]).toMatchObject({ topic: null, kind: null, behind: expect.any(Number) })
    for (const bad of [
      ['--kind', 'nonsense'],
      ['--topic', 'cli.b', '--any-topic'],
    ]) {
      const r = await ylog(['consumers', 'ack', 'cli-f', next, ...bad, '--json'])
      expect([r.status, r.lines[0]?.error]).toEqual([2, expect.objectContaining({ code: 'USAGE' })])
    }
  })

  it('verifies a running node, exports NDJSON, and reports errors as JSON with documented exit codes', async () => {
    const verified = await ylog(['verify', '--json'])
    expect(verified.status).toBe(0)
    expect(verified.lines[0]).toEqual({ node: node.node, entries: expect.any(Number) })
    const exported = await ylog(['export', '--topic', 'cli.b'])
    expect(
      exported.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).topic),
    ).toEqual(Array(5).fill('cli.b'))
    const refused = await ylog(['append', '--json', '--topic', '', '--data', '1'])
    expect([refused.status, refused.lines[0]]).toEqual([1, { error: { code: 'BAD_TOPIC', message: expect.any(String) } }])
    const unreachable = await ylog(['heads', '--json'], undefined, { YLOG_URL: 'http://127.0.0.1:1' })
    expect([unreachable.status, (unreachable.lines[0]?.error as { code: string } | undefined)?.code]).toEqual([3, 'NETWORK'])
    const usage = await ylog(['read', '--limit', 'lots', '--json'])
    expect([usage.status, (usage.lines[0]?.error as { code: string } | undefined)?.code]).toEqual([2, 'USAGE'])
    expect((await ylog(['frobnicate'])).status).toBe(2)
  })

  it('creates a key and prints a data directory id; verifies a stopped data directory offline', async () => {
    const data = tempDir()
    const made = await ylog(['keygen', '--data', data, '--json'])
    expect(made.lines[0]?.node).toMatch(/^[0-9a-f]{64}$/)
    expect((await ylog(['id', '--data', data])).stdout.trim()).toBe(made.lines[0]?.node)
    expect((await ylog(['keygen', '--data', data])).status).toBe(2)
    const missing = await ylog(['verify', '--data', data, '--json'])
    expect([missing.status, (missing.lines[0]?.error as { code: string } | undefined)?.code]).toEqual([1, 'NO_STORE'])
  })
})
