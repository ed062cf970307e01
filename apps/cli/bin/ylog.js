#!/usr/bin/env node
// The `ylog` command: the CLI from its TypeScript source under tsx, through
// the same launcher as `ylog-node` (so `ylog serve` stops with whatever
// started it, as `npm start` does).
import { fileURLToPath } from 'node:url'
import { launch } from '@ylog/node/launch'

launch(fileURLToPath(new URL('../src/main.ts', import.meta.url)))
