// The `ylog` command (bin/ylog.js starts this under tsx). Exit codes: see program.ts.
import { run } from './program.js'

// Started by the launcher, this process has an IPC channel to it, which must not keep a finished command alive.
process.channel?.unref()
const code = await run(process.argv.slice(2))
// `serve` keeps running: the node exits by itself when it stops.
if (process.argv[2] !== 'serve') process.exitCode = code
