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
import { fileURLToPath } from 'node:url'
import { launch } from './launch.js'

launch(fileURLToPath(new URL('../src/main.ts', import.meta.url)))
