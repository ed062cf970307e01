import { existsSync, statSync } from 'node:fs'
import type { Command } from '@commander-js/extra-typings'
import { YlogError } from '@ylog/core/errors'
import type { GlobalOptions } from '../context.js'
import { defaultCheckpointDir } from '../forward/checkpoint.js'
import { ForwardStopped, type LineSource, type SourceProgress } from '../forward/forwarder.js'
import { lineToEvent } from '../forward/line-event.js'
import { DEFAULT_RETRY } from '../forward/retry.js'
import { runForward } from '../forward/run.js'
import { filesIn, FollowedFile, StdinSource } from '../forward/sources.js'
import { EXIT, Output, UsageError, wholeNumber } from '../output.js'

const HELP = `
Each line is one JSON object; its "data" field is the event's data, or the whole object when it has none. The topic
is --topic or the line's "topic", the kind --kind or its "kind" (default event); the event's own time (the "time"
field, --time-field to change; ms or ISO 8601) is kept as the entry's "time" (its "at" is the node's append time).
Exactly once: each batch is recorded in the checkpoint with its Idempotency-Key before it is sent, and the
checkpoint moves past it only after the node's answer; after a crash the same batch is sent again first and the
node answers it as a replay (counted as duplicates). Checkpoints: one file per source and target in --checkpoint-dir
(default $XDG_STATE_HOME/ylog/forward, else ~/.local/state/ylog/forward).
Exit 0 done (or stopped by SIGTERM/SIGINT after the batch in flight); 1 the node refused a batch (its code and
message are printed; the checkpoint stays before it); 3 the node could not be reached within --max-retries.`

export function forwardCommands(program: Command<[], GlobalOptions>): void {
  program
    .command('forward')
    .description('forward NDJSON lines from files (followed like tail -F), a directory or stdin to the node, exactly once')
    .argument('[sources...]', 'files, directories (each file a source), or - for stdin (the default)')
    .option('--topic <topic>', 'the topic of every event (else the line\'s "topic" field)')
    .option('--kind <kind>', 'transition or event (else the line\'s "kind", else event)', kind)
    .option('--time-field <name>', "the field with the event's own time", 'time')
    .option('--batch <n>', 'events per batch, 1-1000', wholeNumber('--batch', 1, 1000), 100)
    .option(
      '--batch-bytes <n>',
      'bytes of lines per batch (the node takes 1 MiB bodies)',
      wholeNumber('--batch-bytes', 1024, 900 * 1024),
      512 * 1024,
    )
    .option('--linger <ms>', 'send a batch that is not full after this long', wholeNumber('--linger', 0, 60_000), 200)
    .option('--exit-at-end', 'stop at the current end of every source instead of following it')
    .option('--from-end', 'first run only: skip what the sources hold now')
    .option('--checkpoint-dir <dir>', 'where checkpoints are kept', defaultCheckpointDir())
    .option('--dead-letter <file>', 'write refused lines here, record the skipped range on the node as a gap entry, and go on')
    .option(
      '--max-retries <n>',
      'retries of a batch after transient failures (default: for as long as they last)',
      wholeNumber('--max-retries', 0),
    )
    .option('--timeout <ms>', 'per request', wholeNumber('--timeout', 100), 30_000)
    .option('--metrics-port <port>', 'serve Prometheus metrics on 127.0.0.1:<port>/metrics', wholeNumber('--metrics-port', 1, 65535))
    .addHelpText('after', HELP)
    .action(async (args, options, command) => {
      const globals = command.optsWithGlobals()
      const out = new Output({ json: globals.json === true })
      const notice = (text: string): void => void process.stderr.write(out.json ? `${JSON.stringify({ notice: text })}\n` : `${text}\n`)
      const follow = options.exitAtEnd !== true
      const specs = args.length === 0 ? ['-'] : args
      const sources: LineSource[] = []
      const dirs: string[] = []
      for (const spec of specs) {
        if (spec === '-') sources.push(new StdinSource(process.stdin))
        else if (existsSync(spec) && statSync(spec).isDirectory()) {
          dirs.push(spec)
          for (const file of filesIn(spec)) sources.push(new FollowedFile(file, notice))
        } else if (existsSync(spec) || follow) sources.push(new FollowedFile(spec, notice))
        else throw new UsageError(`${spec}: no such file (without --exit-at-end a missing file is waited for)`)
      }
      const mapping = { topic: options.topic, kind: options.kind as 'event' | 'transition' | undefined, timeField: options.timeField }
      const controller = new AbortController()
      const stop = (): void => controller.abort()
      process.once('SIGTERM', stop)
      process.once('SIGINT', stop)
      const status = statusLine(out)
      try {
        const results = await runForward(
          sources,
          {
            url: globals.url,
            token: globals.token,
            timeoutMs: options.timeout,
            retry: { ...DEFAULT_RETRY, maxRetries: options.maxRetries ?? Number.POSITIVE_INFINITY },
            batchCount: options.batch,
            batchBytes: options.batchBytes,
            lingerMs: options.linger,
            follow,
            fromEnd: options.fromEnd === true,
            toEvent: (text) => lineToEvent(text, mapping),
            checkpointDir: options.checkpointDir,
            deadLetterFile: options.deadLetter,
            gapTopic: options.topic,
            metricsPort: options.metricsPort,
            signal: controller.signal,
            onNotice: notice,
            onProgress: status.update,
          },
          (add) => watchDirs(dirs, new Set(sources.map((s) => s.name)), add, notice, controller.signal, follow),
        )
        status.done()
        const total = { forwarded: 0, duplicates: 0, retries: 0, skipped: 0 }
        for (const r of results) {
          total.forwarded += r.forwarded
          total.duplicates += r.duplicates
          total.retries += r.retries
          total.skipped += r.skipped
        }
        const text = (t: typeof total): string =>
          `forwarded ${t.forwarded}, duplicates ${t.duplicates}, retries ${t.retries}, skipped ${t.skipped}`
        out.result({ done: true, ...total, sources: results.length }, text)
      } catch (err) {
        status.done()
        if (!(err instanceof ForwardStopped)) throw err
        if (YlogError.isCode(err.code)) throw new YlogError(err.code, err.message)
        process.exitCode = EXIT.FAILED
        out.fail(new Error(`${err.code}: ${err.message}`))
      } finally {
        process.off('SIGTERM', stop)
        process.off('SIGINT', stop)
      }
    })
}

/** A status line on a terminal (stderr), JSON lines with --json (stdout, at most one a second), nothing otherwise. */
function statusLine(out: Output): { update(all: SourceProgress[]): void; done(): void } {
  const tty = !out.json && process.stderr.isTTY === true
  let last = 0
  let shown = false
  return {
    update(all) {
      const now = Date.now()
      if ((!tty && !out.json) || now - last < 1000) return
      last = now
      const sum = (f: (p: SourceProgress) => number): number => all.reduce((a, p) => a + f(p), 0)
      const pick = ({ source, forwarded, duplicates, retries, skipped, lagBytes, lagLines }: SourceProgress): object => ({
        source,
        forwarded,
        duplicates,
        retries,
        skipped,
        lagBytes,
        lagLines,
      })
      if (out.json) process.stdout.write(`${JSON.stringify({ progress: all.map(pick) })}\n`)
      else {
        shown = true
        const counts = `forwarded ${sum((p) => p.forwarded)}  duplicates ${sum((p) => p.duplicates)}  retries ${sum((p) => p.retries)}`
        process.stderr.write(`\r\x1b[K${counts}  behind ${sum((p) => p.lagBytes)} B / ${sum((p) => p.lagLines)} lines`)
      }
    },
    done() {
      if (shown) process.stderr.write('\n')
    },
  }
}

/** New files in followed directories become sources (announced with +), polled once a second. */
function watchDirs(
  dirs: string[],
  known: Set<string>,
  add: (s: LineSource) => void,
  notice: (t: string) => void,
  signal: AbortSignal,
  follow: boolean,
): void {
  if (dirs.length === 0 || !follow) return
  const timer = setInterval(() => {
    if (signal.aborted) return clearInterval(timer)
    for (const dir of dirs) {
      for (const file of filesIn(dir)) {
        if (known.has(file)) continue
        known.add(file)
        notice(`+ ${file}`)
        add(new FollowedFile(file, notice))
      }
    }
  }, 1000)
  signal.addEventListener('abort', () => clearInterval(timer), { once: true })
}

function kind(text: string): string {
  if (text !== 'transition' && text !== 'event') throw new UsageError(`--kind ${JSON.stringify(text)}: use transition or event`)
  return text
}
