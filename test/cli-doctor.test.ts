// `ylog doctor` against one real node process and its data directory: every exit code, both formats.
import { chmodSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runYlog } from './support/cli.js'
import { startNode, tempDir, type RunningNode } from './support/node-process.js'

const data = join(tempDir(), 'data')
let node: RunningNode

interface Report {
  status: string
  findings: Array<{ check: string; level: string; message: string; advice?: string }>
}

beforeAll(async () => {
  // Open membership and a peer that never answers: a warning and a problem to find.
  node = await startNode(['--data', data, '--open-membership', '--peer', 'ws://127.0.0.1:9/sync'])
})
afterAll(async () => {
  await node.stop()
})

const levels = (report: Report, level: string): string[] => report.findings.filter((f) => f.level === level).map((f) => f.check)

describe('ylog doctor', () => {
  it('finds what is wrong with a running node and says what to do: problems exit 1', async () => {
    const r = await runYlog(node.url, ['doctor', '--json'])
    expect(r.status).toBe(1)
    const report = r.lines[0] as unknown as Report
    expect(report.status).toBe('problems')
    expect(levels(report, 'problem')).toEqual(['peers'])
    expect(levels(report, 'warning')).toEqual(['membership'])
    expect(levels(report, 'ok')).toEqual(expect.arrayContaining(['node', 'clock', 'forks', 'replay']))
    expect(report.findings.find((f) => f.check === 'peers')?.advice).toMatch(/firewall/)
    const text = await runYlog(node.url, ['doctor'])
    expect(text.stdout).toMatch(/PROBLEM peers: peer ws:\/\/127\.0\.0\.1:9\/sync is unreachable/)
    expect(text.stdout.trim().split('\n').at(-1)).toBe('doctor: problems')
  })

  it('checks the data directory beside its live node without opening the store: warnings exit 4', async () => {
    chmodSync(join(data, 'ylog.db'), 0o644)
    const r = await runYlog(node.url, ['doctor', '--data', data, '--format', 'json'])
    expect(r.status).toBe(4)
    const report = r.lines[0] as unknown as Report
    expect(levels(report, 'warning')).toEqual(['store'])
    expect(report.findings.find((f) => f.check === 'store')?.advice).toBe(`chmod 600 ${join(data, 'ylog.db')}`)
    const lock = report.findings.find((f) => f.check === 'lock')
    expect(lock).toMatchObject({ level: 'ok', message: expect.stringContaining(String(node.process.pid)) })
  })

  it("opens a stopped node's store (healthy: exit 0), and names a readable key and an unreachable node (exit 1)", async () => {
    await node.stop()
    chmodSync(join(data, 'ylog.db'), 0o600)
    const healthy = await runYlog(node.url, ['doctor', '--data', data])
    expect(healthy.status).toBe(0)
    expect(healthy.stdout).toMatch(/ok +replay: a start replays in/)
    expect(healthy.stdout.trim().split('\n').at(-1)).toBe('doctor: healthy')

    chmodSync(join(data, 'node.key'), 0o644)
    const leaky = await runYlog(node.url, ['doctor', '--data', data, '--deep', '--json'])
    expect(leaky.status).toBe(1)
    expect(levels(leaky.lines[0] as unknown as Report, 'problem')).toEqual(['key-file', 'integrity'])
    chmodSync(join(data, 'node.key'), 0o600)

    const gone = await runYlog(node.url, ['doctor', '--json'])
    expect([gone.status, (gone.lines[0] as unknown as Report).findings]).toMatchObject([1, [{ check: 'node', level: 'problem' }]])
    expect((await runYlog(node.url, ['doctor', '--format', 'xml'])).status).toBe(2)
  })
})
