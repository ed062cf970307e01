// Child of core.ts: load a snapshot into a fresh LogDoc, answer heads, then verify chains.
import { readFileSync } from 'node:fs'
import { LogDoc } from '@ylog/core'

const bytes = readFileSync(process.argv[2] as string)
const t = performance.now()
const log = new LogDoc()
log.loadTrusted(bytes, 'v2')
const heads = log.heads()
const seconds = (performance.now() - t) / 1000
const v = performance.now()
const check = log.verifyChains()
const verifySeconds = (performance.now() - v) / 1000
if (!check.ok) throw new Error('chains did not verify')
console.log(JSON.stringify({ seconds, verifySeconds, length: [...heads.values()].reduce((n, h) => n + h.length, 0) }))
