// Starts a TypeScript entry point as a child process under tsx with the
// ylog-source condition, and stays beside it (see ylog-node.js for why and
// how the child stops with this process). Shared by the `ylog-node` and
// `ylog` commands.
import { spawn } from 'node:child_process'
import { constants } from 'node:os'

// Resolved from this file, so the command works from any working directory.
const tsx = import.meta.resolve('tsx')
const PARENT_CHECK_MS = 250

/** Runs `main` (a path to a .ts file) with this process's arguments; exits with its status. */
export function launch(main) {
  const child = spawn(process.execPath, ['--conditions=ylog-source', '--import', tsx, main, ...process.argv.slice(2)], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
  })

  const release = () => {
    if (child.connected) child.disconnect()
  }
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, release)

  if (process.env.npm_lifecycle_event !== undefined) {
    const parent = process.ppid
    const watch = setInterval(() => {
      if (process.ppid === parent) return
      clearInterval(watch)
      release()
    }, PARENT_CHECK_MS)
    watch.unref()
  }

  child.on('error', (err) => {
    process.stderr.write(`ylog: cannot start ${process.execPath}: ${err.message}\n`)
    process.exit(1)
  })
  // The child's exit status is the command's; a child killed by a signal exits like a shell reports it, 128 + n.
  child.on('exit', (code, signal) => process.exit(code ?? 128 + (signal === null ? 0 : constants.signals[signal])))
}
