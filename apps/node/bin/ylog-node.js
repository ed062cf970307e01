#!/usr/bin/env node
// The `ylog-node` command, and what `npm start` runs: the daemon from its
// TypeScript source, as `node --conditions=ylog-source --import tsx
// apps/node/src/main.ts <args>`. Node has no way to add a condition or a
// loader to a process already running (worker threads inherit them only
// from the command line), so this starts the daemon as a child process and
// stays beside it for as long as it runs.
//
// The daemon stops when this launcher goes, whatever way it goes:
// - SIGINT, SIGTERM or SIGHUP here closes the IPC channel to the child,
//   which the daemon treats as SIGTERM. (Ctrl-C signals the whole process
//   group; passing the signal on as well would make it the daemon's second
//   one, which means "exit at once".)
// - A launcher killed outright closes the channel too.
// - Started by npm (`npm start`, `npx ylog-node`), the launcher's parent is a
//   shell that npm signals in its own place; the shell dies without passing
//   the signal on. So under npm the launcher also stops the daemon once its
//   parent is gone. Outside npm it does not, so `nohup ylog-node &` survives
//   its terminal.
import { spawn } from 'node:child_process'
import { constants } from 'node:os'
import { fileURLToPath } from 'node:url'

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url))
// Resolved from this file, so the command works from any working directory.
const tsx = import.meta.resolve('tsx')
const PARENT_CHECK_MS = 250

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
// The daemon's exit status is the command's; a daemon killed by a signal exits like a shell reports it, 128 + n.
child.on('exit', (code, signal) => process.exit(code ?? 128 + (signal === null ? 0 : constants.signals[signal])))
