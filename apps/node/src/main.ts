import { YlogError } from '@ylog/core'
import { pino } from 'pino'
import { loadConfig } from './config.js'
import { USAGE } from './usage.js'
import { checkDataDir } from './check.js'
import { startNode, type NodeHandle } from './node.js'

// Exit codes: 0 clean stop, 1 could not start or stop (store, key, address), 2 bad configuration, 130 second signal.
const EXIT_FAILURE = 1
const EXIT_CONFIG = 2
const EXIT_INTERRUPTED = 130

async function main(): Promise<void> {
  // Started by the ylog-node launcher (bin/ylog-node.js), this process has an IPC channel to it; the channel must not
  // keep a process that is done (--help, --check) alive.
  process.channel?.unref()
  const argv = process.argv.slice(2)
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`)
    return
  }
  if (argv.includes('--check')) {
    try {
      const report = await checkDataDir(
        loadConfig(
          argv.filter((a) => a !== '--check'),
          process.env,
        ),
      )
      process.stdout.write(`${JSON.stringify(report)}\n`)
      if (!report.ok) {
        for (const problem of report.problems) process.stderr.write(`ylog: ${problem}\n`)
        process.exit(EXIT_FAILURE)
      }
      return
    } catch (err) {
      fail(err)
    }
  }
  // Synchronous writes: the last lines before an exit must not be lost in a buffer.
  const logger = pino({ base: { pid: process.pid } }, pino.destination({ dest: 1, sync: true }))

  // Handlers go in before anything is announced: whoever reads "ready" may signal at once.
  let handle: NodeHandle | undefined
  let stopping = false
  let signalled: NodeJS.Signals | undefined
  let exitCode = 0
  const close = (node: NodeHandle): void => {
    node.close().then(
      () => {
        logger.info('stopped')
        process.exit(exitCode)
      },
      (err: unknown) => {
        process.stderr.write(`ylog: shutdown failed: ${(err as Error).message}\n`)
        process.exit(EXIT_FAILURE)
      },
    )
  }
  const shutDown = (cause: { signal: NodeJS.Signals } | { launcher: string }): void => {
    if (stopping) return
    stopping = true
    logger.info(cause, 'shutting down: finishing in-flight requests and the last commit')
    // While starting, the node is closed as soon as it is up.
    if (handle !== undefined) close(handle)
  }
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled !== undefined) {
      process.stderr.write(`ylog: second ${signal}, exiting at once; commits not yet finished are lost (acknowledged entries are safe)\n`)
      process.exit(EXIT_INTERRUPTED)
    }
    signalled = signal
    shutDown({ signal })
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  // The launcher closes the channel when it is stopped or gone and passes no signal on. A Ctrl-C reaches this
  // process too, so a signal after the channel closed is the first signal, not the second.
  process.once('disconnect', () => shutDown({ launcher: 'closed its channel (stopped or gone)' }))

  try {
    const config = loadConfig(argv, process.env)
    handle = await startNode(config, logger)
  } catch (err) {
    fail(err)
  }
  if (stopping) {
    close(handle)
    return
  }
  const volatile = handle.volatile ? { store: 'memory', note: 'nothing survives a restart' } : {}
  logger.info({ url: handle.url, port: handle.port, node: handle.node, replaySeconds: handle.replaySeconds, ...volatile }, 'ready')
  // A store that failed for a reason that does not pass (permissions, a failed fsync) stops the node; a full disk does not.
  const running = handle
  running.durable.onHealth((health) => {
    if (health.state !== 'stopped' || stopping) return
    const advice = 'stopping; fix the cause and start the node again: it replays what was committed'
    process.stderr.write(`ylog: ${health.error?.message ?? 'the store failed'}\nylog: ${advice}\n`)
    exitCode = EXIT_FAILURE
    stopping = true
    close(running)
  })
}

/** One line on stderr; a stack only for errors nobody anticipated. */
function fail(err: unknown): never {
  if (err instanceof YlogError && err.code === 'CONFIG') {
    process.stderr.write(`ylog: ${err.message}\nylog: see --help\n`)
    process.exit(EXIT_CONFIG)
  }
  if (err instanceof YlogError) {
    process.stderr.write(`ylog: ${err.message}\n`)
    process.exit(EXIT_FAILURE)
  }
  process.stderr.write(`ylog: unexpected error while starting: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exit(EXIT_FAILURE)
}

await main()
