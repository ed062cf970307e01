// Runs inside a worker thread: one half of ylog import's first pass (verifyRange), reporting lines as it goes.
import { parentPort, workerData } from 'node:worker_threads'
import { verifyRange } from './verify-pass.js'

const port = parentPort
if (port === null) throw new Error('verify-worker.ts must run in a worker thread')
const { path, file, range } = workerData as { path: string; file: string; range: { start: number; end: number } }
const result = await verifyRange(path, file, range, (n) => port.postMessage({ type: 'lines', n }))
port.postMessage({ type: 'done', result })
