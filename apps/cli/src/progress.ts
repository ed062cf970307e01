/**
 * Progress of long work (export, import, verify), on stderr so it never
 * mixes with results or exported lines: a carriage-return status line when
 * stdout and stderr are terminals, JSON lines (`{"progress":{…}}`, about one
 * a second) with --json, and nothing otherwise: never both, and nothing
 * animated into a pipe or a file.
 */
type Tty = Pick<NodeJS.WriteStream, 'isTTY'>
type Sink = Pick<NodeJS.WriteStream, 'isTTY' | 'write'>

export class Progress {
  readonly #mode: 'line' | 'json' | 'off'
  readonly #err: Sink
  readonly #command: string
  #started = performance.now()
  #phase: string
  #total: number | undefined
  #done = 0
  // When the last figure was shown: the first one is shown at once.
  #shown = Number.NEGATIVE_INFINITY
  #width = 0

  constructor(options: { json: boolean; command: string; phase: string; total?: number; stdout?: Tty; stderr?: Sink }) {
    const stderr = options.stderr ?? process.stderr
    const stdout = options.stdout ?? process.stdout
    this.#mode = options.json ? 'json' : stdout.isTTY === true && stderr.isTTY === true ? 'line' : 'off'
    this.#err = stderr
    this.#command = options.command
    this.#phase = options.phase
    this.#total = options.total
  }

  /** Starts another phase (e.g. verifying, then importing), counting from 0. */
  phase(name: string, total?: number): void {
    this.#clear()
    this.#phase = name
    this.#total = total
    this.#done = 0
    this.#shown = Number.NEGATIVE_INFINITY
    this.#started = performance.now()
  }

  add(n: number): void {
    this.#done += n
    if (this.#mode === 'off') return
    const now = performance.now()
    if (now - this.#shown < (this.#mode === 'json' ? 1000 : 100)) return
    this.#shown = now
    this.#show(false)
  }

  /** The phase's last figure (JSON) or clears the status line. */
  end(): void {
    if (this.#mode === 'json') this.#show(true)
    this.#clear()
  }

  #show(done: boolean): void {
    const seconds = (performance.now() - this.#started) / 1000
    const rate = seconds > 0 ? Math.round(this.#done / seconds) : 0
    if (this.#mode === 'json') {
      const total = this.#total === undefined ? {} : { total: this.#total }
      const progress = { command: this.#command, phase: this.#phase, done: this.#done, ...total, rate, ...(done ? { end: true } : {}) }
      this.#err.write(`${JSON.stringify({ progress })}\n`)
      return
    }
    const percent = this.#total === undefined ? 0 : Math.floor((100 * this.#done) / Math.max(1, this.#total))
    const of = this.#total === undefined ? '' : ` of ${this.#total.toLocaleString('en')} (${percent}%)`
    const text = `${this.#phase} ${this.#done.toLocaleString('en')}${of}, ${rate.toLocaleString('en')}/s`
    this.#err.write(`\r${text.padEnd(this.#width)}`)
    this.#width = text.length
  }

  #clear(): void {
    if (this.#mode !== 'line' || this.#width === 0) return
    this.#err.write(`\r${' '.repeat(this.#width)}\r`)
    this.#width = 0
  }
}
