// Runs the real daemon (apps/node) as a child process, the way users do.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const ROOT = join(import.meta.dirname, '..', '..')
const MAIN = join(ROOT, 'apps', 'node', 'src', 'main.ts')

export interface RunningNode {
  url: string
  node: string
  process: ChildProcess
  logs: Array<Record<string, unknown>>
  stderr: () => string
  exited: Promise<number | null>
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>
  /** kill -9, no goodbye. */
  crash(): Promise<void>
}

export function tempDir(prefix = 'ylog-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

/** Starts the daemon and resolves once it logs "ready"; rejects if it exits first. */
export function startNode(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 30_000): Promise<RunningNode> {
  const child = spawn(process.execPath, ['--conditions=ylog-source', '--import', 'tsx', MAIN, '--port', '0', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  return attach(child, timeoutMs)
}

/** Runs the daemon expecting it to fail at start; resolves with its exit code and stderr. */
export async function failingStart(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--conditions=ylog-source', '--import', 'tsx', MAIN, '--port', '0', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
  // A node that should have refused but started would run forever: stop it and say so.
  const deadline = setTimeout(() => {
    stderr += `\n(still running after ${FAILING_START_DEADLINE_MS} ms: the node started instead of refusing)`
    child.kill('SIGKILL')
  }, FAILING_START_DEADLINE_MS)
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)))
  clearTimeout(deadline)
  return { code, stderr }
}

const FAILING_START_DEADLINE_MS = 15_000

export function attach(child: ChildProcess, timeoutMs: number): Promise<RunningNode> {
  const logs: Array<Record<string, unknown>> = []
  let stderr = ''
  let buffered = ''
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : null))))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`node did not become ready in ${timeoutMs} ms; stderr: ${stderr}`))
    }, timeoutMs)
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
    child.stdout?.on('data', (d: Buffer) => {
      buffered += d.toString()
      const lines = buffered.split('\n')
      buffered = lines.pop() ?? ''
      for (const line of lines) {
        let record: Record<string, unknown>
        try {
          record = JSON.parse(line) as Record<string, unknown>
        } catch {
          continue
        }
        logs.push(record)
        if (record.msg === 'ready') {
          clearTimeout(timer)
          resolve({
            url: record.url as string,
            node: record.node as string,
            process: child,
            logs,
            stderr: () => stderr,
            exited,
            stop: async () => {
              child.kill('SIGTERM')
              return exited
            },
            crash: async () => {
              child.kill('SIGKILL')
              await exited
            },
          })
        }
      }
    })
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`node exited with ${code} before it was ready; stderr: ${stderr}`))
    })
  })
}

export interface Appended {
  node: string
  seq: number
  id: string
  hash: string
}

export async function postEvent(url: string, data: unknown, topic = 'test'): Promise<Appended> {
  const res = await fetch(`${url}/api/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ topic, kind: 'event', data }),
  })
  if (res.status !== 201) throw new Error(`POST answered ${res.status}: ${await res.text()}`)
  return (await res.json()) as Appended
}

export interface WireEntry {
  node: string
  seq: number
  prev: string
  hash: string
  at: number
  topic: string
  kind: string
  data: unknown
  sig: string
}

/** Every entry the node serves, paging with its cursors. */
export async function readAll(url: string): Promise<WireEntry[]> {
  const all: WireEntry[] = []
  let after = ''
  for (;;) {
    const res = await fetch(`${url}/api/events?limit=1000${after ? `&after=${after}` : ''}`)
    if (res.status !== 200) throw new Error(`GET answered ${res.status}: ${await res.text()}`)
    const page = (await res.json()) as { entries: WireEntry[]; next: string }
    all.push(...page.entries)
    if (page.entries.length === 0) return all
    after = page.next
  }
}

export { seededRandom } from '@ylog/core/testing'
