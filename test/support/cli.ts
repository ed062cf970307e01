// Runs the `ylog` command as a child process, the way users do (tsx, the ylog-source condition).
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { ROOT } from './node-process.js'

const MAIN = join(ROOT, 'apps', 'cli', 'src', 'main.ts')

export interface Run {
  status: number | null
  stdout: string
  stderr: string
  /** stdout's JSON lines. */
  lines: Array<Record<string, unknown>>
}

/** `ylog <args>` with `input` on stdin; YLOG_URL is `url` unless env says otherwise. */
export function runYlog(url: string, args: string[], input?: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const child = spawn(process.execPath, ['--conditions=ylog-source', '--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, YLOG_URL: url, NO_COLOR: '1', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  child.stdin.end(input ?? '')
  return new Promise((resolve) =>
    child.on('close', (status) => {
      const lines = stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
      resolve({ status, stdout, stderr, lines })
    }),
  )
}
