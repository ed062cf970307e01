// Shared by the sync suite (sync.ts) and its child processes (sync-node.ts,
// sync-baseline.ts): a request/reply channel over Node's IPC, and one clock.
import { fork, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'

export type Args = Record<string, number | string | boolean>
type Handler = (args: Args) => unknown

interface Request {
  id: number
  cmd: string
  args: Args
}

interface Reply {
  id: number
  ok: boolean
  value?: unknown
  error?: string
}

/**
 * Milliseconds on CLOCK_MONOTONIC (process.hrtime), which every process on
 * the machine shares: a time taken in one child compares with one taken in
 * another, so one-way latencies need no clock sync.
 */
export function now(): number {
  return Number(process.hrtime.bigint()) / 1e6
}

/** Child side: answers requests with `handlers` and announces itself with `info`. */
export function serve(info: Record<string, unknown>, handlers: Record<string, Handler>): void {
  const send = (message: Reply | { ready: Record<string, unknown> }): void => {
    process.send?.(message)
  }
  process.on('message', (message: Request) => {
    const handler = handlers[message.cmd]
    if (handler === undefined) {
      send({ id: message.id, ok: false, error: `unknown command ${message.cmd}` })
      return
    }
    Promise.resolve()
      .then(() => handler(message.args))
      .then(
        (value) => send({ id: message.id, ok: true, value }),
        (err: unknown) => send({ id: message.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
      )
  })
  // The parent going away (a failed suite) takes the child with it.
  process.on('disconnect', () => process.exit(0))
  send({ ready: info })
}

/** Parent side: one child process and its request channel. */
export class Child {
  readonly process: ChildProcess
  readonly info: Record<string, unknown>
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>()
  #next = 0
  readonly #exited: Promise<number | null>

  private constructor(child: ChildProcess, info: Record<string, unknown>, exited: Promise<number | null>) {
    this.process = child
    this.info = info
    this.#exited = exited
    child.on('message', (message: Reply) => {
      const waiter = this.#pending.get(message.id)
      if (waiter === undefined) return
      this.#pending.delete(message.id)
      if (message.ok) waiter.resolve(message.value)
      else waiter.reject(new Error(message.error))
    })
    void exited.then((code) => {
      for (const w of this.#pending.values()) w.reject(new Error(`child exited (${code}) with a request open`))
      this.#pending.clear()
    })
  }

  /** Forks `bench/suites/<script>` with this process's loader flags; resolves once it is ready. */
  static start(script: string, args: string[], timeoutMs = 60_000): Promise<Child> {
    const child = fork(join(import.meta.dirname, script), args, {
      // tsx and the source condition, without the parent's 12 GB heap flag.
      execArgv: [
        ...process.execArgv.filter((a) => !a.startsWith('--max-old-space-size')),
        ...(process.env.YLOG_BENCH_SYNC_PROF === '1' ? ['--cpu-prof', '--cpu-prof-dir=/tmp/ylog-sync-prof'] : []),
      ],
      // The child's stdout would corrupt the suite's JSON line: send it to stderr.
      stdio: ['ignore', 2, 2, 'ipc'],
      serialization: 'advanced',
    })
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code, signal) => resolve(code ?? (signal === null ? null : 128))),
    )
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        reject(new Error(`${script} did not start within ${timeoutMs} ms`))
      }, timeoutMs)
      child.once('message', (message: { ready?: Record<string, unknown> }) => {
        clearTimeout(timer)
        if (message.ready === undefined) reject(new Error(`${script} spoke before it was ready`))
        else resolve(new Child(child, message.ready, exited))
      })
      void exited.then((code) => {
        clearTimeout(timer)
        reject(new Error(`${script} exited (${code}) before it was ready`))
      })
    })
  }

  call<T>(cmd: string, args: Args = {}): Promise<T> {
    const id = this.#next++
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject })
      this.process.send({ id, cmd, args } satisfies Request)
    })
  }

  /** Asks the child to stop cleanly ('stop'), then waits for it to exit; kills it after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs)
    await this.call('stop').catch(() => undefined)
    await this.#exited
    clearTimeout(timer)
  }
}

/**
 * Calls `issue(i)` for i = 0 .. total-1 at `rate` per second from now (a 1 ms
 * timer catches up in bursts when the loop is late) and returns each call's
 * time: latencies start at the actual call, not the schedule.
 */
export function pace(rate: number, total: number, issue: (i: number) => void): Promise<Float64Array> {
  const calls = new Float64Array(total)
  const t0 = now()
  let issued = 0
  return new Promise((resolve) => {
    const tick = (): void => {
      const due = Math.min(total, Math.floor(((now() - t0) * rate) / 1000) + 1)
      while (issued < due) {
        calls[issued] = now()
        issue(issued++)
      }
      if (issued < total) setTimeout(tick, 1)
      else resolve(calls)
    }
    tick()
  })
}
