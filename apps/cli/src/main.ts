// The `ylog` command (bin/ylog.js starts this under tsx). Exit codes: see program.ts.
import { EXIT } from './output.js'
import { run } from './program.js'

// A reader that stops early (`ylog read | head`) closes the pipe: stop quietly, as a Unix tool does on SIGPIPE
// (which Node ignores, so each write would fail with EPIPE and the first one would crash the command).
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err
    process.exit(EXIT.PIPE_CLOSED)
  })
}

// Started by the launcher, this process has an IPC channel to it, which must not keep a finished command alive.
process.channel?.unref()
const code = await run(process.argv.slice(2))
// `serve` keeps running: the node exits by itself when it stops.
if (process.argv[2] !== 'serve') process.exitCode = code
