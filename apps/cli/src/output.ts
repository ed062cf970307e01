import { YlogError } from '@ylog/core/errors'

/**
 * Exit codes, the same for every command (a script can trust them):
 * 0 done; 1 failed: the node refused, or verify/doctor found damage or problems; 2 usage error;
 * 3 the node could not be reached or did not answer (a retry may help); 4 doctor found warnings only;
 * 130 interrupted.
 */
export const EXIT = { OK: 0, FAILED: 1, USAGE: 2, UNREACHABLE: 3, WARNINGS: 4, INTERRUPTED: 130, PIPE_CLOSED: 141 } as const

/** A mistake in how the command was called: exit 2. */
export class UsageError extends Error {}

/** Where results go: text for people, or with --json one JSON object per line (errors included) for scripts. */
export class Output {
  readonly json: boolean
  readonly color: boolean

  constructor(options: { json: boolean; stdout?: NodeJS.WriteStream }) {
    this.json = options.json
    const out = options.stdout ?? process.stdout
    // https://no-color.org: any non-empty NO_COLOR turns colour off; so does a pipe.
    this.color = !options.json && out.isTTY === true && (process.env.NO_COLOR ?? '') === ''
  }

  /** One result: JSON as a line, or the text `human` gives. */
  result(value: unknown, human: (value: never) => string = (v) => JSON.stringify(v)): void {
    process.stdout.write(`${this.json ? JSON.stringify(value) : (human as (v: unknown) => string)(value)}\n`)
  }

  /** A line for people only; nothing with --json. */
  note(text: string): void {
    if (!this.json) process.stderr.write(`${text}\n`)
  }

  dim(text: string): string {
    return this.color ? `\x1b[2m${text}\x1b[22m` : text
  }

  red(text: string): string {
    return this.color ? `\x1b[31m${text}\x1b[39m` : text
  }

  /** Reports a failure and returns the exit code it stands for. */
  fail(err: unknown): number {
    const { code, message, exit } = describeFailure(err)
    if (this.json) process.stdout.write(`${JSON.stringify({ error: { code, message } })}\n`)
    else process.stderr.write(`ylog: ${message}${code === 'USAGE' ? '\nylog: see --help' : ''}\n`)
    return exit
  }
}

export function describeFailure(err: unknown): { code: string; message: string; exit: number } {
  if (err instanceof UsageError) return { code: 'USAGE', message: err.message, exit: EXIT.USAGE }
  if (err instanceof YlogError) {
    const unreachable = err.code === 'NETWORK' || err.code === 'TIMEOUT'
    // Which node a command talks to is the first thing to check when none answers.
    const message = unreachable ? `${err.message}; --url or YLOG_URL names the node` : err.message
    return { code: err.code, message, exit: err.code === 'CONFIG' ? EXIT.USAGE : unreachable ? EXIT.UNREACHABLE : EXIT.FAILED }
  }
  const message = err instanceof Error ? err.message : String(err)
  return { code: 'INTERNAL', message, exit: EXIT.FAILED }
}

/** Parses a whole number option, or says which option and what is allowed. */
export function wholeNumber(name: string, min = 0, max = Number.MAX_SAFE_INTEGER): (text: string) => number {
  return (text) => {
    const n = /^[0-9]+$/.test(text) ? Number(text) : Number.NaN
    if (!Number.isSafeInteger(n) || n < min || n > max)
      throw new UsageError(`${name} ${JSON.stringify(text)} is not a whole number ${min}-${max}`)
    return n
  }
}
